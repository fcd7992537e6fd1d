// SPDX-License-Identifier: GPL-2.0
//! What `modinfo kheaders` shows beyond `module!`'s fields, and the module parameters: the
//! `.modinfo` records and `__param` entries that C's `MODULE_INFO()` and `module_param()` make,
//! which the `module!` macro of 6.12 has no fields for.

use core::{ptr, sync::atomic::AtomicBool};
use kernel::{bindings, ffi::c_void};

/// `name=value\0` records in `.modinfo`, shown by `modinfo` (the `module!` macro of 6.12 has
/// no field for these). The strings come from files `build.rs` writes next to the archive.
/// `used(compiler)`, as `module!` has it: plain `used` marks the section SHF_GNU_RETAIN, and GNU
/// ld (GCC-built kernels) then keeps it apart from `module!`'s and modpost's `.modinfo`, of which
/// the kernel reads only the first (no license, no vermagic: the module would not load).
macro_rules! modinfo {
    ($id:ident, $text:expr) => {
        #[link_section = ".modinfo"]
        #[used(compiler)]
        static $id: [u8; $text.len()] = {
            let (src, mut out, mut i) = ($text.as_bytes(), [0u8; $text.len()], 0);
            while i < src.len() {
                out[i] = src[i];
                i += 1;
            }
            out
        };
    };
}
modinfo!(MODINFO_AUTHOR, "author=kheaders developers\0");
// Upstream's kheaders.ko has no version: with one, dkms replaces it rather than calling the two
// equal (Cargo.toml's version, written by build.rs).
modinfo!(
    MODINFO_VERSION,
    concat!(
        "version=",
        include_str!("../target/kheaders/kheaders.tar.xz.version"),
        "\0"
    )
);
modinfo!(
    MODINFO_RELEASE,
    concat!(
        "kernel_release=",
        include_str!("../target/kheaders/kheaders.tar.xz.release"),
        "\0"
    )
);
modinfo!(
    MODINFO_SHA256,
    concat!(
        "archive_sha256=",
        include_str!("../target/kheaders/kheaders.tar.xz.sha256"),
        "\0"
    )
);

/// Module parameters (`modprobe kheaders proc=0 sysfs=0`): which files to serve.
pub(crate) static PROC: AtomicBool = AtomicBool::new(true);
pub(crate) static SYSFS: AtomicBool = AtomicBool::new(true);

/// A `struct kernel_param` record for `__param`, as `module_param()` makes in C.
#[repr(transparent)]
struct Param(bindings::kernel_param);
// SAFETY: the kernel reads these records only while parsing parameters at load time and in
// sysfs; everything they point to is immutable (names, ops, module) or an `AtomicBool`.
unsafe impl Sync for Param {}

/// `module_param(name, bool, 0444)` plus `MODULE_PARM_DESC`.
macro_rules! bool_param {
    ($name:literal, $flag:ident, $desc:literal) => {
        const _: () = {
            #[link_section = "__param"]
            #[used(compiler)]
            static PARAM: Param = Param(bindings::kernel_param {
                name: concat!($name, "\0").as_ptr().cast(),
                // The address of this module's `struct module` (defined by modpost's `.mod.c`)
                // and of the kernel's exported ops for `bool`: taking an address is safe.
                mod_: ptr::addr_of!(bindings::__this_module).cast_mut(),
                ops: ptr::addr_of!(bindings::param_ops_bool),
                perm: 0o444,
                level: -1,
                flags: 0,
                // `AtomicBool` has the size, alignment and bit validity of C's `bool`, and
                // `param_ops_bool` stores only 0 or 1 there.
                __bindgen_anon_1: bindings::kernel_param__bindgen_ty_1 {
                    arg: $flag.as_ptr().cast::<c_void>(),
                },
            });
            modinfo!(PARMTYPE, concat!("parmtype=", $name, ":bool\0"));
            modinfo!(PARM, concat!("parm=", $name, ":", $desc, "\0"));
        };
    };
}
bool_param!("proc", PROC, "Serve /proc/kheaders.tar.xz (default: 1)");
bool_param!(
    "sysfs",
    SYSFS,
    "Serve /sys/kernel/kheaders.tar.xz unless the kernel has one (default: 1)"
);
