#!/usr/bin/env python3
"""Random syscalls on /proc/kheaders.tar.xz and /sys/kernel/kheaders.tar.xz, each result
compared with a model computed from the archive (the same file on the host's disk).

    random_ops.py ARCHIVE [--ops N] [--seed S]

Ops: open (random flags), close, read, pread, lseek (every whence, extreme offsets), sendfile,
splice, copy_file_range, mmap, ioctl, poll, select, fstat. For each op the model gives the
expected bytes, return value, errno and new file offset. On a mismatch it prints the seed, the
op's index and the op, so that `random_ops.py ARCHIVE --seed S --ops N` replays it; it goes on to
count the mismatches by kind and exits 1.

What the model says of our module (src/): the bytes (at any offset, every size), the offsets
and errors of lseek on /proc (ours, through generic_file_llseek_size), write opens refused with
EACCES (ours on /proc, kernfs on /sys), /proc serving min(count, remaining) per call, /sys at
most a page (kernfs's buffer), sendfile and splice from both files (/proc through
proc_read_iter). The rest is decided by the VFS, procfs or kernfs and is modelled as observed
on 6.12 and 7.3 (marked VFS): copy_file_range, for one, is EXDEV from any other file system.
Two things differ between those kernels and are taken from the kernel at start: kernfs's
s_maxbytes (the largest offset on /sys: 2^31-1 on 6.12, 2^63-1 on 7.x, whose kernfs sets
MAX_LFS_FILESIZE), probed with one lseek; and how much one sendfile or splice moves: the VFS's
copy_splice_read() takes what the bulk page allocator gives, which on 7.3 is often one page, so
a shorter transfer is right when its bytes are the archive's (counted and printed).
"""
import ctypes
import errno
import mmap
import os
import random
import select
import stat
import sys
import time

E = errno
MAX_RW_COUNT = 0x7FFFF000            # INT_MAX & PAGE_MASK: the VFS's cap on one read/write
S64 = 2**63 - 1
PIPE_BYTES = 16 * 4096               # a new pipe's capacity (16 pages)
PROC, SYS = '/proc/kheaders.tar.xz', '/sys/kernel/kheaders.tar.xz'
# Per file: s_maxbytes of its file system (VFS: sendfile, and kernfs's generic_file_llseek, stop
# there; procfs and kernfs leave the default MAX_NON_LFS), bytes per read call (kernfs: one
# page), the mask poll gives for POLLIN|POLLPRI|POLLOUT (procfs without proc_poll:
# DEFAULT_POLLMASK; kernfs adds ERR|PRI until the descriptor's first read: kernfs_generic_poll
# compares the file's event count with the one the last read saw, and a new file has none), the
# block size ioctl(FIGETBSZ) and fstat report, what mmap gives (procfs without proc_mmap:
# EIO; kernfs without mmap: ENODEV).
# Run keeps a copy (Run.files), with /sys's largest offset probed from the running kernel.
FILES = {
    PROC: dict(maxbytes=2**31 - 1, per_read=None, poll=select.POLLIN | select.POLLOUT, blksize=1024,
               mmap=E.EIO),
    SYS: dict(maxbytes=2**31 - 1, per_read=4096, poll=select.POLLIN | select.POLLOUT, blksize=4096,
              mmap=E.ENODEV),
}
TCGETS, FIONREAD, FIOQSIZE, FIGETBSZ = 0x5401, 0x541B, 0x5460, 2
O_PATH_FLAGS = os.O_DIRECTORY | os.O_NOFOLLOW | os.O_PATH | os.O_CLOEXEC
EXTRA_FLAGS = [os.O_TRUNC, os.O_APPEND, os.O_CREAT, os.O_EXCL, os.O_DIRECT, os.O_NONBLOCK,
               os.O_NOATIME, os.O_SYNC, os.O_DSYNC, os.O_NOFOLLOW, os.O_NOCTTY, os.O_CLOEXEC,
               os.O_LARGEFILE, os.O_ASYNC]

