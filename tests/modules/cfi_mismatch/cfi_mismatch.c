// SPDX-License-Identifier: GPL-2.0
/*
 * The kCFI control of the gki guest (scripts/test-cross --arch arm64 --flavour gki): a proc file whose
 * read_iter has the wrong type. Reading /proc/kheaders_cfi_mismatch must trap in procfs's
 * indirect call, the call kheaders' Rust read_iter passes on the same kernel, which shows the
 * check is live. Never unloaded: the trapped reader keeps the entry in use.
 */
#include <linux/module.h>
#include <linux/proc_fs.h>

static int wrong_type(void)	/* not ssize_t (*)(struct kiocb *, struct iov_iter *) */
{
	return 0;
}

static const struct proc_ops ops = {
	.proc_read_iter = (void *)wrong_type,
};
static struct proc_dir_entry *pde;

static int __init cfi_mismatch_init(void)
{
	pde = proc_create_data("kheaders_cfi_mismatch", 0444, NULL, &ops, NULL);
	return pde ? 0 : -ENOMEM;
}
static void __exit cfi_mismatch_exit(void)
{
	proc_remove(pde);
}
module_init(cfi_mismatch_init);
module_exit(cfi_mismatch_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kheaders test: a proc_ops callback of the wrong type (kCFI control)");
