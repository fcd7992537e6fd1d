// SPDX-License-Identifier: GPL-2.0
//! The packer: gathers a configured kernel tree's headers and build artifacts into a
//! deterministic `.tar.xz` (see README, "What is in the archive").
//!
//! - [`tree`] reads the kernel tree: where source and object trees are, its ARCH, its config.
//! - [`select`] decides which files of the tree go in.
//! - [`generated`] writes the files kheaders adds itself (`GNUmakefile`, `kheaders.txt`, ...).
//! - [`archive`] writes the tar (sorted, owner 0, normalised modes, one mtime) and xz.
//! - [`minify`] strips comments and blanks from headers, keeping every line.
//!
//! `build.rs` calls [`cargo_main`]; the tests call [`pack`] on fixture trees.

mod archive;
mod generated;
mod minify;
mod select;
mod tree;

use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::rc::Rc;

pub use tree::Tree;

/// What the archive carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// Upstream's set: headers only.
    Headers,
    /// Headers plus what an external-module build needs.
    Full,
}

/// One archive member (its name, the path in the archive, is the key it is stored under).
#[derive(Debug)]
pub struct Entry {
    pub data: Data,
    /// 0o644 or 0o755 for files.
    pub mode: u32,
}

#[derive(Debug)]
pub enum Data {
    /// A file of one of the trees, read beneath `root` by its name; `path` is for messages,
    /// `size` and `mtime_ns` what select saw; `minify` for C headers.
    File {
        root: Rc<OwnedFd>,
        path: PathBuf,
        minify: bool,
        size: u64,
        mtime_ns: u128,
    },
    /// A symbolic link that stays inside the tree.
    Link(String),
    /// A file kheaders writes itself.
    Generated(Vec<u8>),
}

/// What to pack and how; everything that decides the archive's bytes.
#[derive(Debug, Clone)]
pub struct Config {
    /// The kernel build tree (`KDIR`, the `O=` object tree when there is one).
    pub kdir: PathBuf,
    /// Where the archive goes; `<out>.sha256` and `<out>.release` are written beside it.
    pub out: PathBuf,
    /// Headers only (upstream's set) or headers plus what an external-module build needs.
    pub content: Content,
    /// Add the Rust metadata an out-of-tree Rust module build needs (opt-in: it is large).
    pub rust: bool,
    /// Strip comments and blanks from headers (line-preserving).
    pub minify: bool,
    /// mtime of every entry (seconds since the epoch).
    pub mtime: u64,
}

/// What a pack did, for the one-line summary.
#[derive(Debug)]
pub struct Summary {
    pub files: usize,
    pub tar_bytes: u64,
    pub xz_bytes: u64,
    /// False when the inputs were unchanged and the previous archive was kept as it was.
    pub rewritten: bool,
    /// Directories and files whose change must trigger a new pack.
    pub watch: Vec<PathBuf>,
    /// Things the user should know (symlinks left out, ...).
    pub warnings: Vec<String>,
}

