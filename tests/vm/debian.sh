#!/usr/bin/env bash
# In a Debian 13 guest running Debian's own kernel (scripts/test-debian): what a Debian user does.
# `apt install ./kheaders-dkms_*.deb` (KH_DEB) builds kheaders by DKMS for the running kernel and
# signs it; modprobe serves the archive and says nothing on stderr (agents read stderr as failure);
# the seed's commands build and load a module; the kernel hook builds it again; bcc from trixie's
# bpfcc-tools reads /sys/kernel/kheaders.tar.xz; last, rmmod. The guest's root is a throwaway
# overlay of the cached root, so the install leaves nothing behind.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/lib.sh"
: "${KH_DEB:?the kheaders-dkms package}"
ver=$(dpkg-deb -f "$KH_DEB" Version)
work=$(mktemp -d)
export HOME=$work
# vng mounts a tmpfs over /var/cache; a real system has it, and there the Rust files kheaders
# rebuilt for this kernel (scripts/kernel-rust, by test-debian's `make` in this root) are kept.
! mountpoint -q /var/cache || umount /var/cache

apt_install_builds_it_for_the_running_kernel() {
    ! dpkg -s kheaders-dkms >/dev/null 2>&1 || fail "kheaders-dkms installed before the test"
    # (The guest has no network; every dependency is in the root already.)
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$KH_DEB" >"$work/apt.log" 2>&1 \
        || { tail -30 "$work/apt.log" /var/lib/dkms/kheaders/"$ver"/build/make.log 2>/dev/null || :; fail "apt install failed"; }
    grep -q 'kheaders' "$work/apt.log" || fail "no kheaders in apt's output"
    case $(dkms status "kheaders/$ver" -k "$rel") in *": installed"*) ;; *) fail "dkms status: $(dkms status)" ;; esac
    want_eq "$(modinfo -F vermagic kheaders | cut -d' ' -f1)" "$rel" "vermagic"
    case $(modinfo -n kheaders) in /lib/modules/"$rel"/updates/dkms/kheaders.ko*) ;; *) fail "modinfo -n: $(modinfo -n kheaders)" ;; esac
}

# Secure Boot's case: DKMS signs with its MOK key (/var/lib/dkms/mok.pub, which a user enrolls
# with mokutil); the module's signature is by that key.
signed_with_dkmss_mok_key() {
    [ -f /var/lib/dkms/mok.pub ] || fail "no /var/lib/dkms/mok.pub"
    local signer key
    signer=$(modinfo -F signer kheaders); key=$(modinfo -F sig_key kheaders | tr -d ':' | tr 'A-F' 'a-f')
    [ -n "$signer" ] || fail "the module is not signed"
    openssl x509 -inform DER -in /var/lib/dkms/mok.pub -noout -subject | grep -qF "$signer" \
        || fail "signer '$signer' is not DKMS's key ($(openssl x509 -inform DER -in /var/lib/dkms/mok.pub -noout -subject))"
    # sig_key is the serial number of the certificate that signed (sign-file names it by issuer
    # and serial), as modinfo prints it for a module signed with the kernel's own key.
    openssl x509 -inform DER -in /var/lib/dkms/mok.pub -noout -serial | tr -d ': \n' | tr 'A-F' 'a-f' | grep -qx "serial=$key" \
        || fail "sig_key $key is not DKMS's key"
}

modprobe_serves_the_archive_silently() {
    modprobe kheaders 2>"$work/err" || fail "modprobe kheaders failed"
    [ ! -s "$work/err" ] || fail "modprobe wrote to stderr: $(cat "$work/err")"
    for f in /proc/kheaders.tar.xz /sys/kernel/kheaders.tar.xz; do
        want_eq "$(stat -c '%a %s' $f)" "444 $(wc -c <$f)" "$f mode, true size"
        want_eq "$(sha256sum <$f | cut -d' ' -f1)" "$(modinfo -F archive_sha256 kheaders)" "$f sha256"
    done
    want_eq "$(tar -xJOf /proc/kheaders.tar.xz include/config/kernel.release)" "$rel" "the archive's release"
    modprobe -r kheaders 2>"$work/err" || fail "modprobe -r kheaders failed"
    [ ! -s "$work/err" ] || fail "modprobe -r wrote to stderr: $(cat "$work/err")"
    ! loaded || fail "still loaded"
}

