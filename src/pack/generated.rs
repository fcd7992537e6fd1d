// SPDX-License-Identifier: GPL-2.0
//! The files kheaders adds to a full archive: `kheaders.txt` (what the kernel was built with,
//! for people), `GNUmakefile` (the same for make: the kernel's compiler by default, a warning
//! for another one, host programs rebuilt when they cannot run), the rebuild script, and
//! `kheaders-tree`, which installs the archive as the running kernel's build tree.

use super::{Config, Data, Entry, Tree};

/// The clang major version of a clang-built kernel (`CONFIG_CLANG_VERSION`, e.g. 190001 for
/// 19.0.1), or `None` for GCC. The archive's users pick their LLVM= from it (GNUmakefile).
fn clang_major(tree: &Tree) -> Option<u32> {
    if tree.value("CONFIG_CC_IS_CLANG") != "y" {
        return None;
    }
    tree.value("CONFIG_CLANG_VERSION")
        .parse::<u32>()
        .ok()
        .map(|v| v / 10000)
}

/// The files, by name in the archive.
pub fn files(tree: &Tree, cfg: &Config) -> [(String, Entry); 4] {
    let cc = tree.value("CONFIG_CC_VERSION_TEXT");
    let rustc = if cfg.rust {
        tree.value("CONFIG_RUSTC_VERSION_TEXT")
    } else {
        ""
    };
    let clang = clang_major(tree);
    let major = clang.map(|m| m.to_string()).unwrap_or_default();
    let make_text = |s: &str| s.replace(['#', '$', '\n'], "");
    let makefile = include_str!("files/GNUmakefile")
        .replace("@CC@", &make_text(cc))
        .replace("@CLANG_MAJOR@", &major)
        .replace("@RUSTC@", &make_text(rustc));
    let a = &tree.srcarch;
    let (llvm, llvm_arg) = match clang {
        None => ("no (GCC)".to_string(), ""),
        Some(m) => (
            format!("yes, clang {m}: LLVM=1 where `clang` is clang {m} (Android's prebuilt first on PATH), else LLVM=-{m} (clang-{m})"),
            " LLVM=1",
        ),
    };
    let info = format!(
        "# Headers and build artifacts of this kernel, from kheaders (/proc/kheaders.tar.xz).\n\
         release: {}\n\
         arch: {a}\n\
         cc: {cc}\n\
         llvm: {llvm}\n\
         rustc: {}\n\
         rust-metadata: {}\n\
         \n\
         # Build an external module with the kernel's own compiler (GNUmakefile picks it):\n\
         #   make -C <this directory> M=$PWD modules\n\
         # On a host of another architecture:\n\
         #   make -C <this directory> M=$PWD ARCH={a} CROSS_COMPILE=<prefix>{llvm_arg} modules\n",
        tree.release,
        tree.value("CONFIG_RUSTC_VERSION_TEXT"),
        if rustc.is_empty() { "no" } else { "yes" },
    );
    let file = |name: &str, mode, bytes: String| {
        let data = Data::Generated(bytes.into_bytes());
        (name.to_string(), Entry { data, mode })
    };
    [
        file("GNUmakefile", 0o644, makefile),
        file("kheaders.txt", 0o644, info),
        file(
            "scripts/kheaders-hostprogs",
            0o755,
            include_str!("files/kheaders-hostprogs").into(),
        ),
        // Makes the running kernel's /lib/modules/<release>/build from this archive (README).
        file(
            "scripts/kheaders-tree",
            0o755,
            include_str!("files/kheaders-tree").into(),
        ),
    ]
}
