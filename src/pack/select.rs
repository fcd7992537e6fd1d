// SPDX-License-Identifier: GPL-2.0
//! Which files go into the archive.
//!
//! Headers: every `*.h` under `include/` and `arch/$SRCARCH/include/` of the source and the
//! object tree, as upstream's `kernel/gen_kheaders.sh` takes them (an object-tree file wins over
//! a source-tree file of the same name). Build artifacts: what `make -C <extracted> M=...
//! modules` reads, found by building external modules from an extracted archive (see README):
//! the top Makefile, `arch/$SRCARCH/Makefile*`, the Kbuild makefiles and helpers in `scripts/`,
//! `.config`, `auto.conf`, `Module.symvers`, the generated headers, and the host programs
//! (fixdep, modpost, ...) with their sources, so that a target of another architecture rebuilds
//! them (with the `GNUmakefile` that `generated` adds). Nothing outside the two trees: every path is
//! opened beneath a tree's root without following links; a link is stored as a link when,
//! followed, it stays inside, and left out (with a warning) when it points out, loops or dangles.

use super::tree::{follow_beneath, mtime_ns, open_beneath, MAX_FILE};
use super::{Config, Content, Data, Entry, Tree};
use rustix::fs::{readlinkat, Dir, FileType, OFlags};
use rustix::io::Errno;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::rc::Rc;

pub struct Selection {
    /// By name: the path in the archive, relative, without a leading `./`.
    pub entries: BTreeMap<String, Entry>,
    /// Directories and files whose change means a new pack.
    pub watch: Vec<PathBuf>,
    pub warnings: Vec<String>,
}

impl Selection {
    /// Everything about the inputs that can change the archive, for the no-op check.
    pub fn fingerprint(&self) -> String {
        let mut s = String::new();
        for (name, e) in &self.entries {
            let what = match &e.data {
                Data::File {
                    size,
                    mtime_ns,
                    minify,
                    ..
                } => format!("{size} {mtime_ns} {minify}"),
                Data::Link(t) => format!("-> {t}"),
                Data::Generated(b) => super::sha256_hex(b),
            };
            s.push_str(&format!("{name} {:o} {what}\n", e.mode));
        }
        super::sha256_hex(s.as_bytes())
    }
}

/// Which tree a rule reads.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Src,
    Obj,
    Both,
}

/// How a rule picks files under its path.
enum Pick {
    /// The path itself, a file (skipped when absent).
    File,
    /// Files directly in the directory whose name passes the test.
    Here(fn(&str) -> bool),
    /// Files anywhere under the directory whose name passes the test.
    Under(fn(&str) -> bool),
}

struct Rule {
    from: Side,
    path: String,
    pick: Pick,
}

fn rule(from: Side, path: impl Into<String>, pick: Pick) -> Rule {
    Rule {
        from,
        path: path.into(),
        pick,
    }
}

fn is_header(name: &str) -> bool {
    name.ends_with(".h")
}

fn any(_: &str) -> bool {
    true
}

/// Sources, scripts and host programs, not build leftovers (objects, `.cmd` files, ...).
fn not_leftover(name: &str) -> bool {
    !(name.starts_with('.')
        || name.ends_with(".o")
        || name.ends_with(".s")
        || name == "mk_elfconfig")
}

/// The Kbuild makefiles and the few helpers they run for an external module.
fn kbuild_script(name: &str) -> bool {
    name.starts_with("Makefile")
        || matches!(
            name,
            "Kbuild.include"
                | "subarch.include"
                | "module.lds"
                | "module-common.c"
                | "modules-check.sh"
                | "pahole-version.sh"
                | "depmod.sh"
                | "check-local-export"
        )
}

fn rust_crate(name: &str) -> bool {
    name.ends_with(".rmeta") || (name.starts_with("lib") && name.ends_with(".so"))
}

fn arch_makefile(name: &str) -> bool {
    name.starts_with("Makefile") || name == "Kbuild.platforms" || name == "Platform"
}

