// SPDX-License-Identifier: GPL-2.0
/* The smallest external module: built in the guest from the extracted kheaders archive. */
#include <linux/module.h>
#include <linux/printk.h>
static int __init hello_init(void)
{
	pr_info("hello from a module built against kheaders\n");
	return 0;
}
static void __exit hello_exit(void)
{
	pr_info("hello: bye\n");
}
module_init(hello_init);
module_exit(hello_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kheaders test: minimal external module");