libc = ctypes.CDLL(None, use_errno=True)
libc.read.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
libc.read.restype = ctypes.c_ssize_t
libc.pread64.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int64]
libc.pread64.restype = ctypes.c_ssize_t


class Mismatch(Exception):
    pass


def call(f, *a):
    """('ok', value) or ('err', errno name)."""
    try:
        return ('ok', f(*a))
    except OSError as e:
        return ('err', E.errorcode.get(e.errno, e.errno))


def err(code):
    return ('err', E.errorcode[code])


class Run:
    def __init__(self, blob, seed):
        self.blob, self.n, self.rnd = blob, len(blob), random.Random(seed)
        # [fd, path, mode ('r', 'none', 'path'), model pos, kernfs has seen a read]
        self.fds = []
        # Room for any read that can succeed (a whole archive), plus a canary after it.
        self.buf = ctypes.create_string_buffer(self.n + 8192)
        self.memfd = os.memfd_create('kh-random')
        self.pr, self.pw = os.pipe()
        os.set_blocking(self.pr, False)
        self.counts = {}
        self.short = 0
        self.files = {path: dict(props) for path, props in FILES.items()}
        fd = os.open(SYS, os.O_RDONLY)       # kernfs's s_maxbytes: see the docstring
        try:
            self.files[SYS]['maxbytes'] = S64 if call(os.lseek, fd, 2**31, os.SEEK_SET)[0] == 'ok' else 2**31 - 1
        finally:
            os.close(fd)

    # ---- operands --------------------------------------------------------------------------
    def size(self):
        r = self.rnd
        return r.choice([0, 1, 2, 7, 511, 4095, 4096, 4097, 8192, 65535, 65536, 65537,
                         r.randrange(1, 1 << 14), r.randrange(1, 1 << 14), r.randrange(1, 1 << 20),
                         self.n - 1, self.n, self.n + 1, 1 << 31, MAX_RW_COUNT + 1])

    def offset(self):
        r, n = self.rnd, self.n
        return r.choice([0, 1, n - 1, n, n + 1, n - 4096, r.randrange(n), r.randrange(n),
                         r.randrange(n), n - r.randrange(1, 70000), n + r.randrange(1 << 20),
                         2**31 - 2, 2**31 - 1, 2**31, 2**62, S64 - 1, S64, -1, -4096, -n, -n - 1,
                         -(2**63)])

    def small_offset(self):
        # Bulk transfers (sendfile, large reads) are what costs under TCG: mostly near the end.
        r, n = self.rnd, self.n
        if r.random() < 0.8:
            return r.choice([n - r.randrange(0, 200000), n - 1, n, n + 7, r.randrange(n)])
        return self.offset()

    # ---- the model -------------------------------------------------------------------------
    def model_open(self, path, flags):
        """VFS order: O_TMPFILE checks, O_PATH masking, O_CREAT|O_EXCL on an existing name,
        O_DIRECTORY on a file, then the file's open (ours on /proc refuses anything but
        O_RDONLY; kernfs refuses FMODE_WRITE without a write op, but lets O_ACCMODE=3 through:
        no read, no write), then O_DIRECT (no direct I/O here) refused after open."""
        if flags & os.O_TMPFILE == os.O_TMPFILE:
            return err(E.EINVAL), None      # VFS: O_TMPFILE without write access
        if flags & os.O_PATH:
            flags &= O_PATH_FLAGS
            if flags & os.O_DIRECTORY:
                return err(E.ENOTDIR), None
            return ('ok', None), 'path'
        if flags & os.O_CREAT and flags & os.O_EXCL:
            return err(E.EEXIST), None
        if flags & os.O_DIRECTORY:
            return err(E.ENOTDIR), None
        acc = flags & os.O_ACCMODE
        if acc in (os.O_WRONLY, os.O_RDWR) or (acc == 3 and path == PROC):
            return err(E.EACCES), None
        if flags & os.O_DIRECT:
            return err(E.EINVAL), None       # VFS: no FMODE_CAN_ODIRECT
        return ('ok', None), 'r' if acc == os.O_RDONLY else 'none'

    def want_read(self, path, pos, count):
        """(result, bytes) for a read of count bytes at pos on a readable file."""
        if pos < 0 or pos + count > S64:
            return err(E.EINVAL), b''        # VFS: rw_verify_area
        count = min(count, MAX_RW_COUNT)
        cap = self.files[path]['per_read']
        if cap is not None:
            count = min(count, cap)
        data = self.blob[pos:pos + count] if pos < self.n else b''
        return ('ok', len(data)), data

    def want_lseek(self, path, pos, off, whence):
        """(result, new pos): generic_file_llseek_size() with the archive's size as end of file
        and, as the largest offset, LLONG_MAX on /proc (ours, src/proc_fs.rs) and s_maxbytes
        (2^31-1) on /sys (kernfs, VFS)."""
        n, maxb = self.n, (S64 if path == PROC else self.files[SYS]['maxbytes'])  # kernfs: probed
        if whence == os.SEEK_SET:
            new = off
        elif whence == os.SEEK_CUR:
            if off == 0:
                return ('ok', pos), pos
            new = pos + off
        elif whence == os.SEEK_END:
            new = n + off
        elif whence in (os.SEEK_DATA, os.SEEK_HOLE):
            if off % 2**64 >= n:             # compared as unsigned
                return err(E.ENXIO), pos
            new = off if whence == os.SEEK_DATA else n
        else:
            return err(E.EINVAL), pos
        if new > S64:
            new -= 2**64                     # loff_t arithmetic wraps (-fno-strict-overflow)
        if new < 0 or new > maxb:
            return err(E.EINVAL), pos
        return ('ok', new), new

    # ---- the ops ---------------------------------------------------------------------------
    def pick(self):
        return self.rnd.choice(self.fds) if self.fds else None

    def op(self):
        r = self.rnd
        if len(self.fds) < 2 or (len(self.fds) < 8 and r.random() < 0.06):
            return self.op_open()
        kind = r.choices(
            ['close', 'read', 'pread', 'lseek', 'sendfile', 'splice', 'copy_file_range', 'mmap',
             'ioctl', 'poll', 'select', 'fstat'],
            weights=[4, 22, 22, 20, 4, 8, 3, 3, 5, 3, 2, 4])[0]
        return getattr(self, 'op_' + kind)()

    def op_open(self):
        r = self.rnd
        path = r.choice([PROC, SYS])
        flags = r.choice([0, 0, 0, os.O_WRONLY, os.O_RDWR, 3])
        for f in EXTRA_FLAGS:
            if r.random() < 0.08:
                flags |= f
        special = r.random()
        if special < 0.05:
            flags |= os.O_PATH
        elif special < 0.07:
            flags = (flags & ~os.O_CREAT) | os.O_DIRECTORY
        elif special < 0.08:
            flags = (flags & ~(os.O_ACCMODE | os.O_CREAT)) | os.O_TMPFILE
        desc = 'open(%s, %#o)' % (path, flags)
        want, mode = self.model_open(path, flags)
        got = call(os.open, path, flags)
        if got[0] == 'ok':
            self.fds.append([got[1], path, mode or 'r', 0, False])
            got = ('ok', None)
        self.check(desc, got, want)

    def op_close(self):
        f = self.pick()
        self.fds.remove(f)
        self.check('close(%s)' % self.name(f), call(os.close, f[0]), ('ok', None))

    def name(self, f):
        return '%d=%s[%s]' % (f[0], 'proc' if f[1] == PROC else 'sys', f[2])

    def bad_fd(self, f, pathmode_err=E.EBADF, none_err=E.EBADF):
        """The VFS's answer for a descriptor that cannot read, or None."""
        if f[2] == 'path':
            return err(pathmode_err)
        if f[2] == 'none':
            return err(none_err)
        return None

    def do_read(self, f, count, pos):
        """read (pos None) or pread into our buffer, with a canary after the expected bytes."""
        want_pos = f[3] if pos is None else pos
        want = err(E.EINVAL) if want_pos < 0 else self.bad_fd(f)   # pread64: pos < 0 first
        data = b''
        if want is None:
            want, data = self.want_read(f[1], want_pos, count)
            f[4] |= want[0] == 'ok'          # the read reached the file
        canary_at = ctypes.addressof(self.buf) + len(data)
        ctypes.memset(canary_at, 0xA5, 64)
        if pos is None:
            ret = libc.read(f[0], self.buf, count)
        else:
            ret = libc.pread64(f[0], self.buf, count, pos)
        got = ('ok', ret) if ret >= 0 else ('err', E.errorcode.get(ctypes.get_errno()))
        desc = '%s(%s, count=%d%s) at model pos %d' % (
            'read' if pos is None else 'pread', self.name(f), count,
            '' if pos is None else ', off=%d' % pos, f[3])
        self.check(desc, got, want)
        if ret > 0:
            self.check(desc + ' bytes', ctypes.string_at(self.buf, ret) == data, True)
        self.check(desc + ' canary', ctypes.string_at(canary_at, 64), b'\xa5' * 64)
        if pos is None and ret > 0:
            f[3] += ret

    def op_read(self):
        f = self.pick()
        self.do_read(f, self.size(), None)

    def op_pread(self):
        f = self.pick()
        self.do_read(f, self.size(), self.small_offset() if self.rnd.random() < 0.5 else self.offset())

    def op_lseek(self):
        f = self.pick()
        r = self.rnd
        whence = r.choice([os.SEEK_SET, os.SEEK_SET, os.SEEK_CUR, os.SEEK_END, os.SEEK_DATA,
                           os.SEEK_HOLE, 5, -1, 0x7FFFFFFF])
        off = self.offset() if r.random() < 0.7 else r.randrange(-self.n, self.n)
        if whence == os.SEEK_END and r.random() < 0.5:
            off = -r.randrange(0, 200000)
        want, new = (err(E.EBADF) if f[2] == 'path' else None), f[3]
        if want is None:
            want, new = self.want_lseek(f[1], f[3], off, whence)
        self.check('lseek(%s, %d, %d) at model pos %d' % (self.name(f), off, whence, f[3]),
                   call(os.lseek, f[0], off, whence), want)
        f[3] = new

    def transfer_want(self, f, pos, count, per_call):
        """sendfile/splice from a readable file: bytes, or an error (VFS checks)."""
        if pos < 0 or pos + count > S64:
            return err(E.EINVAL), b''        # rw_verify_area
        count = min(count, MAX_RW_COUNT, per_call)
        data = self.blob[pos:pos + count] if pos < self.n else b''
        return ('ok', len(data)), data

    def op_sendfile(self):
        f, r = self.pick(), self.rnd
        count = r.choice([0, 1, 100, 4096, 5000, 65537, 300000, self.size()])
        pos = None if r.random() < 0.4 else self.small_offset()
        if pos is None and f[3] < self.n - 400000 and r.random() < 0.9:
            pos = self.small_offset()        # keep the bulk copies short (TCG)
        os.ftruncate(self.memfd, 0)
        os.lseek(self.memfd, 0, os.SEEK_SET)
        want, data = self.bad_fd(f), b''
        at = f[3] if pos is None else pos
        if want is None:
            maxb = self.files[f[1]]['maxbytes']   # VFS: min of both s_maxbytes (tmpfs: 2^63-1)
            if at < 0 or at + count > S64:
                want = err(E.EINVAL)
            elif at + min(count, MAX_RW_COUNT) > maxb and at >= maxb:
                want = err(E.EOVERFLOW)
            else:
                c = min(count, MAX_RW_COUNT, max(maxb - at, 0))
                want, data = self.transfer_want(f, at, c, c)
                f[4] |= c > 0                # splice_direct_to_actor read it
        desc = 'sendfile(memfd, %s, off=%s, count=%d) at model pos %d' % (self.name(f), pos, count, f[3])
        got = call(os.sendfile, self.memfd, f[0], pos, count)
        want, data = self.shorter(got, want, data)
        self.check(desc, got, want)
        if got[0] == 'ok' and got[1] > 0:
            self.check(desc + ' bytes', os.pread(self.memfd, got[1] + 1, 0) == data, True)
            if pos is None:
                f[3] += got[1]

    def op_splice(self):
        f, r = self.pick(), self.rnd
        count = r.choice([0, 1, 4096, 4097, 65536, 65537, 1 << 20, self.size()])
        pos = None if r.random() < 0.4 else self.small_offset()
        at = f[3] if pos is None else pos
        if count == 0:
            want, data = ('ok', 0), b''      # splice(2): len 0 returns before any check
        else:
            want, data = self.bad_fd(f), b''
            if want is None:
                per_call = self.files[f[1]]['per_read'] or PIPE_BYTES
                want, data = self.transfer_want(f, at, count, min(per_call, PIPE_BYTES))
                f[4] |= want[0] == 'ok'
        desc = 'splice(%s, off=%s, pipe, count=%d) at model pos %d' % (self.name(f), pos, count, f[3])
        got = call(os.splice, f[0], self.pw, count, pos)
        out = b''
        while True:                          # drained first: a mismatch must not leave bytes
            try:
                chunk = os.read(self.pr, PIPE_BYTES)
            except BlockingIOError:
                break
            if not chunk:
                break
            out += chunk
        want, data = self.shorter(got, want, data)
        self.check(desc, got, want)
        self.check(desc + ' bytes', out == data, True)
        if got[0] == 'ok' and pos is None:
            f[3] += got[1]

    def op_copy_file_range(self):
        # VFS: our files and the memfd are on different superblocks and neither has
        # ->copy_file_range: EXDEV for a readable descriptor (generic_copy_file_checks), EBADF
        # before that for one that cannot read.
        f, r = self.pick(), self.rnd
        count = r.choice([0, 1, 4096, self.size()])
        pos = None if r.random() < 0.5 else self.offset()
        want = self.bad_fd(f) or err(E.EXDEV)
        self.check('copy_file_range(%s, memfd, %d, off=%s)' % (self.name(f), count, pos),
                   call(os.copy_file_range, f[0], self.memfd, count, pos), want)

    def op_mmap(self):
        f, r = self.pick(), self.rnd
        length = r.choice([4096, self.n])
        flags = r.choice([mmap.MAP_PRIVATE, mmap.MAP_SHARED])
        want = self.bad_fd(f, none_err=E.EACCES) or err(self.files[f[1]]['mmap'])

        def m():
            mmap.mmap(f[0], length, flags, mmap.PROT_READ).close()
        self.check('mmap(%s, %d, %d)' % (self.name(f), length, flags), call(m), want)

    def op_ioctl(self):
        import fcntl
        f, r = self.pick(), self.rnd
        cmd = r.choice([TCGETS, FIONREAD, FIOQSIZE, FIGETBSZ, 0x12345678, 0x80086601])
        desc = 'ioctl(%s, %#x) at model pos %d' % (self.name(f), cmd, f[3])
        if f[2] == 'path':
            want = err(E.EBADF)
        elif cmd == FIONREAD:   # VFS: i_size - f_pos, stored as an int
            v = (self.n - f[3]) & 0xFFFFFFFF
            want = ('ok', v.to_bytes(4, 'little'))
        elif cmd == FIOQSIZE:   # VFS: bytes allocated (none)
            want = ('ok', bytes(8))
        elif cmd == FIGETBSZ:   # VFS: the superblock's block size
            want = ('ok', self.files[f[1]]['blksize'].to_bytes(4, 'little') + bytes(4))
        else:                   # VFS: no unlocked_ioctl (procfs: no proc_ioctl)
            want = err(E.ENOTTY)
        self.check(desc, call(fcntl.ioctl, f[0], cmd, bytes(64) if cmd == TCGETS else bytes(8) if cmd != FIONREAD else bytes(4)), want)

    def op_poll(self):
        f = self.pick()
        p = select.poll()
        p.register(f[0], select.POLLIN | select.POLLPRI | select.POLLOUT)
        want = ('ok', [(f[0], select.POLLNVAL if f[2] == 'path' else self.poll_mask(f))])
        self.check('poll(%s)' % self.name(f), call(p.poll, 0), want)

    def poll_mask(self, f):
        if f[1] == SYS and not f[4]:
            return self.files[SYS]['poll'] | select.POLLERR | select.POLLPRI
        return self.files[f[1]]['poll']

    def op_select(self):
        # VFS: an O_PATH descriptor polls as POLLNVAL, which select counts in all three sets.
        f = self.pick()
        x = [f[0]] if f[2] == 'path' or self.poll_mask(f) & select.POLLPRI else []
        want = ('ok', ([f[0]], [f[0]], x))
        self.check('select(%s)' % self.name(f), call(select.select, [f[0]], [f[0]], [f[0]], 0), want)

    def op_fstat(self):
        f = self.pick()
        got = call(os.fstat, f[0])
        if got[0] == 'ok':
            s = got[1]
            got = ('ok', (stat.S_IFMT(s.st_mode), stat.S_IMODE(s.st_mode), s.st_size, s.st_uid,
                          s.st_gid, s.st_nlink, s.st_blksize))
        self.check('fstat(%s)' % self.name(f), got,
                   ('ok', (stat.S_IFREG, 0o444, self.n, 0, 0, 1, self.files[f[1]]['blksize'])))

    # ---- bookkeeping -----------------------------------------------------------------------
    def shorter(self, got, want, data):
        """sendfile/splice may move fewer bytes than the model's (see the docstring), never
        none when some are wanted: the (want, data) to check against."""
        if got[0] == want[0] == 'ok' and 0 < got[1] < want[1]:
            self.short += 1
            return got, data[:got[1]]
        return want, data

    def check(self, desc, got, want):
        if got != want:
            raise Mismatch('%s: got %r, want %r' % (desc, got if not isinstance(got, bytes) else got[:16],
                                                    want if not isinstance(want, bytes) else want[:16]))


