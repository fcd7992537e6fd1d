// SPDX-License-Identifier: GPL-2.0
/*
 * A less trivial external module, built in the guest from the extracted kheaders archive:
 * a workqueue fills a locked list of allocated items, and a seq_file at /proc/kapi_test
 * reports them, so the test can check that it really ran.
 */
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/utsname.h>
#include <linux/workqueue.h>

struct item {
	struct list_head node;
	int value;
};

static LIST_HEAD(items);
static DEFINE_MUTEX(items_lock);
static struct workqueue_struct *wq;
static struct proc_dir_entry *entry;

static void fill(struct work_struct *work)
{
	int i;

	for (i = 1; i <= 10; i++) {
		struct item *it = kzalloc(sizeof(*it), GFP_KERNEL);

		if (!it)
			return;
		it->value = i * i;
		mutex_lock(&items_lock);
		list_add_tail(&it->node, &items);
		mutex_unlock(&items_lock);
	}
}
static DECLARE_WORK(fill_work, fill);

static int show(struct seq_file *m, void *v)
{
	struct item *it;
	int sum = 0, n = 0;

	mutex_lock(&items_lock);
	list_for_each_entry(it, &items, node) {
		sum += it->value;
		n++;
	}
	mutex_unlock(&items_lock);
	seq_printf(m, "kapi items=%d sum=%d release=%s\n", n, sum, utsname()->release);
	return 0;
}

static int __init kapi_init(void)
{
	wq = alloc_workqueue("kapi_test", WQ_UNBOUND, 1);
	if (!wq)
		return -ENOMEM;
	queue_work(wq, &fill_work);
	flush_workqueue(wq);
	entry = proc_create_single("kapi_test", 0444, NULL, show);
	if (!entry) {
		destroy_workqueue(wq);
		return -ENOMEM;
	}
	return 0;
}

static void __exit kapi_exit(void)
{
	struct item *it, *tmp;

	proc_remove(entry);
	destroy_workqueue(wq);
	list_for_each_entry_safe(it, tmp, &items, node) {
		list_del(&it->node);
		kfree(it);
	}
}
module_init(kapi_init);
module_exit(kapi_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kheaders test: workqueue, list, mutex, slab and seq_file from the archive");
