// SPDX-License-Identifier: GPL-2.0
//! Read-only procfs files whose contents are bytes in the module image: the procfs counterpart
//! of `debugfs_create_blob()`, and the kind of type a `kernel::proc_fs` could offer (the kernel
//! crate has no procfs abstraction yet).
//!
//! [`Blob::create`] makes `/proc/<name>`; dropping the [`Blob`] removes it. procfs calls the
//! operations below under its own rundown protection (`use_pde()`): `proc_remove()` waits for
//! calls in flight and makes later ones on files still open fail with `EIO`, so the bytes are
//! never read after the registration is gone. Reads go through `proc_read_iter`, so `read`,
//! `pread`, `readv`, `splice`, `sendfile` and `copy_file_range` all work.

use crate::c;
use core::{
    ffi::CStr,
    ptr::{self, NonNull},
};
use kernel::{bindings, error::code::*, ffi::c_int, prelude::*};

/// `/proc/<name>`, registered for as long as this value lives.
pub(crate) struct Blob {
    pde: NonNull<bindings::proc_dir_entry>,
}

// SAFETY: the entry is only passed to `proc_remove()`, which may run on any thread.
unsafe impl Send for Blob {}
// SAFETY: a shared `&Blob` gives no access to the entry.
unsafe impl Sync for Blob {}

impl Blob {
    /// Creates `/proc/<name>`, mode 0444 and `data.len()` bytes in `stat`, serving `data`.
    pub(crate) fn create(name: &'static CStr, data: &'static &'static [u8]) -> Result<Self> {
        let private = ptr::from_ref(data).cast_mut().cast();
        // SAFETY: `name`, `OPS` and `data` are `'static`, so they outlive the entry; a null
        // parent means `/proc`. procfs hands `data` back as the inode's private data.
        let pde = unsafe {
            c::proc_create_data(crate::char_ptr(name), 0o444, ptr::null_mut(), &OPS, private)
        };
        let pde = NonNull::new(pde).ok_or(ENOMEM)?;
        // SAFETY: `pde` is the live entry just created; a slice holds at most `isize::MAX` bytes.
        unsafe { c::proc_set_size(pde.as_ptr(), data.len() as i64) };
        Ok(Self { pde })
    }
}

impl Drop for Blob {
    fn drop(&mut self) {
        // SAFETY: `pde` came from `proc_create_data()` and is removed once, here.
        unsafe { c::proc_remove(self.pde.as_ptr()) };
    }
}

/// No `proc_write`, `proc_mmap` or `proc_ioctl`: procfs answers those itself (`EIO`, `ENOTTY`).
static OPS: c::proc_ops = c::proc_ops {
    proc_open: Some(open),
    proc_read_iter: Some(read_iter),
    proc_lseek: Some(lseek),
    // SAFETY: all-zero is valid for the remaining fields (flags and `Option`s of fn pointers).
    ..unsafe { core::mem::zeroed() }
};

/// The bytes that [`Blob::create`] registered for `file`.
///
/// # Safety
///
/// `file` must be an open file of a [`Blob`]'s entry, as procfs passes to the operations below.
unsafe fn data(file: *mut bindings::file) -> &'static [u8] {
    // SAFETY: `file` and its inode are valid (see above). The inode's private data
    // (`pde_data()`, an inline function the bindings lack) is the `&'static &'static [u8]`
    // given to `proc_create_data()` in `Blob::create`.
    unsafe { *(*(*file).f_inode).i_private.cast::<&'static [u8]>() }
}

/// Refuses opening for writing, for root too (mode 0444 alone does not stop root).
///
/// # Safety
///
/// procfs calls it with the valid `file` being opened.
unsafe extern "C" fn open(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: `file` is valid for the duration of the call.
    let flags = unsafe { (*file).f_flags };
    if flags & bindings::O_ACCMODE != bindings::O_RDONLY {
        return EACCES.to_errno();
    }
    0
}

/// Copies from the file position into the reader's buffers (user memory for `read`, pipe pages
/// for `splice` and `sendfile`), as much as they hold, and advances the position.
///
/// # Safety
///
/// procfs calls it with a valid `iocb` for an open file of a [`Blob`]'s entry, and a valid
/// destination `to`; nothing else uses either during the call.
unsafe extern "C" fn read_iter(iocb: *mut bindings::kiocb, to: *mut bindings::iov_iter) -> isize {
    // SAFETY: `iocb` is valid and `ki_filp` is an open file of a `Blob` (see above).
    let (data, pos) = unsafe { (data((*iocb).ki_filp), (*iocb).ki_pos) };
    // SAFETY: `to` is valid; `count` (read by the inline `iov_iter_count()` in C) is the room
    // left in it, in the anonymous union member every kind of iterator uses.
    let room = unsafe { (*to).__bindgen_anon_1.__bindgen_anon_1.as_ref().count };
    // The VFS refuses negative positions (`rw_verify_area`); past the end there is nothing.
    let rest = usize::try_from(pos)
        .ok()
        .and_then(|pos| data.get(pos..))
        .unwrap_or_default();
    if rest.is_empty() || room == 0 {
        return 0;
    }
    // SAFETY: `rest` is readable for its length and `to` is valid. This is `copy_to_iter()`
    // less its inline `check_copy_size()`, which guards slab and stack objects, not module data.
    let copied = unsafe { bindings::_copy_to_iter(rest.as_ptr().cast(), rest.len(), to) };
    if copied == 0 {
        return EFAULT.to_errno() as isize; // a bad user buffer: nothing copied although room
    }
    // `copied <= rest.len()`, so `pos + copied <= data.len() <= isize::MAX`: the sum cannot
    // overflow (`wrapping_add`, so that the kernel's overflow checks add no panic path here).
    let end = pos.wrapping_add(copied as i64);
    // SAFETY: `iocb` is valid (see above) and nothing else uses it during the call.
    unsafe { (*iocb).ki_pos = end };
    copied as isize
}

/// Seeks as in a regular file of the data's size (`SEEK_DATA` and `SEEK_HOLE` too; past the end
/// is allowed, negative positions are not), with the kernel's own code for it.
///
/// # Safety
///
/// procfs calls it with a valid open file of a [`Blob`]'s entry.
unsafe extern "C" fn lseek(
    file: *mut bindings::file,
    offset: bindings::loff_t,
    whence: c_int,
) -> bindings::loff_t {
    // SAFETY: `file` is an open file of a `Blob` (see above).
    let size = unsafe { data(file) }.len() as bindings::loff_t;
    // SAFETY: `file` is valid; the limit is `MAX_LFS_FILESIZE` of 64-bit kernels (a cast
    // expression bindgen cannot translate), the end of file is the data's size.
    unsafe { c::generic_file_llseek_size(file, offset, whence, bindings::loff_t::MAX, size) }
}
