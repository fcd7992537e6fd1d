// SPDX-License-Identifier: GPL-2.0
//! A configured kernel build tree, read the way Kbuild reads it, and never left: every file is
//! opened beneath a tree's root without following links (see [`open_beneath`]).

use rustix::fs::{openat2, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use std::collections::BTreeMap;
use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::UNIX_EPOCH;

/// The largest file kheaders packs: 256 MiB, four times the largest of a kernel tree (6.12's
/// `rust/libcore.rmeta`, 58 MB). The archive is made in memory, so this bounds what one file
/// (a sparse file of terabytes named `*.h`, say) can cost.
pub const MAX_FILE: u64 = 256 << 20;

#[derive(Debug)]
pub struct Tree {
    /// The object tree (`O=`), where `.config` and the generated files are; or a distribution's
    /// headers tree, which is both.
    pub obj: PathBuf,
    /// The source tree; the same directory for in-tree builds.
    pub src: PathBuf,
    /// The two roots, open: files are read beneath these, so a tree replaced meanwhile cannot mix in.
    pub obj_fd: Rc<OwnedFd>,
    pub src_fd: Rc<OwnedFd>,
    /// The kernel's `SRCARCH` (x86, arm64, ...), from its configuration, never from the host.
    pub srcarch: String,
    /// `include/config/kernel.release`.
    pub release: String,
    /// `include/config/auto.conf`: CONFIG_* symbols and their values, quotes removed.
    pub config: BTreeMap<String, String>,
}

impl Tree {
    pub fn open(kdir: &Path) -> Result<Tree, String> {
        let obj = fs::canonicalize(kdir).map_err(|e| {
            format!(
                "KDIR {}: {e}; give KDIR=<kernel build tree>",
                kdir.display()
            )
        })?;
        let obj_fd = Rc::new(open_root(&obj)?);
        // Absent is for the caller to explain; a link, or openat2 refused (ENOSYS under an old
        // seccomp profile), is said as it is.
        let read = |rel: &str| match read_beneath(&obj_fd, rel) {
            Ok((b, _)) => Ok(String::from_utf8(b).ok()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.raw_os_error() == Some(Errno::LOOP.raw_os_error()) => Err(format!(
                "{}/{rel}: a symbolic link on the way, which kheaders does not follow",
                obj.display()
            )),
            Err(e) => Err(format!("{}/{rel}: {e}", obj.display())),
        };
        let missing = |what: &str| {
            format!(
                "{} is configured but not built (no {what}): run make in it first",
                obj.display()
            )
        };
        // A distribution's headers tree (scripts/package/install-extmod-build) has no .config,
        // but auto.conf starts with the same `# Linux/<arch>` line.
        let dotconfig = read(".config")?;
        let autoconf = read("include/config/auto.conf")?.ok_or_else(|| match dotconfig {
            Some(_) => missing("include/config/auto.conf"),
            None => format!(
                "{} is not a configured kernel tree (no .config)",
                obj.display()
            ),
        })?;
        let release = read("include/config/kernel.release")?
            .ok_or_else(|| missing("include/config/kernel.release"))?
            .trim()
            .to_string();

        // O= builds leave a `source` link to the source tree (Makefile: `ln -fsn $(srctree) source`).
        let (src, src_fd) = match fs::symlink_metadata(obj.join("source")) {
            Ok(m) if m.file_type().is_symlink() => {
                let src = fs::canonicalize(obj.join("source"))
                    .map_err(|e| format!("{}/source: {e}", obj.display()))?;
                let fd = Rc::new(open_root(&src)?);
                (src, fd)
            }
            _ => (obj.clone(), obj_fd.clone()),
        };
        // A headers tree has the Makefile and scripts/ but no Kbuild at the top.
        if !src.join("Makefile").is_file() || !src.join("scripts/Kbuild.include").is_file() {
            return Err(format!("{} is not a kernel source tree", src.display()));
        }

        let srcarch = srcarch_from_dotconfig(dotconfig.as_deref().unwrap_or(&autoconf))
            .ok_or_else(|| format!("{}/.config has no `# Linux/<arch>` line", obj.display()))?;
        if !src.join("arch").join(&srcarch).join("Makefile").is_file() {
            return Err(format!(
                "{}/.config is for ARCH {srcarch}, which {} does not have",
                obj.display(),
                src.display()
            ));
        }
        Ok(Tree {
            obj,
            src,
            obj_fd,
            src_fd,
            srcarch,
            release,
            config: parse_autoconf(&autoconf),
        })
    }

    /// Whether a bool/tristate option is `y`.
    pub fn enabled(&self, sym: &str) -> bool {
        self.config.get(sym).is_some_and(|v| v == "y")
    }

    /// A string option's value, or "" when it is not set.
    pub fn value(&self, sym: &str) -> &str {
        self.config.get(sym).map_or("", String::as_str)
    }

    /// Whether source and object trees differ (an `O=` build).
    pub fn split(&self) -> bool {
        self.src != self.obj
    }

    /// An error when `kdir` or the source tree is no longer the directory opened at the start:
    /// it was replaced while being packed, and the archive may not be what `kdir` holds now.
    pub fn check_not_replaced(&self, kdir: &Path) -> Result<(), String> {
        let same = |p: &Path, fd: &OwnedFd| match (rustix::fs::stat(p), rustix::fs::fstat(fd)) {
            (Ok(a), Ok(b)) => (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino),
            _ => false,
        };
        if same(kdir, &self.obj_fd) && same(&self.src, &self.src_fd) {
            return Ok(());
        }
        Err(format!(
            "{} was replaced while it was being packed: run make again",
            kdir.display()
        ))
    }
}

fn open_root(dir: &Path) -> Result<OwnedFd, String> {
    rustix::fs::open(
        dir,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("{}: {e}", dir.display()))
}

/// Opens `rel` beneath the tree root `dir` without following any symbolic link (openat2 with
/// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): a link on the way fails with ELOOP, so nothing
/// outside the tree is reached, whatever is swapped in. With `O_PATH | O_NOFOLLOW`, a link at the
/// end is opened itself. O_NONBLOCK (refused by openat2 with O_PATH): a FIFO swapped in does
/// not hang the open.
pub fn open_beneath(dir: &OwnedFd, rel: &str, mut flags: OFlags) -> io::Result<OwnedFd> {
    let how = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    if !flags.contains(OFlags::PATH) {
        flags |= OFlags::NONBLOCK;
    }
    flags |= OFlags::CLOEXEC;
    Ok(openat2(dir, rel, flags, Mode::empty(), how)?)
}

/// Where the link `rel` beneath `dir` leads, followed as far as it goes without leaving `dir`:
/// an error when it points outside (EXDEV), loops (ELOOP) or leads nowhere (ENOENT).
pub fn follow_beneath(dir: &OwnedFd, rel: &str) -> Result<(), Errno> {
    let how = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    openat2(dir, rel, OFlags::PATH | OFlags::CLOEXEC, Mode::empty(), how).map(drop)
}

/// The bytes of the regular file `rel` beneath `dir` (see [`open_beneath`]), at most
/// [`MAX_FILE`] + 1 of them, and its metadata after reading.
pub fn read_beneath(dir: &OwnedFd, rel: &str) -> io::Result<(Vec<u8>, Metadata)> {
    let mut f = File::from(open_beneath(dir, rel, OFlags::RDONLY)?);
    if !f.metadata()?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    let mut data = Vec::new();
    (&mut f).take(MAX_FILE + 1).read_to_end(&mut data)?;
    Ok((data, f.metadata()?))
}

pub fn mtime_ns(m: &Metadata) -> u128 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

/// `# Linux/x86 6.12.117 Kernel Configuration` -> x86. Kconfig writes `$(ARCH)` there, which can
/// be x86_64 or i386 when ARCH was given so; SRCARCH maps those the way the top Makefile does.
fn srcarch_from_dotconfig(dotconfig: &str) -> Option<String> {
    let line = dotconfig.lines().find_map(|l| l.strip_prefix("# Linux/"))?;
    let arch = line.split_whitespace().next()?;
    Some(
        match arch {
            "x86_64" | "i386" => "x86",
            "sparc32" | "sparc64" => "sparc",
            "sh64" => "sh",
            "parisc64" => "parisc",
            a => a,
        }
        .to_string(),
    )
}

fn parse_autoconf(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.starts_with("CONFIG_"))
        .map(|(k, v)| {
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            (k.to_string(), v.replace("\\\"", "\"").replace("\\\\", "\\"))
        })
        .collect()
}