fn rules(tree: &Tree, cfg: &Config) -> Vec<Rule> {
    use Pick::*;
    use Side::*;
    let a = &tree.srcarch;
    let mut r = vec![
        rule(Both, "include", Under(is_header)),
        rule(Both, format!("arch/{a}/include"), Under(is_header)),
    ];
    if cfg.content == Content::Headers {
        return r;
    }
    r.extend([
        // O= object trees have a Makefile of their own that includes the source tree's.
        rule(Src, "Makefile", File),
        rule(Src, format!("arch/{a}"), Here(arch_makefile)),
        rule(Obj, ".config", File),
        // Debian's headers: the kernel's CC and CROSS_COMPILE, which its Makefile includes.
        rule(Obj, ".kernelvariables", File),
        // The modules' linker script where Debian's headers keep it (Makefile.modfinal looks
        // in scripts/, then here).
        rule(Obj, format!("arch/{a}/module.lds"), File),
        rule(Obj, "Module.symvers", File),
        rule(Obj, "include/config/auto.conf", File),
        rule(Obj, "include/config/kernel.release", File),
        rule(Obj, "include/generated", Under(any)),
        rule(Obj, format!("arch/{a}/include/generated"), Under(any)),
        rule(Both, "scripts", Here(kbuild_script)),
        rule(Both, "scripts/basic", Under(not_leftover)),
        rule(Both, "scripts/include", Under(not_leftover)),
        rule(Both, "scripts/mod", Under(not_leftover)),
    ]);
    let on = |s: &str| tree.enabled(s);
    if on("CONFIG_MODVERSIONS") && !on("CONFIG_GENDWARFKSYMS") {
        r.push(rule(Both, "scripts/genksyms", Under(not_leftover)));
    }
    if on("CONFIG_GENDWARFKSYMS") {
        r.push(rule(Both, "scripts/gendwarfksyms", Under(not_leftover)));
    }
    if on("CONFIG_MODULE_SIG") {
        r.push(rule(Both, "scripts/sign-file.c", File));
        r.push(rule(Both, "scripts/ssl-common.h", File)); // 6.12+: sign-file.c includes it
        r.push(rule(Obj, "scripts/sign-file", File));
    }
    if on("CONFIG_FTRACE_MCOUNT_USE_RECORDMCOUNT") {
        for f in [
            "recordmcount.c",
            "recordmcount.h",
            "recordmcount.pl",
            "recordmcount",
        ] {
            r.push(rule(Both, format!("scripts/{f}"), File));
        }
    }
    if on("CONFIG_OBJTOOL") {
        r.push(rule(Obj, "tools/objtool/objtool", File));
        // Debian's linux-kbuild: `objtool` is a small program that runs `objtool.real-$SRCARCH`.
        r.push(rule(Obj, format!("tools/objtool/objtool.real-{a}"), File));
    }
    if on("CONFIG_DEBUG_INFO_BTF_MODULES") {
        r.push(rule(Obj, "tools/bpf/resolve_btfids/resolve_btfids", File));
    }
    if on("CONFIG_GCC_PLUGINS") {
        r.push(rule(
            Obj,
            "scripts/gcc-plugins",
            Here(|n| n.ends_with(".so")),
        ));
    }
    if cfg.rust && on("CONFIG_RUST") {
        // What rustc reads to build an out-of-tree module against the kernel crate: the crates'
        // metadata, the target, and the proc-macro libraries (`macros`; 7.x adds
        // `pin_init_internal` and `zerocopy_derive`). Those are host libraries built for the
        // build machine; they cannot be rebuilt elsewhere, because the kernel crate's metadata
        // pins their hashes, which cover their source paths (see README).
        r.push(rule(Obj, "rust", Here(rust_crate)));
        r.push(rule(Obj, "scripts/target.json", File));
    }
    r
}

pub fn select(tree: &Tree, cfg: &Config) -> Result<Selection, String> {
    let mut entries = BTreeMap::new();
    let mut watch = Vec::new();
    let mut warnings = Vec::new();
    watch.push(tree.obj.join(".config"));
    let (src, obj) = ((&tree.src, &tree.src_fd), (&tree.obj, &tree.obj_fd));
    for r in rules(tree, cfg) {
        // Source tree first: an object-tree file of the same name replaces it.
        let roots = match (r.from, tree.split()) {
            (Side::Src, _) => vec![src],
            (Side::Obj, _) | (Side::Both, false) => vec![obj],
            (Side::Both, true) => vec![src, obj],
        };
        for (root, fd) in roots {
            let path = root.join(&r.path);
            let is_dir = match lstat(fd, &r.path) {
                Ok((_, m)) => m.is_dir(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) if e.raw_os_error() == Some(Errno::LOOP.raw_os_error()) => {
                    let why = "reached through a link, which kheaders does not follow";
                    warnings.push(format!("left out {}: {why}", path.display()));
                    continue;
                }
                Err(e) => return Err(format!("{}: {e}", path.display())),
            };
            watch.push(path);
            // A directory is listed; anything else (a file, a link) is one entry.
            let mut found = Vec::new();
            match r.pick {
                Pick::Here(ok) if is_dir => {
                    list(root, fd, &r.path, ok, false, &mut found, &mut warnings)?
                }
                Pick::Under(ok) if is_dir => {
                    list(root, fd, &r.path, ok, true, &mut found, &mut warnings)?
                }
                _ => found.push(r.path.clone()),
            }
            for name in found {
                match entry(root, fd, &name, cfg)? {
                    Found::Take(e) => {
                        entries.insert(name, e);
                    }
                    Found::LeaveOut(w) => warnings.push(w),
                }
            }
        }
    }
    Ok(Selection {
        entries,
        watch,
        warnings,
    })
}

