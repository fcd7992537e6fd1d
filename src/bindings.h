/* SPDX-License-Identifier: GPL-2.0 */
/* What kheaders uses that the kernel crate's bindings lack: bindgen turns this into
 * src/proc_bindings.rs with the kernel's own flags (see Kbuild). */
#include <linux/proc_fs.h>
#include <linux/kernfs.h>
#include <linux/sysfs.h>
