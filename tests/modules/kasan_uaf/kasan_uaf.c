// SPDX-License-Identifier: GPL-2.0
/*
 * The KASAN control of the gki guest (scripts/test-cross --arch arm64 --flavour gki): a read of
 * memory just freed. Freed memory is retagged, so under hardware tag-based KASAN (MTE) the read's
 * pointer tag mismatches and KASAN must report it, which shows the check is live. KASAN then
 * stops checking tags (on this CPU), so this runs last. The read is not fatal: init returns 0.
 */
#include <linux/module.h>
#include <linux/slab.h>

static int __init kasan_uaf_init(void)
{
	char *p = kmalloc(64, GFP_KERNEL);

	if (!p)
		return -ENOMEM;
	kfree(p);
	OPTIMIZER_HIDE_VAR(p);	/* the compiler must not see the read as undefined and drop it */
	pr_info("kheaders-test: read %d from freed memory\n", READ_ONCE(p[0]));
	return 0;
}
static void __exit kasan_uaf_exit(void)
{
}
module_init(kasan_uaf_init);
module_exit(kasan_uaf_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kheaders test: a use after free (KASAN control)");