def main():
    args = sys.argv[1:]
    seed = int(os.environ.get('KHEADERS_SEED', '1'))
    ops = 100000
    while len(args) > 1 and args[-2] in ('--seed', '--ops'):
        if args[-2] == '--seed':
            seed = int(args[-1])
        else:
            ops = int(args[-1])
        args = args[:-2]
    blob = open(args[0], 'rb').read()
    print('random syscalls: seed %d, %d ops, archive of %d bytes' % (seed, ops, len(blob)), flush=True)
    run = Run(blob, seed)
    mismatches, kinds, start = 0, {}, time.monotonic()
    for i in range(ops):
        before = [list(f) for f in run.fds]
        try:
            run.op()
        except Mismatch as e:
            mismatches += 1
            kind = str(e).split('(')[0]
            kinds[kind] = kinds.get(kind, 0) + 1
            if mismatches <= 20:
                print('MISMATCH seed %d op %d: %s (fds before: %s)' % (seed, i, e, before), flush=True)
            # Resynchronise the model with the kernel: the file offsets as the kernel has them.
            for f in run.fds:
                if f[2] != 'path':
                    f[3] = os.lseek(f[0], 0, os.SEEK_CUR)
    for f in run.fds:
        os.close(f[0])
    took = time.monotonic() - start
    print('random syscalls: %d ops, %d mismatches%s, seed %d, %.1f s; %d short sendfile/splice, '
          'largest /sys offset %d' % (ops, mismatches, ' %s' % kinds if kinds else '', seed, took,
                                      run.short, run.files[SYS]['maxbytes']))
    sys.exit(1 if mismatches else 0)


if __name__ == '__main__':
    main()
