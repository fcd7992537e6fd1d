#!/usr/bin/env bash
# In-guest tests on a distribution-style kernel (the distro flavour: GCC-built, signed modules,
# booted with module.sig_enforce=1): the machine has the kernel's own modules, upstream's
# kheaders.ko among them, and only a headers package tree at /lib/modules/<release>/build.
# DKMS builds ours there, offline (the guest has no network), signs it, and modprobe picks it.
# What the tests change (/lib/modules, /usr/src, /var/lib/dkms, /etc/dkms) is a tmpfs of the guest.
#   KH_STAGE    the kernel's `make modules_install` (with upstream's kernel/kheaders.ko)
#   KH_HEADERS  its headers package tree;  KH_KDIR  its build tree (for its signing key only)
#   KH_DKMS_SRC `make dkms-src`'s tree;    KH_NORUST  the build tree of a kernel without Rust
#   KH_IKHEADERS upstream's kheaders code as a module of another name (tests/modules/ikheaders)
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
rel=$(uname -r)
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$KH_DKMS_SRC/dkms.conf")
norust=$(cat "$KH_NORUST/include/config/kernel.release")
sign() { "$KH_HEADERS/scripts/sign-file" sha512 "$KH_KDIR/certs/signing_key.pem" "$KH_KDIR/certs/signing_key.x509" "$1"; }

# The machine: modules as installed, headers as packaged, dkms signing with a key the kernel
# trusts (a distribution's enrolled MOK key; here the kernel's own build key).
cp -a /etc/dkms /run/kh-etc-dkms
for d in /lib/modules /usr/src /var/lib/dkms /etc/dkms; do cover "$d"; done
cp -a /run/kh-etc-dkms/. /etc/dkms/
mkdir -p /etc/dkms/framework.conf.d
printf 'mok_signing_key=%s\nmok_certificate=%s\n' "$KH_KDIR/certs/signing_key.pem" "$KH_KDIR/certs/signing_key.x509" \
    >/etc/dkms/framework.conf.d/kheaders-test.conf
cp -a "$KH_STAGE/lib/modules/$rel" /lib/modules/
rm -f "/lib/modules/$rel/build" "/lib/modules/$rel/source"
ln -s "$KH_HEADERS" "/lib/modules/$rel/build"
mkdir -p "/lib/modules/$norust"; ln -s "$KH_NORUST" "/lib/modules/$norust/build"
cp -r "$KH_DKMS_SRC" "/usr/src/kheaders-$ver"
# cargo's own files in a writable place (the guest's /root is the host's, read-only); the
# toolchain stays rustup's.
export CARGO_HOME=/tmp/cargo-home RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}
upstream=/lib/modules/$rel/kernel/kernel/kheaders.ko
ours=/lib/modules/$rel/updates/dkms/kheaders.ko
work=$(mktemp -d)

enforcing_signatures() {
    want_eq "$(cat /sys/module/module/parameters/sig_enforce)" Y "module.sig_enforce"
    [ -f "$upstream" ] || fail "upstream's kheaders.ko is not installed at $upstream"
}

dkms_autoinstall_builds_ours_offline_and_signs_it() {
    dkms add "kheaders/$ver" >/dev/null
    # What a kernel package's postinst runs: builds with no network, from the vendored crates.
    dkms autoinstall -k "$rel" >"$work/dkms.log" 2>&1 \
        || { tail -30 "$work/dkms.log" /var/lib/dkms/kheaders/$ver/build/make.log 2>/dev/null >&2; fail "dkms autoinstall failed"; }
    local st; st=$(dkms status "kheaders/$ver" -k "$rel")
    case $st in *": installed") ;; *) fail "dkms status: $st" ;; esac
    [ -f "$ours" ] || fail "not installed at $ours"
    [ -n "$(modinfo -F signer "$ours")" ] || fail "dkms did not sign it"
    echo "    $st; signer: $(modinfo -F signer "$ours")" >&2
}

depmod_puts_ours_before_upstreams() {
    want_eq "$(modinfo -n kheaders)" "$ours" "modinfo -n kheaders"
    want_eq "$(modinfo -F version kheaders)" "$ver"
    [ -f "$upstream" ] || fail "upstream's module was removed"
    [ -z "$(modinfo -F version "$upstream")" ] || fail "upstream's has a version?"
}

modprobe_loads_ours_under_signature_enforcement() {
    modprobe kheaders
    [ -r /proc/kheaders.tar.xz ] || fail "no /proc/kheaders.tar.xz: upstream's module was loaded?"
    want_eq "$(sha256sum </proc/kheaders.tar.xz | cut -d' ' -f1)" "$(modinfo -F archive_sha256 "$ours")"
    case $(cat /sys/module/kheaders/taint) in *E*) fail "loaded unsigned (taint E)" ;; esac
    rmmod kheaders
}