/// Entry point for build.rs: configuration from the environment, results to Cargo.
pub fn cargo_main() -> Result<(), String> {
    for var in ENV_VARS {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let Some(kdir) = std::env::var_os("KHEADERS_KDIR") else {
        return Ok(()); // cargo build/test on its own: nothing to pack.
    };
    let out = std::env::var_os("KHEADERS_OUT")
        .map(PathBuf::from)
        .ok_or("KHEADERS_KDIR is set but KHEADERS_OUT is not: run `make`, which sets both")?;
    let cfg = Config {
        kdir: PathBuf::from(kdir),
        out,
        content: match env("KHEADERS_CONTENT").as_deref() {
            None | Some("") | Some("full") => Content::Full,
            Some("headers") => Content::Headers,
            Some(other) => return Err(format!("KHEADERS_CONTENT={other}: use full or headers")),
        },
        rust: flag("KHEADERS_RUST", false)?,
        minify: flag("KHEADERS_MINIFY", true)?,
        mtime: mtime_from_env()?,
    };
    let s = pack(&cfg)?;
    // The module's modinfo `version` (dkms compares it with an installed module of our name).
    let version = with_suffix(&cfg.out, ".version");
    write_if_changed(&[(&version, env!("CARGO_PKG_VERSION").as_bytes())])?;
    for w in &s.watch {
        println!("cargo:rerun-if-changed={}", w.display());
    }
    for w in &s.warnings {
        println!("cargo:warning={w}");
    }
    if s.tar_bytes > 0 {
        // Cargo shows build-script output only on failure: leave the line for the Makefile.
        let line = format!(
            "  PACK    {}: {} files, {} bytes in, {} bytes out (xz ratio {:.3})\n",
            cfg.out.display(),
            s.files,
            s.tar_bytes,
            s.xz_bytes,
            s.xz_bytes as f64 / s.tar_bytes as f64
        );
        println!("cargo:warning={}", line.trim());
        write_if_changed(&[(&with_suffix(&cfg.out, ".packed"), line.as_bytes())])?;
    }
    Ok(())
}

/// Every variable the archive depends on (Cargo reruns build.rs when one changes).
/// `KHEADERS_OUT_ID` is the Makefile's `stat` of the archive file: it changes when the archive is
/// deleted or replaced behind our back, so that build.rs runs again, and [`pack`] then writes it
/// again because it no longer matches its `.sha256`.
const ENV_VARS: &[&str] = &[
    "KHEADERS_KDIR",
    "KHEADERS_OUT",
    "KHEADERS_OUT_ID",
    "KHEADERS_CONTENT",
    "KHEADERS_RUST",
    "KHEADERS_MINIFY",
    "SOURCE_DATE_EPOCH",
    "KBUILD_BUILD_TIMESTAMP",
];

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn flag(name: &str, default: bool) -> Result<bool, String> {
    match env(name).as_deref() {
        None | Some("") => Ok(default),
        Some("1" | "y" | "yes") => Ok(true),
        Some("0" | "n" | "no") => Ok(false),
        Some(v) => Err(format!("{name}={v}: use 1 or 0")),
    }
}

/// The entries' mtime: `SOURCE_DATE_EPOCH`, else `KBUILD_BUILD_TIMESTAMP` (any date `date -d`
/// reads, as Kbuild accepts), else a fixed value, so that the time of the build never shows.
fn mtime_from_env() -> Result<u64, String> {
    if let Some(s) = env("SOURCE_DATE_EPOCH").filter(|s| !s.is_empty()) {
        return s
            .trim()
            .parse()
            .map_err(|_| format!("SOURCE_DATE_EPOCH={s} is not a number of seconds"));
    }
    if let Some(ts) = env("KBUILD_BUILD_TIMESTAMP").filter(|s| !s.is_empty()) {
        let out = std::process::Command::new("date")
            .args(["-d", &ts, "+%s"])
            .output()
            .map_err(|e| format!("running date: {e}"))?;
        let secs = String::from_utf8_lossy(&out.stdout);
        return secs
            .trim()
            .parse()
            .map_err(|_| format!("KBUILD_BUILD_TIMESTAMP={ts}: date -d cannot read it"));
    }
    Ok(DEFAULT_MTIME)
}

/// 2019-04-26 00:00:00 UTC, the day CONFIG_IKHEADERS was merged.
pub const DEFAULT_MTIME: u64 = 1_556_236_800;

/// Packs `cfg.kdir` into `cfg.out`. The archive is only rewritten when its bytes change, and
/// not even packed when no input changed since the last pack (same files, sizes, mtimes) and
/// the outputs still hold what that pack wrote.
pub fn pack(cfg: &Config) -> Result<Summary, String> {
    pack_with_hook(cfg, || {})
}

/// [`pack`], calling `between` after the files are chosen and before they are read: the tests
/// change the tree there, as a build running in it at the same time would.
pub fn pack_with_hook(cfg: &Config, between: impl FnOnce()) -> Result<Summary, String> {
    let tree = Tree::open(&cfg.kdir)?;
    let mut sel = select::select(&tree, cfg)?;
    if cfg.content == Content::Full {
        // Ours replace any file of the tree of the same name.
        sel.entries.extend(generated::files(&tree, cfg));
    }
    let release_path = with_suffix(&cfg.out, ".release");
    let sha_path = with_suffix(&cfg.out, ".sha256");
    let stamp_path = with_suffix(&cfg.out, ".inputs");

    // The packer's own binary is an input too: a new packer may pack differently.
    let packer = std::env::current_exe()
        .and_then(fs::metadata)
        .ok()
        .map(|m| (m.len(), m.modified().ok()));
    let stamp = format!("{cfg:?}\n{packer:?}\n{}", sel.fingerprint());
    let read = |p: &Path| fs::read(p).unwrap_or_default();
    let unchanged = read(&stamp_path) == stamp.as_bytes()
        && read(&release_path) == tree.release.as_bytes()
        && fs::read(&cfg.out).is_ok_and(|xz| read(&sha_path) == sha256_hex(&xz).as_bytes());
    let mut summary = Summary {
        files: sel.entries.len(),
        tar_bytes: 0,
        xz_bytes: 0,
        rewritten: false,
        watch: sel.watch.clone(),
        warnings: sel.warnings.clone(),
    };
    if unchanged {
        return Ok(summary);
    }

    between();
    let (xz, tar_bytes) = archive::write(&sel.entries, cfg)?;
    // The files were read beneath the roots opened at the start: a KDIR replaced since would
    // not show in the archive.
    tree.check_not_replaced(&cfg.kdir)?;
    summary.tar_bytes = tar_bytes;
    summary.xz_bytes = xz.len() as u64;
    let sha = sha256_hex(&xz);
    summary.rewritten = write_if_changed(&[
        (&cfg.out, &xz),
        (&sha_path, sha.as_bytes()),
        (&release_path, tree.release.as_bytes()),
    ])?;
    write_if_changed(&[(&stamp_path, stamp.as_bytes())])?;
    Ok(summary)
}

/// The SHA-256 of `data`, as 64 lowercase hex digits.
fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Writes each file that does not hold its data already, through temporary files that are
/// renamed only once all are written: on an error (a full disk) every file keeps its bytes.
/// A file that already holds its data keeps its mtime too. True when any file was written.
pub fn write_if_changed(files: &[(&Path, &[u8])]) -> Result<bool, String> {
    let changed: Vec<_> = files
        .iter()
        .filter(|(path, data)| fs::read(path).ok().as_deref() != Some(*data))
        .collect();
    let tmp = |path: &Path| with_suffix(path, &format!(".tmp{}", std::process::id()));
    let write = |path: &Path, data: &[u8]| {
        fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
        let mut f = fs::File::create(tmp(path))?;
        f.write_all(data)?;
        f.sync_all()
    };
    let err = |path: &Path, e: std::io::Error| format!("writing {}: {e}", path.display());
    let written = changed
        .iter()
        .try_for_each(|(path, data)| write(path, data).map_err(|e| err(path, e)));
    for (path, _) in &changed {
        match written {
            Ok(()) => fs::rename(tmp(path), path).map_err(|e| err(path, e))?,
            Err(_) => drop(fs::remove_file(tmp(path))),
        }
    }
    written.map(|()| !changed.is_empty())
}