/// `rel` beneath `fd` opened as itself (a link is not followed), and its metadata.
fn lstat(fd: &OwnedFd, rel: &str) -> io::Result<(File, fs::Metadata)> {
    let f = File::from(open_beneath(fd, rel, OFlags::PATH | OFlags::NOFOLLOW)?);
    let m = f.metadata()?;
    Ok((f, m))
}

/// Relative paths of the files (and links) in `dir` beneath `fd` whose name passes `ok`, and of
/// those in its subdirectories when `recurse`. Names that are not UTF-8 stay out, with a warning.
fn list(
    root: &Path,
    fd: &OwnedFd,
    dir: &str,
    ok: fn(&str) -> bool,
    recurse: bool,
    out: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("{}/{dir}: {e}", root.display());
    let d = open_beneath(fd, dir, OFlags::RDONLY | OFlags::DIRECTORY).map_err(|e| err(&e))?;
    for e in Dir::new(d).map_err(|e| err(&e))? {
        let e = e.map_err(|e| err(&e))?;
        let name = e.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let Ok(name) = std::str::from_utf8(name) else {
            let name = String::from_utf8_lossy(name);
            warnings.push(format!(
                "left out {}/{dir}/{name}: the name is not UTF-8",
                root.display()
            ));
            continue;
        };
        let rel = format!("{dir}/{name}");
        // The entry itself, not what a link points to: a linked directory is never walked into.
        let is_dir = match e.file_type() {
            FileType::Directory => true,
            FileType::Unknown => lstat(fd, &rel).map_err(|e| err(&e))?.1.is_dir(),
            _ => false,
        };
        if is_dir {
            if recurse {
                list(root, fd, &rel, ok, true, out, warnings)?;
            }
        } else if ok(name) {
            out.push(rel);
        }
    }
    Ok(())
}

/// What to do with a file a rule found.
enum Found {
    Take(Entry),
    /// Left out, with a warning that says why.
    LeaveOut(String),
}

/// The archive entry for the file or link `name` beneath `fd`, or a warning when it must stay
/// out. A link goes in as a link when, followed, it stays inside the tree.
fn entry(root: &Path, fd: &Rc<OwnedFd>, name: &str, cfg: &Config) -> Result<Found, String> {
    let path = root.join(name);
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let (f, meta) = lstat(fd, name).map_err(|e| err(&e))?;
    if meta.file_type().is_symlink() {
        let target = readlinkat(&f, "", Vec::new()).map_err(|e| err(&e))?;
        let why = match (follow_beneath(fd, name), target.to_str()) {
            (Ok(()), Ok(t)) => {
                let data = Data::Link(t.into());
                return Ok(Found::Take(Entry { data, mode: 0o777 }));
            }
            (Ok(()), Err(_)) => "a name that is not UTF-8",
            (Err(Errno::LOOP), _) => "a loop of links",
            (Err(Errno::NOENT), _) => "which is not there",
            (Err(_), _) => "outside the tree",
        };
        let target = target.to_string_lossy();
        return Ok(Found::LeaveOut(format!(
            "left out {}: a link to {target}, {why}",
            path.display()
        )));
    }
    if !meta.is_file() {
        return Ok(Found::LeaveOut(format!(
            "left out {}: not a regular file",
            path.display()
        )));
    }
    if meta.len() > MAX_FILE {
        return Err(err(&format_args!(
            "{} bytes, more than kheaders takes from one file ({} MiB)",
            meta.len(),
            MAX_FILE >> 20
        )));
    }
    use std::os::unix::fs::PermissionsExt;
    Ok(Found::Take(Entry {
        mode: if meta.permissions().mode() & 0o111 != 0 {
            0o755
        } else {
            0o644
        },
        data: Data::File {
            root: fd.clone(),
            path,
            minify: cfg.minify && is_header(name),
            size: meta.len(),
            mtime_ns: mtime_ns(&meta),
        },
    }))
}