# The archive DKMS packed from the headers package tree builds a C module on this machine,
# with the seed's commands; signed with the archive's own sign-file, as enforcement needs.
seed_commands_build_a_c_module_from_the_headers_package_archive() {
    cp -r "$here/tests/modules/hello" "$work/hello"
    modprobe kheaders
    mkdir -p "$work/headers"
    tar -xf /proc/kheaders.tar.xz -C "$work/headers"
    rmmod kheaders
    make -C "$work/headers" M="$work/hello" modules >"$work/hello.log" 2>&1 || { tail -30 "$work/hello.log" >&2; fail "make failed"; }
    ! grep -q 'kheaders: this kernel was built by' "$work/hello.log" || fail "compiler warning with the kernel's own gcc"
    "$work/headers/scripts/sign-file" sha512 "$KH_KDIR/certs/signing_key.pem" "$KH_KDIR/certs/signing_key.x509" "$work/hello/hello.ko"
    insmod "$work/hello/hello.ko"
    dmesg | grep -q 'hello from a module built against kheaders' || fail "no init message"
    rmmod hello
}

upstreams_module_loaded_refuses_ours_in_one_line() {
    insmod "$upstream" || { dmesg | tail -5 >&2; fail "upstream's module does not load"; }
    [ -r /sys/kernel/kheaders.tar.xz ] || fail "upstream's module serves no /sys file"
    if insmod "$ours" 2>"$work/refused"; then rmmod kheaders; fail "ours loaded beside upstream's"; fi
    cat "$work/refused" >&2
    want_eq "$(wc -l <"$work/refused")" 1 "lines on stderr"
    grep -q 'File exists' "$work/refused" || fail "not the kernel's EEXIST"
    [ ! -e /proc/kheaders.tar.xz ] || fail "a /proc file appeared"
    rmmod kheaders
}

# CONFIG_IKHEADERS=y: /sys/kernel/kheaders.tar.xz is the kernel's. Ours looks the name up first:
# no duplicate-file warning or stack dump (vm-run fails the run on any WARNING), one info line.
sysfs_file_taken_by_upstream_code_serves_proc_only() {
    cp "$KH_IKHEADERS" "$work/ikheaders.ko"; sign "$work/ikheaders.ko"
    insmod "$work/ikheaders.ko" || { dmesg | tail -5 >&2; fail "upstream's code does not load"; }
    local theirs; theirs=$(sha256sum </sys/kernel/kheaders.tar.xz)
    modprobe kheaders
    [ -r /proc/kheaders.tar.xz ] || fail "no /proc file"
    want_eq "$(sha256sum </sys/kernel/kheaders.tar.xz)" "$theirs" "the /sys file is still upstream's"
    dmesg | grep -q "kheaders: /sys/kernel/kheaders.tar.xz is the kernel's own" || fail "no info line"
    ! dmesg | grep -q 'duplicate filename' || fail "sysfs_warn_dup"
    rmmod kheaders; rmmod ikheaders
}

autoinstall_skips_a_kernel_without_rust() {
    grep -q '^CONFIG_RUST=y' "$KH_NORUST/.config" && fail "the no-Rust kernel has Rust"
    dkms autoinstall -k "$norust" >"$work/norust.log" 2>&1 || { cat "$work/norust.log" >&2; fail "dkms autoinstall exited $?"; }
    ! dkms status "kheaders/$ver" -k "$norust" | grep -q "$norust" || fail "dkms built it for $norust"
    # Asked for by hand, BUILD_EXCLUSIVE_CONFIG skips it (dkms's status 77), with no build.
    local rc=0; dkms build "kheaders/$ver" -k "$norust" >"$work/norust-build.log" 2>&1 || rc=$?
    want_eq "$rc" 77 "dkms build for $norust"
}

missing_rust_metadata_is_one_line_in_dkms_make_log() {
    local k=$rel-normeta
    mkdir -p "/lib/modules/$k" "$work/normeta"
    cp -as "$KH_HEADERS/." "$work/normeta/"; rm -rf "$work/normeta/rust"
    ln -s "$work/normeta" "/lib/modules/$k/build"
    if dkms build "kheaders/$ver" -k "$k" >"$work/normeta.log" 2>&1; then fail "built without rust/*.rmeta"; fi
    local log=/var/lib/dkms/kheaders/$ver/build/make.log
    want_eq "$(grep -c 'kheaders: error:' "$log")" 1 "error lines in $log"
    grep -q 'kheaders: error: .* no rust/libkernel.rmeta' "$log" || { tail "$log" >&2; fail "not the missing-metadata line"; }
    rm -rf "/lib/modules/$k"
}

run_tests enforcing_signatures dkms_autoinstall_builds_ours_offline_and_signs_it \
    depmod_puts_ours_before_upstreams modprobe_loads_ours_under_signature_enforcement \
    seed_commands_build_a_c_module_from_the_headers_package_archive \
    upstreams_module_loaded_refuses_ours_in_one_line sysfs_file_taken_by_upstream_code_serves_proc_only \
    autoinstall_skips_a_kernel_without_rust missing_rust_metadata_is_one_line_in_dkms_make_log
