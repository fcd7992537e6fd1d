#!/usr/bin/env bash
# In-guest tests on a distribution-style kernel (the distro flavour: GCC-built, signed modules,
# booted with module.sig_enforce=1). /lib/modules/<release> is what DKMS left on the host
# (tests/distro.sh): the kernel's own modules, upstream's kheaders.ko among them, and ours in
# updates/dkms, signed; the build trees are hidden.
#   KH_INSTALLED that /lib/modules/<release>;  KH_KDIR the kernel's build tree (its signing key)
#   KH_IKHEADERS upstream's kheaders code as a module of another name (tests/modules/ikheaders)
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/lib.sh"
cp -r "$KH_KDIR/certs" /run/kh-certs    # the kernel's key (a distribution's enrolled MOK key), before the trees go
cover "${KHEADERS_CACHE:-/root/.cache/kheaders}"
cover /lib/modules
cp -a "$KH_INSTALLED/$rel" /lib/modules/
depmod "$rel"
upstream=/lib/modules/$rel/kernel/kernel/kheaders.ko
ours=/lib/modules/$rel/updates/dkms/kheaders.ko
work=$(mktemp -d)
sign() { # with the sign-file of the archive (extracted by the seed-commands test)
    [ -x "$work/headers/scripts/sign-file" ] || fail "no extracted archive"
    "$work/headers/scripts/sign-file" sha256 /run/kh-certs/signing_key.pem /run/kh-certs/signing_key.x509 "$1"
}

enforcing_signatures() {
    want_eq "$(cat /sys/module/module/parameters/sig_enforce)" Y "module.sig_enforce"
    [ -f "$upstream" ] || fail "upstream's kheaders.ko is not installed at $upstream"
}

depmod_and_modprobe_pick_ours() { want_eq "$(modinfo -n kheaders)" "$ours" "modinfo -n kheaders"; }

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
    sign "$work/hello/hello.ko"   # with the archive's own sign-file
    hello_loads "$work/hello/hello.ko"
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

run_tests enforcing_signatures depmod_and_modprobe_pick_ours modprobe_loads_ours_under_signature_enforcement \
    seed_commands_build_a_c_module_from_the_headers_package_archive \
    upstreams_module_loaded_refuses_ours_in_one_line sysfs_file_taken_by_upstream_code_serves_proc_only