# The seed's commands, verbatim but for the module directory, with Debian's gcc-14.
# shellcheck disable=SC2046,SC2164
seed_commands_build_a_c_module() {
    cp -r "$here/tests/modules/hello" "$work/hello"
    modprobe kheaders
    mkdir -p $HOME/headers
    tar -xf /proc/kheaders.tar.xz -C $HOME/headers
    cd "$work/hello"
    make -C $HOME/headers M=$(pwd) modules >"$work/hello.log" 2>&1 || { tail -30 "$work/hello.log"; fail "make failed"; }
    # Debian's .kernelvariables came along: the kernel's own compiler, so no warning of ours.
    ! grep 'kheaders: this kernel was built by' "$work/hello.log" || fail "not the kernel's compiler"
    rmmod kheaders
    hello_loads "$work/hello/hello.ko"
}

# A kernel upgrade: the kernel package's hook (/etc/kernel/postinst.d/dkms) builds it for the new
# kernel. Here the same kernel, its module removed first.
kernel_hook_builds_it_again() {
    local work; work=$(mktemp -d)
    dkms unbuild "kheaders/$ver" -k "$rel" >"$work/unbuild.log" 2>&1 || { tail -20 "$work/unbuild.log" || :; fail "dkms unbuild failed"; }
    [ -z "$(find /lib/modules/"$rel" -name 'kheaders.ko*')" ] || fail "still installed after unbuild"
    /etc/kernel/postinst.d/dkms "$rel" >"$work/hook.log" 2>&1 || { tail -20 "$work/hook.log" || :; fail "the kernel hook failed"; }
    case $(dkms status "kheaders/$ver" -k "$rel") in *": installed"*) ;; *) fail "dkms status after the hook: $(dkms status)" ;; esac
    modprobe kheaders && modprobe -r kheaders || fail "modprobe after the hook"
}

# bcc with no tree to read but kheaders: the headers package and DKMS's sources hidden, for this
# test only (the kernel hook's test needs DKMS's sources). 7.x headers are written for
# -fms-extensions (CONFIG_CC_MS_EXTENSIONS), which bcc must be given as a user would give it.
bcc_reads_kheaders() {
    KH_BCC_CFLAGS=$(headers_dialect <"/boot/config-$rel"); export KH_BCC_CFLAGS
    # /usr/src back for the hook's test (DKMS's sources); /tmp stays covered (the checkout this
    # runs from is under it), so the tests after this one make their files anew.
    trap 'umount -R -l /usr/src' EXIT
    cover /usr/src; cover /tmp
    bcc_loads_kheaders_itself_and_traces
}

rmmod_gives_it_back() {
    modprobe kheaders
    rmmod kheaders 2>"$work/err" || fail "rmmod failed"
    [ ! -s "$work/err" ] || fail "rmmod wrote to stderr: $(cat "$work/err")"
    [ ! -e /proc/kheaders.tar.xz ] && [ ! -e /sys/kernel/kheaders.tar.xz ] || fail "files left after rmmod"
}

# The kernel log: no warning or error from kheaders but the taint of an out-of-tree module signed
# by a key the kernel does not trust (the MOK key is enrolled only under Secure Boot). vm-run
# fails the run on any BUG, WARNING or Oops.
kernel_log_is_clean_but_the_taint() {
    local other
    other=$(dmesg --level=emerg,alert,crit,err,warn | grep -i kheaders | grep -v -e 'loading out-of-tree module taints kernel' \
        -e 'module verification failed: signature and/or required key missing' || true)
    [ -z "$other" ] || fail "kheaders in the kernel log: $other"
}

# The kernel hook last: it builds the module again, which under TCG takes long.
run_tests apt_install_builds_it_for_the_running_kernel signed_with_dkmss_mok_key \
    modprobe_serves_the_archive_silently seed_commands_build_a_c_module rmmod_gives_it_back \
    bcc_reads_kheaders kernel_log_is_clean_but_the_taint kernel_hook_builds_it_again
