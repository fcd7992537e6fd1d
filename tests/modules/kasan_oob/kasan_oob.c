// SPDX-License-Identifier: GPL-2.0
/*
 * The KASAN control of the gki guest (scripts/test-cross --arch arm64 --flavour gki): a read just
 * past a kmalloc'ed buffer. kmalloc(100) comes from kmalloc-128; KASAN tags the 112 bytes that
 * hold the 100 (granules of 16) with the pointer's tag and the rest of the object with another,
 * so under hardware tag-based KASAN (MTE) the read of byte 112 mismatches and KASAN must report
 * it, which shows the check is live (the same access as KASAN's own kmalloc_oob_right test). KASAN
 * then stops checking tags (on this CPU), so this runs last. The read is not fatal: init returns 0.
 */
#include <linux/module.h>
#include <linux/slab.h>

static int __init kasan_oob_init(void)
{
	char *p = kmalloc(100, GFP_KERNEL);
	char c;

	if (!p)
		return -ENOMEM;
	OPTIMIZER_HIDE_VAR(p);	/* the compiler must not see the read as out of bounds and drop it */
	c = READ_ONCE(p[112]);
	kfree(p);
	pr_info("kheaders-test: read %d past a buffer's end\n", c);
	return 0;
}
static void __exit kasan_oob_exit(void)
{
}
module_init(kasan_oob_init);
module_exit(kasan_oob_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kheaders test: an out-of-bounds read (KASAN control)");
