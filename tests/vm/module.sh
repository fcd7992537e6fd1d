#!/usr/bin/env bash
# In-guest tests of kheaders.ko itself: files, bytes, seeking, refusals, concurrency, unloading.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/lib.sh"

files_appear_with_mode_size_and_owner() {
    load
    for f in /proc/kheaders.tar.xz /sys/kernel/kheaders.tar.xz; do
        want_eq "$(stat -c '%a %u %g %s' $f)" "444 0 0 $blob_size" "$f"
    done
    unload
    [ ! -e /proc/kheaders.tar.xz ] || fail "/proc file left after rmmod"
    [ ! -e /sys/kernel/kheaders.tar.xz ] || fail "/sys file left after rmmod"
}

contents_equal_the_archive() {
    load
    want_eq "$(sha256sum </proc/kheaders.tar.xz | cut -d' ' -f1)" "$blob_sha" "/proc sha256"
    want_eq "$(sha256sum </sys/kernel/kheaders.tar.xz | cut -d' ' -f1)" "$blob_sha" "/sys sha256"
    xz -t /proc/kheaders.tar.xz
    tar -tJf /proc/kheaders.tar.xz >"$KH_OUT/list"
    grep -qx 'include/linux/sched.h' "$KH_OUT/list" || fail "include/linux/sched.h not listed"
    want_eq "$(wc -l <"$KH_OUT/list")" "$(tar -tJf "$KH_BLOB" | wc -l)" "entries"
    unload
}

modinfo_matches_the_archive() {
    want_eq "$(modinfo -F archive_sha256 "$KH_MODULE")" "$blob_sha"
    want_eq "$(modinfo -F kernel_release "$KH_MODULE")" "$(uname -r)"
    want_eq "$(modinfo -F license "$KH_MODULE")" "GPL"
}

dd_block_sizes_and_skips() {
    load
    local bs skip
    for bs in 1 511 4096 65536 1048576 16777216; do
        want_eq "$(dd if=/proc/kheaders.tar.xz bs=$bs status=none | sha256sum | cut -d' ' -f1)" "$blob_sha" "bs=$bs"
    done
    for skip in 0 1 7 100 1000; do
        cmp <(dd if=/proc/kheaders.tar.xz bs=4096 skip=$skip count=3 status=none) \
            <(dd if="$KH_BLOB" bs=4096 skip=$skip count=3 status=none) || fail "skip=$skip differs"
    done
    unload
}

pread_seek_and_past_the_end() {
    need python3
    load
    python3 - "$KH_BLOB" <<'PY'
import errno, mmap, os, random, sys
blob = open(sys.argv[1], 'rb').read(); n = len(blob)
page = mmap.PAGESIZE   # 16 KiB on a 16K-page arm64 kernel (gki flavour)
rnd = random.Random(1)
for path in ('/proc/kheaders.tar.xz', '/sys/kernel/kheaders.tar.xz'):
    fd = os.open(path, os.O_RDONLY)
    for _ in range(300):
        off, ln = rnd.randrange(0, n + 5000), rnd.choice([1, 13, 4096, 70000, 3 << 20])
        got = os.pread(fd, ln, off)
        # procfs serves the whole request in one read; sysfs at most a page per read.
        want = blob[off:off + (ln if path.startswith('/proc') else min(ln, page))]
        assert got == want, (path, off, ln, len(got), len(want))
    assert os.pread(fd, 100, n) == b'' and os.pread(fd, 100, n + 12345) == b''
    assert os.lseek(fd, 0, os.SEEK_END) == n
    assert os.lseek(fd, -10, os.SEEK_END) == n - 10 and os.read(fd, 100) == blob[-10:]
    assert os.lseek(fd, 5, os.SEEK_SET) == 5 and os.lseek(fd, 7, os.SEEK_CUR) == 12
    assert os.read(fd, 3) == blob[12:15]
    assert os.lseek(fd, n + 100, os.SEEK_SET) == n + 100 and os.read(fd, 10) == b''
    for off, whence in ((-1, os.SEEK_SET), (-(n + 1), os.SEEK_END)):
        try:
            os.lseek(fd, off, whence); raise SystemExit('negative offset accepted: %s' % path)
        except OSError as e:
            assert e.errno == errno.EINVAL, (path, e)
    os.close(fd)
# One read of the whole file is served by one call on /proc (no page-sized loop of ours).
fd = os.open('/proc/kheaders.tar.xz', os.O_RDONLY)
assert len(os.read(fd, n + 1)) == n
PY
    unload
}

write_mmap_ioctl_refused_for_root() {
    need python3
    load
    python3 <<'PY'
import errno, fcntl, mmap, os, termios
for path in ('/proc/kheaders.tar.xz', '/sys/kernel/kheaders.tar.xz'):
    for flags in (os.O_WRONLY, os.O_RDWR, os.O_WRONLY | os.O_TRUNC):
        try:
            os.close(os.open(path, flags)); raise SystemExit('opened for writing: %s' % path)
        except PermissionError:
            pass
fd = os.open('/proc/kheaders.tar.xz', os.O_RDONLY)
try:
    mmap.mmap(fd, 4096, mmap.MAP_PRIVATE, mmap.PROT_READ); raise SystemExit('mmap succeeded')
except OSError as e:
    assert e.errno in (errno.EIO, errno.ENODEV, errno.EACCES), e
try:
    # (The VFS answers generic ioctls such as FIONREAD for any regular file itself.)
    fcntl.ioctl(fd, termios.TCGETS, b'\0' * 64); raise SystemExit('ioctl succeeded')
except OSError as e:
    assert e.errno == errno.ENOTTY, e
PY
    unload
}

