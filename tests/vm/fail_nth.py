#!/usr/bin/env python3
"""Systematic fault injection (Documentation/fault-injection: /proc/<pid>/fail-nth) into
loading kheaders.ko and into reading its files. Used by tests/vm/faults.sh.

    fail_nth.py load MODULE ARCHIVE [PARAMS]
    fail_nth.py read ARCHIVE

`load`: for n = 1, 2, ... the n-th fault site (kmalloc, alloc_pages, copy_from/to_user) reached
by init_module(2) fails, until a load succeeds with the fault not consumed (fail-nth reads back
non-zero). The module image is in this process's memory (init_module rather than
finit_module), so the sites counted are the module loader's and ours, not those of a file
system reading the .ko. A load that fails must say so with an errno and leave nothing: no
/proc or /sys file, no module. A load that succeeds although the fault was injected (callers
that fall back, such as vmalloc's bulk allocation) must serve the archive, and unload.
Prints one line per load that failed, then `points N loaded-despite-fault M`.

`read`: the same while opening and reading both files (open, pread, read, close): each read
either returns the archive's bytes at that offset (fewer is allowed, none is not) or fails
with an errno; the file offset moves by what was returned.
"""
import ctypes
import errno
import hashlib
import os
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
SYS_init_module, SYS_delete_module = 175, 176
sys.stdout.reconfigure(line_buffering=True)   # progress visible in $KH_OUT as it goes
PROC, SYS = '/proc/kheaders.tar.xz', '/sys/kernel/kheaders.tar.xz'
MAX_N = 20000


class FailNth:
    """/proc/thread-self/fail-nth, opened once so that arming it allocates nothing."""

    def __init__(self):
        self.fd = os.open('/proc/thread-self/fail-nth', os.O_RDWR)

    def arm(self, n):
        os.write(self.fd, b'%d' % n)

    def left(self):
        """What is left of the count: 0 once the fault was injected. Disarms. When it was not,
        reading and disarming are fault sites themselves (copy_to_user, copy_from_user): one of
        them may take the fault (EFAULT), which says the operation did not (-1)."""
        try:
            v = int(os.pread(self.fd, 32, 0))
        except OSError as e:
            if e.errno != errno.EFAULT:
                raise
            v = -1
        while True:
            try:
                os.write(self.fd, b'0')
                return v
            except OSError as e:
                if e.errno != errno.EFAULT:
                    raise
                v = v or -1


def loaded():
    with open('/proc/modules') as f:
        return any(line.split()[0] == 'kheaders' for line in f)


def load(module, blob, params):
    image = open(module, 'rb').read()
    want_sha = hashlib.sha256(open(blob, 'rb').read()).hexdigest()
    uargs = params.encode()
    want_files = {PROC: 'proc=0' not in params, SYS: 'sysfs=0' not in params}
    fn = FailNth()
    # Warm up the path (ctypes, the syscall wrapper) so nothing between arming and the
    # syscall allocates: an init_module with a bad image fails with ENOEXEC.
    libc.syscall(SYS_init_module, b'\0' * 64, ctypes.c_ulong(64), b'')
    bad, despite = [], 0
    for n in range(1, MAX_N):
        fn.arm(n)
        ret = libc.syscall(SYS_init_module, image, ctypes.c_ulong(len(image)), uargs)
        e = ctypes.get_errno()
        left = fn.left()
        injected = left == 0
        if ret == 0:
            files = {p: os.path.exists(p) for p in want_files}
            if files != want_files:
                bad.append('n=%d: loaded, files %s, want %s' % (n, files, want_files))
            for p, there in files.items():
                if there:
                    sha = hashlib.sha256(open(p, 'rb').read()).hexdigest()
                    if sha != want_sha:
                        bad.append('n=%d: loaded, %s has sha256 %s' % (n, p, sha))
            if libc.syscall(SYS_delete_module, b'kheaders', 0) != 0:
                bad.append('n=%d: rmmod failed: %s' % (n, errno.errorcode.get(ctypes.get_errno())))
            if not injected:
                print('points %d loaded-despite-fault %d params "%s"' % (n - 1, despite, params))
                break
            despite += 1
            print('n=%d: fault injected, loaded all the same (a caller fell back)' % n)
        else:
            name = errno.errorcode.get(e, str(e))
            print('n=%d: load failed: %s%s' % (n, name, '' if injected else ' WITHOUT A FAULT'))
            if not injected:
                bad.append('n=%d: load failed (%s) with no fault injected' % (n, name))
            if e == 0:
                bad.append('n=%d: load failed with no errno' % n)
            left_behind = [p for p in (PROC, SYS) if os.path.exists(p)]
            if left_behind or loaded() or os.path.exists('/sys/module/kheaders'):
                bad.append('n=%d: failed load left %s%s' % (n, left_behind, ' and the module' if loaded() else ''))
        if len(bad) > 10:
            break
    else:
        bad.append('no load succeeded without a fault in %d tries' % MAX_N)
    for b in bad:
        print('FAULTS:', b)
    return not bad


def read(blob_path):
    blob = open(blob_path, 'rb').read()
    n_blob = len(blob)
    fn = FailNth()
    bad, total = [], 0
    cases = [(PROC, 100000, 5000), (PROC, 1, n_blob - 1), (SYS, 4096, 123457), (SYS, 4096, n_blob - 10)]
    for path, size, off in cases:
        os.close(os.open(path, os.O_RDONLY))          # warm up the lookup
        for n in range(1, MAX_N):
            steps = []
            fn.arm(n)
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError as e:
                fd, steps = None, ['open: %s' % errno.errorcode[e.errno]]
            if fd is not None:
                for how in ('pread', 'read'):
                    try:
                        if how == 'pread':
                            got, at = os.pread(fd, size, off), off
                        else:
                            os.lseek(fd, off, os.SEEK_SET)
                            got, at = os.read(fd, size), off
                        want = blob[at:at + size]
                        if not got and want:
                            bad.append('n=%d %s %s(%d, %d): 0 bytes before the end' % (n, path, how, size, off))
                        elif got != want[:len(got)]:
                            bad.append('n=%d %s %s(%d, %d): wrong bytes' % (n, path, how, size, off))
                        if how == 'read' and os.lseek(fd, 0, os.SEEK_CUR) != at + len(got):
                            bad.append('n=%d %s read: offset %d after %d bytes from %d' % (
                                n, path, os.lseek(fd, 0, os.SEEK_CUR), len(got), at))
                        steps.append('%s: %d bytes' % (how, len(got)))
                    except OSError as e:
                        steps.append('%s: %s' % (how, errno.errorcode[e.errno]))
                        if how == 'read' and os.lseek(fd, 0, os.SEEK_CUR) != off:
                            bad.append('n=%d %s read failed but moved the offset' % (n, path))
                os.close(fd)
            left = fn.left()
            if left:
                print('read %s size %d at %d: points %d' % (path, size, off, n - 1))
                break
            total += 1
            print('read n=%d %s: %s' % (n, path, ', '.join(steps)))
            if len(bad) > 10:
                break
    print('read points %d' % total)
    for b in bad:
        print('FAULTS:', b)
    return not bad


if __name__ == '__main__':
    if sys.argv[1] == 'load':
        ok = load(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else '')
    else:
        ok = read(sys.argv[2])
    sys.exit(0 if ok else 1)
