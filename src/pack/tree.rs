// SPDX-License-Identifier: GPL-2.0
//! A configured kernel build tree, read the way Kbuild reads it.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct Tree {
    /// The object tree (`O=`), where `.config` and the generated files are; or a distribution's
    /// headers tree, which is both.
    pub obj: PathBuf,
    /// The source tree; the same directory for in-tree builds.
    pub src: PathBuf,
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
        let missing = |what: &str| {
            format!(
                "{} is configured but not built (no {what}): run make in it first",
                obj.display()
            )
        };
        // A distribution's headers tree (scripts/package/install-extmod-build) has no .config,
        // but auto.conf starts with the same `# Linux/<arch>` line.
        let dotconfig = fs::read_to_string(obj.join(".config")).ok();
        let autoconf =
            fs::read_to_string(obj.join("include/config/auto.conf")).map_err(
                |_| match dotconfig {
                    Some(_) => missing("include/config/auto.conf"),
                    None => format!(
                        "{} is not a configured kernel tree (no .config)",
                        obj.display()
                    ),
                },
            )?;
        let release = fs::read_to_string(obj.join("include/config/kernel.release"))
            .map_err(|_| missing("include/config/kernel.release"))?
            .trim()
            .to_string();

        // O= builds leave a `source` link to the source tree (Makefile: `ln -fsn $(srctree) source`).
        let src = match fs::symlink_metadata(obj.join("source")) {
            Ok(m) if m.file_type().is_symlink() => fs::canonicalize(obj.join("source"))
                .map_err(|e| format!("{}/source: {e}", obj.display()))?,
            _ => obj.clone(),
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
