#!/usr/bin/env python3
"""A reader for tests/vm/soak.sh: reads /proc/kheaders.tar.xz and /sys/kernel/kheaders.tar.xz
at random offsets and sizes, over and over, while the module comes and goes, until STOPFILE
exists. Each read must return the archive's bytes at that offset (fewer is allowed, none
before the end is not) or fail because the module is gone: the open with ENOENT (no file) or
ENODEV (kernfs: removed while being opened), a read with EIO (procfs) or ENODEV (kernfs) on a
file opened before the removal, an lseek with EINVAL (procfs: proc_reg_llseek's answer for a
removed entry) or ENODEV (kernfs_fop_llseek). Anything else is counted as wrong. Writes its counts (JSON)
to OUT.

    soak_reader.py ARCHIVE SEED STOPFILE OUT
"""
import errno
import json
import os
import random
import sys
import time

blob_path, seed, stop, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
blob = open(blob_path, 'rb').read()
n = len(blob)
rnd = random.Random(seed)
PROC, SYS = '/proc/kheaders.tar.xz', '/sys/kernel/kheaders.tar.xz'
GONE_OPEN = {errno.ENOENT, errno.ENODEV}
GONE_READ = {PROC: {errno.EIO}, SYS: {errno.ENODEV}}
GONE_SEEK = {PROC: {errno.EINVAL}, SYS: {errno.ENODEV}}
c = {'opens': 0, 'reads_ok': 0, 'bytes': 0, 'wrong': 0, 'other': 0, 'errors': {}, 'examples': []}


def note(kind, what):
    c[kind] += 1
    if len(c['examples']) < 10:
        c['examples'].append(what)


def count_err(where, e):
    k = '%s %s' % (where, errno.errorcode.get(e, e))
    c['errors'][k] = c['errors'].get(k, 0) + 1


while not os.path.exists(stop):
    path = rnd.choice([PROC, SYS])
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        if e.errno not in GONE_OPEN:
            note('other', 'open %s: %s' % (path, e))
        count_err('open', e.errno)
        time.sleep(0.01)                            # not loaded: leave the CPU to insmod
        continue
    c['opens'] += 1
    for _ in range(rnd.randrange(1, 40)):
        off = rnd.choice([0, rnd.randrange(n), n - rnd.randrange(1, 5000), n])
        size = rnd.choice([1, 100, 4096, 65536])
        how = 'read' if rnd.random() < 0.5 else 'pread'
        if how == 'read':
            try:
                os.lseek(fd, off, os.SEEK_SET)
            except OSError as e:
                if e.errno not in GONE_SEEK[path]:
                    note('other', 'lseek %s to %d: %s' % (path, off, e))
                count_err('lseek', e.errno)
                break
        try:
            got = os.read(fd, size) if how == 'read' else os.pread(fd, size, off)
        except OSError as e:
            if e.errno not in GONE_READ[path]:
                note('other', 'read %s at %d: %s' % (path, off, e))
            count_err('read', e.errno)
            break                                   # gone: open again (a new module, perhaps)
        want = blob[off:off + size]
        if got != want[:len(got)] or (not got and want):
            note('wrong', '%s at %d size %d: %d bytes, not the archive\'s' % (path, off, size, len(got)))
        else:
            c['reads_ok'] += 1
            c['bytes'] += len(got)
    os.close(fd)

with open(out, 'w') as f:
    json.dump(c, f)
