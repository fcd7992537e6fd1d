// SPDX-License-Identifier: GPL-2.0
//! Read-only sysfs binary files in `/sys/kernel` whose contents are bytes in the module image,
//! made the way upstream's `kernel/kheaders.c` makes `/sys/kernel/kheaders.tar.xz`: a
//! `__BIN_ATTR_SIMPLE_RO`-style attribute, complete at compile time ([`BinAttr::new`]), read by
//! the kernel's own `sysfs_bin_attr_simple_read()`. [`KernelFile::create`] registers it; dropping
//! the [`KernelFile`] removes it, after kernfs has drained the reads in flight.

use crate::c;
use core::{ffi::CStr, ptr};
use kernel::{bindings, error::to_result, prelude::*};

/// A `struct bin_attribute` serving fixed bytes, mode 0444.
#[repr(transparent)]
pub(crate) struct BinAttr(bindings::bin_attribute);

// SAFETY: nothing writes the attribute after its constant initialisation, and what it points to
// (the name, the bytes, the read function) is immutable and `'static`: sysfs only reads it.
unsafe impl Sync for BinAttr {}

impl BinAttr {
    /// An attribute named `name` whose reads return `bytes`.
    // `struct attribute` has lockdep fields only with CONFIG_DEBUG_LOCK_ALLOC.
    #[allow(clippy::needless_update)]
    pub(crate) const fn new(name: &'static CStr, bytes: &'static [u8]) -> Self {
        Self(bindings::bin_attribute {
            attr: bindings::attribute {
                name: crate::char_ptr(name),
                mode: 0o444,
                // SAFETY: all-zero is valid for the rest, if any (lockdep keys, which a
                // static attribute does not need).
                ..unsafe { core::mem::zeroed() }
            },
            size: bytes.len(),
            // `sysfs_bin_attr_simple_read()` copies from here, clamped to `size` by sysfs.
            private: bytes.as_ptr().cast_mut().cast(),
            read: Some(c::sysfs_bin_attr_simple_read),
            // SAFETY: all-zero is valid for the rest (`Option`s of fn pointers).
            ..unsafe { core::mem::zeroed() }
        })
    }
}

/// A file in `/sys/kernel`, registered for as long as this value lives.
pub(crate) struct KernelFile {
    attr: &'static BinAttr,
}

impl KernelFile {
    /// Creates `/sys/kernel/<attr's name>`.
    pub(crate) fn create(attr: &'static BinAttr) -> Result<Self> {
        // SAFETY: `kernel_kobj` is the kernel's `/sys/kernel` kobject, registered for as long as
        // the kernel runs; `attr` is `'static` and immutable, as sysfs requires.
        to_result(unsafe { bindings::sysfs_create_bin_file(bindings::kernel_kobj, &attr.0) })?;
        Ok(Self { attr })
    }

    /// Whether `/sys/kernel` already has an entry named `name` (the kernel's own, with
    /// CONFIG_IKHEADERS=y): creating a second one would log a warning with a stack dump.
    pub(crate) fn exists(name: &CStr) -> bool {
        // SAFETY: `kernel_kobj` is registered (see above), so its `sd` is a live kernfs
        // directory; `name` is NUL-terminated; a null namespace is the untagged one.
        let kn = unsafe {
            c::kernfs_find_and_get_ns(
                (*bindings::kernel_kobj).sd,
                crate::char_ptr(name),
                ptr::null(),
            )
        };
        if kn.is_null() {
            return false;
        }
        // SAFETY: `kernfs_find_and_get_ns()` returned a node with a reference taken for us.
        unsafe { c::kernfs_put(kn) };
        true
    }
}

impl Drop for KernelFile {
    fn drop(&mut self) {
        // SAFETY: the file was created in `create` on the same kobject from the same attribute,
        // and is removed once, here.
        unsafe { bindings::sysfs_remove_bin_file(bindings::kernel_kobj, &self.attr.0) };
    }
}
