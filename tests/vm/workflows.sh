#!/usr/bin/env bash
# In-guest tests of what users do with kheaders: install and modprobe it, extract the archive,
# build modules against the extracted tree only, load them, and get the memory back.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/lib.sh"
: "${KH_STAGE:?modules_install staging dir}"
# modprobe finds what `make modules_install INSTALL_MOD_PATH=$KH_STAGE` installed.
rm -f "/lib/modules/$rel"; ln -s "$KH_STAGE/lib/modules/$rel" "/lib/modules/$rel"
cover "${KHEADERS_CACHE:-/root/.cache/kheaders}"   # no kernel tree but the archive's
cover /root && export HOME=/root                     # a writable $HOME
work=$(mktemp -d)

install_and_load_by_name() {
    modprobe kheaders
    loaded || fail "modprobe kheaders did not load it"
    [ -r /proc/kheaders.tar.xz ] || fail "no /proc/kheaders.tar.xz"
    modprobe -r kheaders
    ! loaded || fail "modprobe -r left it loaded"
}

# The seed's commands, verbatim but for the module directory.
# shellcheck disable=SC2046,SC2164
build_module_from_archive() { # module-dir-name
    cp -r "$here/tests/modules/$1" "$work/$1"
    modprobe kheaders
    rm -rf $HOME/headers
    mkdir -p $HOME/headers
    tar -xf /proc/kheaders.tar.xz -C $HOME/headers
    cd "$work/$1"
    make -C $HOME/headers M=$(pwd) modules >"$work/$1.log" 2>&1 || { tail -30 "$work/$1.log" >&2; fail "make failed"; }
    ! grep -q 'kheaders: this kernel was built by' "$work/$1.log" || fail "GNUmakefile's compiler warning with the kernel's own compiler"
    rmmod kheaders
}

seed_commands_build_a_c_module() { build_module_from_archive hello; hello_loads "$work/hello/hello.ko"; }

less_trivial_module_runs() {
    build_module_from_archive kapi
    insmod "$work/kapi/kapi.ko"
    want_eq "$(cat /proc/kapi_test)" "kapi items=10 sum=385 release=$rel"
    rmmod kapi
}

host_programs_rebuilt_when_they_cannot_run() {
    # What a target of another architecture sees: the archive's fixdep and modpost were built
    # for the build machine and cannot run. Make them so (an arm64 ELF header), then build as
    # usual: GNUmakefile notices and rebuilds them from the archive's sources.
    cp -r "$here/tests/modules/hello" "$work/hello2"
    extract "$work/h2"
    local p
    for p in scripts/basic/fixdep scripts/mod/modpost; do
        printf '\177ELF\2\1\1\0\0\0\0\0\0\0\0\0\2\0\267\0\1\0\0\0' >"$work/h2/$p"
    done
    ! "$work/h2/scripts/basic/fixdep" 2>/dev/null || fail "the foreign fixdep ran?"
    make -C "$work/h2" M="$work/hello2" modules >"$work/h2.log" 2>&1 \
        || { tail -30 "$work/h2.log" >&2; fail "make failed"; }
    grep -q 'kheaders: rebuilding the host programs' "$work/h2.log" || fail "no rebuild announced"
    local rc=0; "$work/h2/scripts/basic/fixdep" 2>/dev/null || rc=$?
    [ $rc = 1 ] || fail "the rebuilt fixdep does not run (status $rc; 1 is its usage message)"
    hello_loads "$work/hello2/hello.ko"
}

# GNUmakefile's warning (src/pack/files/GNUmakefile), before the kernel's Makefile runs; the
# builds above, with the kernel's own compiler, have none (build_module_from_archive).
compiler_mismatch_warns() {
    cp -r "$here/tests/modules/hello" "$work/hello3"
    extract "$work/h3"
    make -C "$work/h3" M="$work/hello3" CC=gcc LLVM= modules >"$work/h3.log" 2>&1 || true
    grep -q 'kheaders: this kernel was built by ".*clang.*, but "gcc" is "gcc .*": build with the kernel.s compiler' "$work/h3.log" \
        || { tail -20 "$work/h3.log" >&2; fail "no warning of ours"; }
}

# A module's memory is its vmalloc areas (module_memory_alloc: text, data, rodata, ...), found
# by the addresses of its sections: while loaded, backed by pages and holding the archive; after
# rmmod, gone from /proc/vmallocinfo (an address range freed lazily shows as "unpurged vm_area",
# its pages already given back). /proc/modules counts the same memory.
memory_is_given_back() {
    modprobe kheaders
    local size waited=0; size=$(awk '$1 == "kheaders" {print $2}' /proc/modules)
    [ "$size" -ge "$blob_size" ] || fail "/proc/modules: $size bytes, less than the archive's $blob_size"
    echo 1 >/proc/sys/kernel/kptr_restrict   # addresses for root, not hashed (vmallocinfo prints %pK)
    python3 - "$blob_size" >"$work/areas" <<'PY'
import os, sys
d, blob = '/sys/module/kheaders/sections', int(sys.argv[1])
secs = [int(open(f'{d}/{s}').read(), 16) for s in os.listdir(d) if not s.startswith('.init')]  # freed after init
total = 0
for line in open('/proc/vmallocinfo'):
    lo, hi = (int(x, 16) for x in line.split()[0].split('-'))
    if 'pages=' in line and any(lo <= s < hi for s in secs):
        print(line.split()[0]); total += int(line.split()[1])
assert total >= blob, 'the areas hold %d bytes, less than the archive' % total
PY
    modprobe -r kheaders
    ! loaded || fail "still in /proc/modules"
    while grep -v unpurged /proc/vmallocinfo | grep -qF -f "$work/areas" && [ $waited -lt 20 ]; do sleep 1; waited=$((waited + 1)); done
    echo "# /proc/modules: $size bytes; vmalloc areas: $(tr '\n' ' ' <"$work/areas"); gone ${waited}s after rmmod" >&2
    ! grep -v unpurged /proc/vmallocinfo | grep -F -f "$work/areas" >&2 || fail "still mapped after rmmod"
}

run_tests install_and_load_by_name seed_commands_build_a_c_module less_trivial_module_runs \
    host_programs_rebuilt_when_they_cannot_run compiler_mismatch_warns memory_is_given_back
