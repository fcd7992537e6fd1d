#!/usr/bin/env bash
# In-guest, on the debug kernel (KASAN, kmemleak, lockdep, CONFIG_FAULT_INJECTION): every fault
# site of loading kheaders.ko made to fail in turn (/proc/<pid>/fail-nth, see
# tests/vm/fail_nth.py), for each proc=/sysfs= combination; the same while reading the files.
# Each failed load returns an error and leaves no file, no module and no leak (kmemleak); the
# next plain load serves the archive. Both of our init's failure paths (proc_create,
# sysfs_create_bin_file) are reached by a walk over the slab caches of those two calls alone.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/lib.sh"
suite_dir=$(dirname "$0")
dbg=/sys/kernel/debug

# fail-nth counts every call to a fault site, whatever the sites' own filters say, except that
# failslab and fail_page_alloc first skip what they ignore: by default sleeping allocations
# (GFP_KERNEL: nearly all of ours), order-0 pages and highmem pages. Count sleeping ones and
# order-0 pages too; not highmem pages: those are vmalloc's, whose bulk allocator takes a varying
# number of calls for the 4 MiB image, so that the n-th site would not be the same site from one
# load to the next and a walk over n could step over ours (a first run, counting them, did).
fault_caches="proc_dir_entry kernfs_node_cache"   # the slab caches of proc_create, sysfs_create_bin_file
setup_fault_sites() {
    mountpoint -q $dbg || mount -t debugfs none $dbg
    [ -e /proc/self/fail-nth ] || fail "no /proc/self/fail-nth: kernel without CONFIG_FAULT_INJECTION"
    echo N >$dbg/failslab/ignore-gfp-wait
    echo N >$dbg/fail_page_alloc/ignore-gfp-wait
    echo Y >$dbg/fail_page_alloc/ignore-gfp-highmem
    echo 0 >$dbg/fail_page_alloc/min-order
    echo N >$dbg/failslab/cache-filter
    local c   # and no cache marked for it (the cache walk below marks two)
    for c in $fault_caches; do [ ! -w /sys/kernel/slab/"$c"/failslab ] || echo 0 >/sys/kernel/slab/"$c"/failslab; done
    # Outside fail-nth nothing fails (probability 0, the default). Quiet: two lines per injected
    # fault (verbose=1) wrap the kernel's log buffer over ~1300 loads, and with it what
    # scripts/vm-run and the tests below read from it.
    local d
    for d in failslab fail_page_alloc fail_usercopy; do
        want_eq "$(cat $dbg/$d/probability)" 0 "$d probability"
        echo 0 >$dbg/$d/verbose
    done
}

# fail_nth.py load with PARAMS; our init's error lines it produced are counted into $KH_OUT.
fail_every_site_of_load() {
    local params=$1 tag=$2 mark
    mark="kheaders-faults: load $tag start"
    echo "$mark" >/dev/kmsg
    python3 "$suite_dir/fail_nth.py" load "$KH_MODULE" "$KH_BLOB" "$params" >"$KH_OUT/faults-$tag.log" \
        || { grep FAULTS: "$KH_OUT/faults-$tag.log" | head -20 >&2; fail "fault injection into load ($params)"; }
    grep -h '^points' "$KH_OUT/faults-$tag.log"
    dmesg | sed -n "/$mark/,\$p" >"$KH_OUT/dmesg-$tag"
    local procs syss
    procs=$(grep -c 'kheaders: cannot create /proc/kheaders.tar.xz' "$KH_OUT/dmesg-$tag" || true)
    syss=$(grep -c 'kheaders: cannot create /sys/kernel/kheaders.tar.xz' "$KH_OUT/dmesg-$tag" || true)
    echo "params \"$params\": $procs loads failed in proc_create, $syss in sysfs_create_bin_file"
    echo "$procs $syss" >"$KH_OUT/paths-$tag"
    ! grep -E 'WARNING:|BUG:|Oops|KASAN:|UBSAN:|lockdep|refcount_t' "$KH_OUT/dmesg-$tag" >&2 \
        || fail "the kernel complained during fault injection ($params)"
    ! loaded || fail "module left loaded"
    if [ -e /proc/kheaders.tar.xz ] || [ -e /sys/kernel/kheaders.tar.xz ]; then fail "file left behind"; fi
    # And the next plain load works.
    local f args
    read -ra args <<<"$params"
    load "${args[@]}"
    for f in /proc/kheaders.tar.xz /sys/kernel/kheaders.tar.xz; do
        [ ! -e $f ] || want_eq "$(sha256sum <$f)" "$blob_sha  -" "$f after the faults"
    done
    unload
}

