// SPDX-License-Identifier: GPL-2.0
/* Test fixture for scripts/vm-run: a module whose init triggers a kernel WARNING. */
#include <linux/module.h>
static int __init warn_test_init(void)
{
	WARN(1, "warn_test: deliberate warning to test the VM runner\n");
	return 0;
}
module_init(warn_test_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Triggers a WARNING on load (runner self-test)");
