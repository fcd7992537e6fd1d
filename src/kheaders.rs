// SPDX-License-Identifier: GPL-2.0
//! kheaders: the headers and build artifacts of this kernel, served read-only at
//! `/proc/kheaders.tar.xz` (and at `/sys/kernel/kheaders.tar.xz`, where bcc looks, when the
//! kernel does not already have that file).
//!
//! The archive is linked into the module image (`include_bytes!`): nothing is copied or
//! allocated at load time, and `rmmod` gives it all back. procfs and sysfs call us under their
//! own rundown protection (`use_pde()` / kernfs active references), so removing the files in
//! `Drop` waits for readers in flight, and files still open afterwards fail with `EIO`.

use core::{
    ptr,
    sync::atomic::{AtomicBool, AtomicPtr, Ordering},
};
use kernel::{
    bindings,
    error::code::*,
    ffi::{c_char, c_int, c_void},
    prelude::*,
    uaccess::UserSlice,
};

#[path = "blob_io.rs"]
#[allow(unreachable_pub, dead_code)]
mod blob_io;
use blob_io::{SeekError, Whence};

/// Bindings for `linux/proc_fs.h`, which the kernel crate lacks: generated at build time by
/// Kbuild with the kernel's own bindgen and C flags (see `Kbuild`), so `struct proc_ops` always
/// has this kernel's layout; the other types come from the kernel crate's bindings.
#[allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    dead_code,
    unreachable_pub
)]
mod procfs {
    use kernel::{bindings::*, ffi};
    include!("proc_bindings.rs"); // from src/bindings.h
}

/// The packed archive, written by `build.rs` (see `Makefile`).
static BLOB: &[u8] = include_bytes!("../target/kheaders/kheaders.tar.xz");
/// The file name in /proc and /sys/kernel, NUL-terminated for C. A plain byte string: its
/// pointer is usable in statics on every kernel (the kernel crate's `CStr` changed in 7.x).
const NAME: &[u8] = b"kheaders.tar.xz\0";

const fn c_str_ptr(s: &'static [u8]) -> *const c_char {
    s.as_ptr().cast()
}

// No `author` here: 6.12's `module!` has `author`, 7.x's `authors`; it is in `modinfo!` below.
module! {
    type: KHeaders,
    name: "kheaders",
    description: "Kernel headers and build artifacts at /proc/kheaders.tar.xz",
    license: "GPL",
}

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
static PARAM_PROC: AtomicBool = AtomicBool::new(true);
static PARAM_SYSFS: AtomicBool = AtomicBool::new(true);

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
                name: c_str_ptr(concat!($name, "\0").as_bytes()),
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
bool_param!(
    "proc",
    PARAM_PROC,
    "Serve /proc/kheaders.tar.xz (default: 1)"
);
bool_param!(
    "sysfs",
    PARAM_SYSFS,
    "Serve /sys/kernel/kheaders.tar.xz unless the kernel has one (default: 1)"
);

fn blob_size() -> i64 {
    // A slice never holds more than `isize::MAX` bytes.
    BLOB.len() as i64
}

fn errno(e: Error) -> isize {
    e.to_errno() as isize
}

// ---- /proc/kheaders.tar.xz ------------------------------------------------------------------

/// Refuses any open for writing, for root too (mode 0444 alone does not stop root).
unsafe extern "C" fn proc_open(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: procfs passes the file being opened, valid for the duration of the call.
    let flags = unsafe { (*file).f_flags };
    if flags & bindings::O_ACCMODE != bindings::O_RDONLY {
        return EACCES.to_errno();
    }
    0
}

/// `UserSlice::new` takes a `UserPtr`: an address in 6.12, a type of its own in 7.x (Kbuild
/// sets the cfg from this kernel's `rust/kernel/uaccess.rs`).
fn user_ptr(addr: usize) -> kernel::uaccess::UserPtr {
    #[cfg(kheaders_user_ptr_struct)]
    let ptr = kernel::uaccess::UserPtr::from_addr(addr);
    #[cfg(not(kheaders_user_ptr_struct))]
    let ptr = addr;
    ptr
}