faults_in_load_proc1_sysfs1() { setup_fault_sites; fail_every_site_of_load "" both; }
faults_in_load_proc1_sysfs0() {
    setup_fault_sites
    fail_every_site_of_load "proc=1 sysfs=0" proc-only
    [ "$(cut -d' ' -f2 "$KH_OUT/paths-proc-only")" = 0 ] || fail "sysfs=0 reached sysfs_create_bin_file"
}
faults_in_load_proc0_sysfs1() {
    setup_fault_sites
    fail_every_site_of_load "proc=0 sysfs=1" sysfs-only
    [ "$(cut -d' ' -f1 "$KH_OUT/paths-sysfs-only")" = 0 ] || fail "proc=0 reached proc_create"
}

# The walk over every site is not certain to reach proc_create's one allocation: the number of
# sites before it varies a little from load to load (CI's run stepped over it once). Counting
# only the slab caches of /proc's and sysfs's entries (failslab's cache-filter), and no page
# allocations, the walk is short and each of its sites is the same on every load.
init_failure_paths_with_faults_in_their_caches() {
    local c p s
    setup_fault_sites
    echo Y >$dbg/failslab/cache-filter
    echo 99 >$dbg/fail_page_alloc/min-order
    for c in $fault_caches; do
        echo 1 >/sys/kernel/slab/"$c"/failslab 2>/dev/null || fail "cannot mark slab cache $c for failslab"
    done
    fail_every_site_of_load "" caches
    setup_fault_sites
    read -r p s <"$KH_OUT/paths-caches"
    [ "$p" -gt 0 ] || fail "proc_create never failed"
    [ "$s" -gt 0 ] || fail "sysfs_create_bin_file never failed"
}

faults_in_open_and_read() {
    setup_fault_sites
    load
    python3 "$suite_dir/fail_nth.py" read "$KH_BLOB" >"$KH_OUT/faults-read.log" \
        || { grep FAULTS: "$KH_OUT/faults-read.log" | head -20 >&2; fail "fault injection into reads"; }
    grep -h 'points' "$KH_OUT/faults-read.log"
    want_eq "$(sha256sum </proc/kheaders.tar.xz)" "$blob_sha  -" "/proc after the faults"
    want_eq "$(sha256sum </sys/kernel/kheaders.tar.xz)" "$blob_sha  -" "/sys after the faults"
    unload
}

nothing_leaked() {
    local leaks=$dbg/kmemleak
    [ -w $leaks ] || fail "no kmemleak"
    # Objects must be 5 s old before kmemleak reports them; scan twice, as it advises.
    sleep 6
    echo scan >$leaks
    sleep 1
    echo scan >$leaks
    if grep -q 'unreferenced object' $leaks; then
        head -40 $leaks >&2
        fail "kmemleak reports leaks after the fault injection"
    fi
}

# CI walks the default load (proc=1 sysfs=1) over every site; KHEADERS_FAULT_CASES=all adds the proc-only and sysfs-only walks (three times as long).
walks=(faults_in_load_proc1_sysfs1)
[ "${KHEADERS_FAULT_CASES:-default}" != all ] || walks+=(faults_in_load_proc1_sysfs0 faults_in_load_proc0_sysfs1)
run_tests "${walks[@]}" init_failure_paths_with_faults_in_their_caches faults_in_open_and_read nothing_leaked
