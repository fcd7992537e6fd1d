#!/usr/bin/env bash
# In the gki guest of scripts/test-cross --arch arm64 --flavour gki (after tests/vm/module.sh): what an Android
# GKI-class kernel asks of kheaders, and the controls that show each check is live. /kh holds the
# signed kheaders.ko and hello-host.ko (built on the x86 host from the arm64 archive), /kh/gki the
# controls (scripts/test-arm64-gki). The KASAN and kCFI controls run last: KASAN stops checking
# tags after its first report, and the kCFI reader dies in the trap.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/lib.sh"
g=/kh/gki
refused() { # module.ko dmesg-pattern: insmod fails, the kernel says why
    local said; said=$(dmesg | grep -c "$2" || true)
    ! insmod "$1" 2>"$KH_OUT/insmod.err" || { rmmod "$(modinfo -F name "$1")"; fail "$1 loaded"; }
    echo "# insmod: $(cat "$KH_OUT/insmod.err")"
    [ "$(dmesg | grep -c "$2")" -gt "$said" ] || fail "no '$2' in the kernel log"
}

runs_on_a_gki_class_machine() {
    want_eq "$(getconf PAGESIZE)" 16384 "page size"
    grep -qw mte /proc/cpuinfo || fail "no MTE"
    # KASAN_HW_TAGS: on, in the mode the command line asks for, unless booted with kasan=off
    # (under Debian 12's QEMU: scripts/test-cross says why).
    local mode; mode=$(sed -n 's/.*kasan\.mode=\([a-z]*\).*/\1/p' /proc/cmdline)
    if ! grep -qw kasan=off /proc/cmdline; then
        dmesg | grep -q "KernelAddressSanitizer initialized (hw-tags, mode=${mode:-sync}," \
            || fail "KASAN_HW_TAGS not on in mode ${mode:-sync}: $(dmesg | grep KernelAddressSanitizer)"
    fi
    # No PAC: the kernel patched its PAC instructions into shadow call stack pushes and pops.
    ! grep -qw paca /proc/cpuinfo || fail "the CPU has pointer authentication: SCS not patched in"
}

# The seed's flow under MODULE_SIG_FORCE and MODVERSIONS: hello cross-built on the x86 host from
# the archive, signed there, loads; its CRCs (from the archive's Module.symvers) match.
host_built_signed_module_loads() { hello_loads /kh/hello-host.ko; }
unsigned_module_is_refused() { refused $g/hello-unsigned.ko 'Loading of unsigned module is rejected'; }
wrong_crc_is_refused() {
    [ -f $g/hello-badcrc.ko ] || skip "no MODVERSIONS on $(uname -r)"
    refused $g/hello-badcrc.ko 'disagrees about version of symbol _printk'
}
# The exports are trimmed to kheaders' symbol list: kheaders loads (module.sh), kapi (built
# against the untrimmed kernel) does not.
export_not_on_the_list_is_refused() { refused $g/kapi-untrimmed.ko 'kapi: Unknown symbol'; }

# Android ships upstream's kheaders.ko in system_dlkm: the same name. Ours installed in updates/
# beside it (as a vendor's copy elsewhere): modprobe takes ours; with upstream's loaded first,
# ours is refused in one line and the kernel keeps upstream's.
beside_upstreams_kheaders() {
    local d=/lib/modules/$rel
    mkdir -p "$d/kernel/kernel" "$d/updates"
    cp $g/upstream-kheaders.ko "$d/kernel/kernel/kheaders.ko"; cp "$KH_MODULE" "$d/updates/kheaders.ko"
    touch "$d/modules.order" "$d/modules.builtin" "$d/modules.builtin.modinfo"   # as installed
    depmod "$rel"
    want_eq "$(modinfo -n kheaders)" "$d/updates/kheaders.ko" "modprobe's choice"
    modprobe kheaders; [ -e /proc/kheaders.tar.xz ] || fail "modprobe kheaders did not load ours"
    rmmod kheaders
    insmod $g/upstream-kheaders.ko
    [ -e /sys/kernel/kheaders.tar.xz ] && [ ! -e /proc/kheaders.tar.xz ] || fail "upstream's not serving /sys only"
    ! insmod "$KH_MODULE" 2>"$KH_OUT/dup" || fail "ours loaded beside upstream's"
    grep -q 'File exists' "$KH_OUT/dup" && [ "$(wc -l <"$KH_OUT/dup")" = 1 ] || fail "not one line: $(cat "$KH_OUT/dup")"
    rmmod kheaders; rm -rf "$d"
}

no_cfi_failure_so_far() { ! dmesg | grep 'CFI failure' || fail "a CFI failure in the log"; }
no_kasan_report_so_far() { ! dmesg | grep 'BUG: KASAN' || fail "a KASAN report in the log"; }

# The KASAN control: a module that reads past the end of a kmalloc'ed buffer
# (tests/modules/kasan_oob). The bytes past it carry another tag, so the read's tag mismatches and
# KASAN reports it: at once in sync mode, at the next kernel entry in async mode (so we wait a little).
kasan_reports_an_out_of_bounds_read() {
    grep -qw kasan=off /proc/cmdline && skip "booted with kasan=off"
    # At KERN_ERR, so that it reaches the console (loglevel=4), where the host cuts the log.
    echo '<3>kheaders-test: KASAN control begins; complaints from here on are expected' >/dev/kmsg
    insmod $g/kasan_oob.ko || fail "insmod kasan_oob.ko failed"
    rmmod kasan_oob
    local i want='BUG: KASAN: slab-out-of-bounds in [a-z_]*+0x[0-9a-f/x]* \[kasan_oob\]'   # sync: what, and where (init is init_module to kallsyms)
    grep -qw kasan.mode=async /proc/cmdline && want='Asynchronous fault: no details available'
    for i in 1 2 3 4 5 6 7 8 9 10; do dmesg | grep -q "$want" && break; sleep 0.5; done
    dmesg | grep -q "$want" || { dmesg | tail -5; fail "KASAN did not report the out-of-bounds read ('$want')"; }
}

# The control: procfs's indirect call to a read_iter of the wrong type traps (kCFI enforcing).
kcfi_traps_a_mismatched_callback() {
    echo '<3>kheaders-test: kCFI control begins; complaints from here on are expected' >/dev/kmsg
    insmod $g/cfi_mismatch.ko
    local rc=0; (cat /proc/kheaders_cfi_mismatch >/dev/null) || rc=$?
    [ $rc -ne 0 ] || fail "reading through the mismatched callback succeeded"
    dmesg | grep -q 'CFI failure at .*target: wrong_type' || { dmesg | tail -5; fail "no CFI failure for the mismatched read_iter"; }
}

run_tests runs_on_a_gki_class_machine host_built_signed_module_loads unsigned_module_is_refused wrong_crc_is_refused \
    export_not_on_the_list_is_refused beside_upstreams_kheaders no_cfi_failure_so_far no_kasan_report_so_far \
    kasan_reports_an_out_of_bounds_read kcfi_traps_a_mismatched_callback