/// Copies the requested part of the blob to user space in one copy.
unsafe extern "C" fn proc_read(
    _file: *mut bindings::file,
    buf: *mut c_char,
    count: usize,
    ppos: *mut bindings::loff_t,
) -> isize {
    // SAFETY: procfs passes a valid pointer to the file position for the duration of the call,
    // and the VFS serialises position updates of this regular file (`f_pos_lock`).
    let pos = unsafe { *ppos };
    let Some(bytes) = blob_io::read_range(pos, count, BLOB.len()).and_then(|r| BLOB.get(r)) else {
        return errno(EINVAL);
    };
    if bytes.is_empty() {
        return 0;
    }
    // `UserSlice` checks and copies with `copy_to_user`; `buf` is the caller's user pointer.
    if let Err(e) = UserSlice::new(user_ptr(buf as usize), bytes.len())
        .writer()
        .write_slice(bytes)
    {
        return errno(e);
    }
    // SAFETY: as above; `bytes.len()` fits the blob, so the sum cannot overflow.
    unsafe { *ppos = pos + bytes.len() as i64 };
    bytes.len() as isize
}

unsafe extern "C" fn proc_lseek(
    file: *mut bindings::file,
    offset: bindings::loff_t,
    whence: c_int,
) -> bindings::loff_t {
    let whence = match whence as u32 {
        bindings::SEEK_SET => Whence::Set,
        bindings::SEEK_CUR => Whence::Cur,
        bindings::SEEK_END => Whence::End,
        bindings::SEEK_DATA => Whence::Data,
        bindings::SEEK_HOLE => Whence::Hole,
        _ => return EINVAL.to_errno().into(),
    };
    // SAFETY: procfs passes the open file, valid for the duration of the call; the VFS holds
    // `f_pos_lock` around `lseek` on regular files, so nobody else moves `f_pos` meanwhile.
    let pos = unsafe { (*file).f_pos };
    match blob_io::seek(pos, offset, whence, blob_size()) {
        Ok(new) => {
            // SAFETY: as above.
            unsafe { (*file).f_pos = new };
            new
        }
        Err(SeekError::Invalid) => EINVAL.to_errno().into(),
        Err(SeekError::NoData) => ENXIO.to_errno().into(),
    }
}

/// No `proc_write`, `proc_mmap` or `proc_ioctl`: procfs answers those with `EIO` / `ENOTTY`.
static PROC_OPS: procfs::proc_ops = procfs::proc_ops {
    proc_open: Some(proc_open),
    proc_read: Some(proc_read),
    proc_lseek: Some(proc_lseek),
    // SAFETY: all-zero is valid for the remaining fields (flags and `Option` of fn pointers).
    ..unsafe { core::mem::zeroed() }
};

// ---- /sys/kernel/kheaders.tar.xz (bcc's path) -----------------------------------------------

/// What sysfs passes to `read`: a `const` pointer since the kernel constified
/// `struct bin_attribute` (Kbuild sets the cfg from this kernel's `linux/sysfs.h`).
#[cfg(kheaders_const_bin_attr)]
type BinAttrPtr = *const bindings::bin_attribute;
#[cfg(not(kheaders_const_bin_attr))]
type BinAttrPtr = *mut bindings::bin_attribute;

/// sysfs reads at most a page at a time into a kernel buffer.
unsafe extern "C" fn sysfs_read(
    _file: *mut bindings::file,
    _kobj: *mut bindings::kobject,
    _attr: BinAttrPtr,
    buf: *mut c_char,
    off: bindings::loff_t,
    count: usize,
) -> isize {
    let Some(bytes) = blob_io::read_range(off, count, BLOB.len()).and_then(|r| BLOB.get(r)) else {
        return errno(EINVAL);
    };
    // SAFETY: sysfs passes a kernel buffer of at least `count` bytes (`bytes.len() <= count`),
    // which cannot overlap the module's read-only data.
    unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), bytes.len()) };
    bytes.len() as isize
}

/// The attribute sysfs keeps a pointer to while the file exists.
struct BinAttr(core::cell::UnsafeCell<bindings::bin_attribute>);
// SAFETY: written only in `init` before the file is created; afterwards sysfs only reads it.
unsafe impl Sync for BinAttr {}

