#!/usr/bin/env bash
# In-guest eBPF tests: BPF programs compiled against the kernel's headers from kheaders alone.
# /lib/modules/<release> is replaced by what `make modules_install` staged, which has no
# `build` link, and the kernel trees are hidden, so bcc cannot find headers anywhere else.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/lib.sh"
: "${KH_STAGE:?modules_install staging dir}"
rm -f "/lib/modules/$rel"; ln -s "$KH_STAGE/lib/modules/$rel" "/lib/modules/$rel"
cover "${KHEADERS_CACHE:-/root/.cache/kheaders}"
# vng gives /tmp as an overlay, where bcc's rename of its extraction directory fails (EXDEV).
cover /tmp
work=$(mktemp -d)
autoconf=$(tar -xJOf "$KH_BLOB" include/config/auto.conf)
arch=$(srcarch <<<"$autoconf")

bpf_program_compiles_by_hand() {
    extract "$work/h"
    cat >"$work/prog.c" <<'C'
#include <linux/sched.h>
#include <linux/fs.h>
#include <uapi/linux/bpf.h>
#include <linux/ptrace.h>
__attribute__((section("kprobe/do_sys_openat2"), used))
int count_opens(struct pt_regs *ctx)
{
	/* Use the structures, so the headers really have to parse. */
	return sizeof(struct task_struct) + sizeof(struct file) + offsetof(struct task_struct, pid);
}
char _license[] __attribute__((section("license"), used)) = "GPL";
C
    local h=$work/h a=arch/$arch
    # As the kernel's samples/bpf: clang parses for the host target, llc emits BPF.
    clang -nostdinc -isystem "$(clang -print-file-name=include)" -O2 -emit-llvm -c "$work/prog.c" -o - \
        -I$h/$a/include -I$h/$a/include/generated -I$h/include -I$h/$a/include/uapi \
        -I$h/$a/include/generated/uapi -I$h/include/uapi -I$h/include/generated/uapi \
        -include $h/include/linux/kconfig.h -D__KERNEL__ -D__BPF_TRACING__ -Wno-unused-value \
        -Wno-pointer-sign -Wno-compare-distinct-pointer-types -Wno-gnu-variable-sized-type-not-at-end \
        -Wno-address-of-packed-member -Wno-tautological-compare -Wno-unknown-warning-option -Wno-ignored-attributes \
        -fno-stack-protector -fno-asynchronous-unwind-tables $dialect \
        | llc -march=bpf -filetype=obj -o "$work/prog.o"
    llvm-objdump -h "$work/prog.o" | grep -q 'kprobe/do_sys_openat2' || fail "no program section"
}

dialect=$(headers_dialect <<<"$autoconf")
export KH_BCC_CFLAGS=$dialect

run_tests bpf_program_compiles_by_hand bcc_loads_kheaders_itself_and_traces