parameters_turn_files_off() {
    load proc=0
    [ ! -e /proc/kheaders.tar.xz ] && [ -e /sys/kernel/kheaders.tar.xz ] || fail "proc=0 not honoured"
    want_eq "$(cat /sys/module/kheaders/parameters/proc)" N
    unload
    load sysfs=0
    [ -e /proc/kheaders.tar.xz ] && [ ! -e /sys/kernel/kheaders.tar.xz ] || fail "sysfs=0 not honoured"
    unload
}

sixteen_parallel_readers() {
    load
    local i pids=()
    for i in $(seq 16); do
        f=/proc/kheaders.tar.xz; [ $((i % 4)) = 0 ] && f=/sys/kernel/kheaders.tar.xz
        ( for _ in 1 2 3 4 5; do sha256sum <$f | cut -d' ' -f1; done >"$KH_OUT/par.$i" ) & pids+=($!)
    done
    wait "${pids[@]}"
    want_eq "$(cat "$KH_OUT"/par.* | sort -u)" "$blob_sha" "16 readers x 5 reads"
    want_eq "$(cat "$KH_OUT"/par.* | wc -l)" 80
    unload
}

hundred_load_unload_cycles() {
    local i
    for i in $(seq 100); do
        insmod "$KH_MODULE" && head -c 100 /proc/kheaders.tar.xz >/dev/null && rmmod kheaders \
            || fail "cycle $i failed"
    done
}

rmmod_while_open_and_reading() {
    need python3
    load
    # Readers hold both files open, one of them mid-read in a loop, while the module goes away.
    python3 - <<'PY' &
import os, time
fds = [os.open(p, os.O_RDONLY) for p in ('/proc/kheaders.tar.xz', '/sys/kernel/kheaders.tar.xz')]
os.read(fds[0], 1000); open('/tmp/kh-ready', 'w').close()
deadline, errs = time.time() + 8, 0
while time.time() < deadline:
    for fd in fds:
        try:
            os.pread(fd, 1 << 20, 0)
        except OSError as e:
            errs += 1  # EIO/ENODEV once the module is gone: expected
print('reader errors after unload:', errs)
assert errs > 0, 'reads still succeeded after rmmod'
PY
    local reader=$!
    while [ ! -e /tmp/kh-ready ]; do sleep 0.1; done
    sleep 1
    rmmod kheaders || fail "rmmod refused while files are open"
    wait $reader || fail "reader failed"
    rm -f /tmp/kh-ready
    load && unload   # and it comes back cleanly
}

sendfile_splice_and_copy_file_range() {
    need python3
    load
    python3 - "$KH_BLOB" "$KH_OUT" <<'PY'
import errno, hashlib, os, sys
blob, out = open(sys.argv[1], 'rb').read(), sys.argv[2]
want = hashlib.sha256(blob).hexdigest()
def sha_of(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()
for path in ('/proc/kheaders.tar.xz', '/sys/kernel/kheaders.tar.xz'):
    src = os.open(path, os.O_RDONLY)
    dst = os.open(out + '/sendfile', os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    while os.sendfile(dst, src, None, 1 << 20):
        pass
    os.close(dst)
    assert sha_of(out + '/sendfile') == want, ('sendfile', path)
    r, w = os.pipe()
    got, pos = bytearray(), 0
    while True:   # splice at an explicit offset: the file position must not move
        k = os.splice(src, w, 65536, offset_src=pos)
        if not k:
            break
        got += os.read(r, k); pos += k
    assert hashlib.sha256(got).hexdigest() == want, ('splice', path)
    assert os.lseek(src, 0, os.SEEK_CUR) == len(blob), ('sendfile moved, splice at an offset did not', path)
    # copy_file_range between file systems is refused by the VFS (EXDEV, since 5.19) for any
    # file, upstream's /sys one too; cp then falls back to read/write.
    dst = os.open(out + '/cfr', os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        os.copy_file_range(src, dst, 1 << 20, 0); raise SystemExit('copy_file_range across file systems: %s' % path)
    except OSError as e:
        assert e.errno == errno.EXDEV, (path, e)
    os.close(dst); os.close(src)
PY
    cp /proc/kheaders.tar.xz "$KH_OUT/cp"
    want_eq "$(sha256sum <"$KH_OUT/cp" | cut -d' ' -f1)" "$blob_sha" "cp"
    unload
}

run_tests files_appear_with_mode_size_and_owner contents_equal_the_archive modinfo_matches_the_archive \
    dd_block_sizes_and_skips pread_seek_and_past_the_end write_mmap_ioctl_refused_for_root sendfile_splice_and_copy_file_range \
    parameters_turn_files_off sixteen_parallel_readers rmmod_while_open_and_reading hundred_load_unload_cycles