static SYSFS_ATTR: BinAttr = BinAttr(core::cell::UnsafeCell::new(bindings::bin_attribute {
    attr: bindings::attribute {
        name: c_str_ptr(NAME),
        mode: 0o444,
        // SAFETY: all-zero is valid for the rest (lockdep key pointers: a static attribute
        // needs none).
        ..unsafe { core::mem::zeroed() }
    },
    read: Some(sysfs_read),
    // SAFETY: as above; `size` is set in `init`.
    ..unsafe { core::mem::zeroed() }
}));

/// Whether /sys/kernel already has a file of our name.
fn sysfs_taken() -> bool {
    // SAFETY: `kernel_kobj` is the kernel's registered `/sys/kernel` kobject, so its `sd` is a
    // live kernfs directory; `NAME` is NUL-terminated; a null namespace is the untagged one.
    let kn = unsafe {
        procfs::kernfs_find_and_get_ns((*bindings::kernel_kobj).sd, c_str_ptr(NAME), ptr::null())
    };
    if kn.is_null() {
        return false;
    }
    // SAFETY: `kernfs_find_and_get_ns` returned a node with a reference taken for us.
    unsafe { procfs::kernfs_put(kn) };
    true
}

// ---- the module ------------------------------------------------------------------------------

struct KHeaders {
    proc_entry: AtomicPtr<bindings::proc_dir_entry>,
    sysfs: bool,
}

impl kernel::Module for KHeaders {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let mut this = KHeaders {
            proc_entry: AtomicPtr::new(ptr::null_mut()),
            sysfs: false,
        };
        if PARAM_PROC.load(Ordering::Relaxed) {
            // SAFETY: `NAME` and `PROC_OPS` are static and outlive the entry, which `Drop`
            // removes; a null parent means `/proc`.
            let pde =
                unsafe { procfs::proc_create(c_str_ptr(NAME), 0o444, ptr::null_mut(), &PROC_OPS) };
            if pde.is_null() {
                pr_err!("cannot create /proc/kheaders.tar.xz\n");
                return Err(ENOMEM);
            }
            // SAFETY: `pde` was just created and is not yet visible to readers who could stat it
            // before its size is set in a way that matters (`stat` shows the size from now on).
            unsafe { procfs::proc_set_size(pde, blob_size()) };
            this.proc_entry = AtomicPtr::new(pde);
        }
        if PARAM_SYSFS.load(Ordering::Relaxed) && sysfs_taken() {
            // A kernel with CONFIG_IKHEADERS=y serves it already: keep that one, and look first,
            // since creating a duplicate logs a warning with a stack dump (sysfs_warn_dup).
            pr_info!("/sys/kernel/kheaders.tar.xz is the kernel's own (CONFIG_IKHEADERS=y): serving /proc only\n");
        } else if PARAM_SYSFS.load(Ordering::Relaxed) {
            let attr = SYSFS_ATTR.0.get();
            // SAFETY: the attribute is not registered yet, so nobody else reads it; `kernel_kobj`
            // is the kernel's `/sys/kernel` kobject, valid while the kernel runs.
            let ret = unsafe {
                (*attr).size = BLOB.len();
                bindings::sysfs_create_bin_file(bindings::kernel_kobj, attr)
            };
            match ret {
                0 => this.sysfs = true,
                r => {
                    pr_err!("cannot create /sys/kernel/kheaders.tar.xz: error {}\n", r);
                    return Err(Error::from_errno(r)); // `this` drops: /proc entry removed
                }
            }
        }
        pr_info!(
            "serving {} bytes of headers for {}\n",
            BLOB.len(),
            include_str!("../target/kheaders/kheaders.tar.xz.release")
        );
        Ok(this)
    }
}

impl Drop for KHeaders {
    fn drop(&mut self) {
        let pde = self.proc_entry.load(Ordering::Relaxed);
        if !pde.is_null() {
            // SAFETY: `pde` came from `proc_create` and is removed once; `proc_remove` waits for
            // calls in flight (`use_pde`) and makes later ones on open files fail.
            unsafe { procfs::proc_remove(pde) };
        }
        if self.sysfs {
            // SAFETY: the file was created in `init` on the same kobject with the same attribute;
            // kernfs drains active readers before this returns.
            unsafe { bindings::sysfs_remove_bin_file(bindings::kernel_kobj, SYSFS_ATTR.0.get()) };
        }
    }
}
