# shellcheck shell=bash disable=SC2034,SC2120  # variables and helpers for the suites
# Helpers for the in-guest suites (sourced): each test is a function, `run_tests fn...` runs
# them in order and prints KTAP (tests/lib.sh, which also says what KH_* the suites get).
set -u
exec 2>&1   # diagnostics (`fail`) into the KTAP stream: vng does not pass the guest's stderr on
: "${KH_SUITE:=vm}"
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=tests/vm/cover.sh
. "$(dirname "${BASH_SOURCE[0]}")/cover.sh"
here=$kh_repo rel=$(uname -r)
load() { insmod "$KH_MODULE" "$@" || fail "insmod $KH_MODULE $* failed"; }
unload() { rmmod kheaders || fail "rmmod kheaders failed"; }
loaded() { grep -q '^kheaders ' /proc/modules; }
extract() { load; mkdir -p "$1"; tar -xf /proc/kheaders.tar.xz -C "$1"; unload; }   # dir
hello_loads() { # hello.ko (tests/modules/hello or rust_hello): it loads, says so, and unloads
    local said; said=$(dmesg | grep -c 'hello from a module built against kheaders' || true)
    insmod "$1"
    [ "$(dmesg | grep -c 'hello from a module built against kheaders')" -gt "$said" ] || fail "$1: no init message"
    rmmod "$(modinfo -F name "$1")"   # the module's name, whatever the file is called
}
before_each() { ! loaded || rmmod kheaders; }
[ -z "${KH_BLOB:-}" ] || blob_sha=$(sha256sum "$KH_BLOB" | cut -d' ' -f1) blob_size=$(stat -c %s "$KH_BLOB")

# The C dialect the kernel's headers are written in, as compiler flags, from a .config or
# auto.conf on stdin: 7.x includes tagged structs anonymously (CONFIG_CC_MS_EXTENSIONS, a quoted
# string such as "-fms-extensions"), which a BPF compile of them must be told as well.
headers_dialect() {
    local ms; ms=$(sed -n 's/^CONFIG_CC_MS_EXTENSIONS="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p')
    echo "${ms:+$ms -Wno-microsoft-anon-tag}"
}

# bcc (Debian's python3-bpfcc) with no headers but kheaders': it loads the module itself, reads
# /sys/kernel/kheaders.tar.xz, extracts it to /tmp/kheaders-<release> and unloads it again; a
# kprobe built from linux/sched.h then counts our opens. The caller hides every other tree.
bcc_loads_kheaders_itself_and_traces() {
    ! loaded || fail "kheaders already loaded"
    [ ! -e /sys/kernel/kheaders.tar.xz ] || fail "/sys/kernel/kheaders.tar.xz exists before bcc ran"
    rm -rf /tmp/kheaders-$rel*
    /usr/bin/python3 - <<'PY'
import os
from bcc import BPF
b = BPF(cflags=os.environ.get('KH_BCC_CFLAGS', '').split(), text=r'''
#include <linux/sched.h>
#include <linux/fs.h>
BPF_HASH(opens, u32, u64);
int kprobe__do_sys_openat2(struct pt_regs *ctx)
{
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    u32 tgid = task->tgid;
    u64 zero = 0, *n = opens.lookup_or_try_init(&tgid, &zero);
    if (n)
        (*n)++;
    return 0;
}
''')
for _ in range(25):
    os.close(os.open('/etc/hostname', os.O_RDONLY))
seen = sum(v.value for k, v in b['opens'].items() if k.value == os.getpid())
print('    opens seen by the kprobe:', seen)
assert seen >= 25, seen
PY
    ls -d /tmp/kheaders-$rel* >/dev/null 2>&1 || fail "bcc did not extract the headers from kheaders"
    ! loaded || fail "bcc left kheaders loaded"
}
