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
//! them (with the `GNUmakefile` that `generated` adds). Nothing outside the two trees: symlinks are stored as links
//! when they stay inside, and left out (with a warning) when they point out.

use super::{Config, Content, Data, Entry, Tree};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::time::UNIX_EPOCH;

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
    for r in rules(tree, cfg) {
        // Source tree first: an object-tree file of the same name replaces it.
        let roots: &[&Path] = match (r.from, tree.split()) {
            (Side::Src, _) => &[&tree.src],
            (Side::Obj, _) | (Side::Both, false) => &[&tree.obj],
            (Side::Both, true) => &[&tree.src, &tree.obj],
        };
        for root in roots {
            let path = root.join(&r.path);
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            watch.push(path.clone());
            let mut found = Vec::new();
            match r.pick {
                Pick::File => found.push(r.path.clone()),
                Pick::Here(ok) => list(root, &r.path, ok, false, &mut found)?,
                Pick::Under(ok) if meta.is_dir() => list(root, &r.path, ok, true, &mut found)?,
                Pick::Under(_) => {}
            }
            for name in found {
                match entry(root, &name, cfg)? {
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

/// Relative paths of the files (and links) in `root/dir` whose name passes `ok`.
fn list(
    root: &Path,
    dir: &str,
    ok: fn(&str) -> bool,
    recurse: bool,
    out: &mut Vec<String>,
) -> Result<(), String> {
    let read =
        fs::read_dir(root.join(dir)).map_err(|e| format!("{}/{dir}: {e}", root.display()))?;
    for d in read {
        let d = d.map_err(|e| format!("{}/{dir}: {e}", root.display()))?;
        let name = d.file_name().to_string_lossy().into_owned();
        let rel = format!("{dir}/{name}");
        // file_type() does not follow links: a linked directory is a link, never walked into.
        let ft = d
            .file_type()
            .map_err(|e| format!("{}/{rel}: {e}", root.display()))?;
        if ft.is_dir() {
            if recurse {
                list(root, &rel, ok, true, out)?;
            }
        } else if ok(&name) {
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

/// The archive entry for `root/name`, or a warning when it must stay out.
fn entry(root: &Path, name: &str, cfg: &Config) -> Result<Found, String> {
    let path = root.join(name);
    let meta = fs::symlink_metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.file_type().is_symlink() {
        let target = fs::read_link(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let inside = Path::new(name)
            .parent()
            .is_some_and(|dir| stays_inside(dir, &target));
        return Ok(match (inside, target.to_str()) {
            (true, Some(t)) => Found::Take(Entry {
                data: Data::Link(t.into()),
                mode: 0o777,
            }),
            _ => Found::LeaveOut(format!(
                "left out {}: a link to {}, outside the tree",
                path.display(),
                target.display()
            )),
        });
    }
    if !meta.is_file() {
        return Ok(Found::LeaveOut(format!(
            "left out {}: not a regular file",
            path.display()
        )));
    }
    use std::os::unix::fs::PermissionsExt;
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    Ok(Found::Take(Entry {
        mode: if meta.permissions().mode() & 0o111 != 0 {
            0o755
        } else {
            0o644
        },
        data: Data::File {
            path,
            minify: cfg.minify && is_header(name),
            size: meta.len(),
            mtime_ns,
        },
    }))
}

/// Whether a link in `dir` (relative to the tree's root) to `target` resolves inside the tree.
fn stays_inside(dir: &Path, target: &Path) -> bool {
    let mut depth = dir.components().count();
    for c in target.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir if depth > 0 => depth -= 1,
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}
