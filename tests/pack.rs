// SPDX-License-Identifier: GPL-2.0
//! The packer on small fixture trees shaped like kernel trees: what goes in, from which tree,
//! for which ARCH; determinism; links; errors; incremental packing. (The packer on a real kernel
//! tree is tested by tests/host.sh and, in the booted kernel, by tests/vm/.)

#[allow(dead_code)]
#[path = "../src/pack/mod.rs"]
mod pack;

use pack::{Config, Content};
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

fn put(root: &Path, name: &str, text: &str) {
    let p = root.join(name);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

/// A source tree: Kbuild files, headers for two arches, scripts with build leftovers.
fn source_tree(root: &Path) {
    for (name, text) in [
        ("Makefile", "# top Makefile\n"),
        ("Kbuild", ""),
        ("arch/x86/Makefile", "# x86\n"),
        ("arch/x86/Makefile.postlink", "# postlink\n"),
        ("arch/x86/Kconfig", "config X86\n"),
        (
            "arch/x86/include/asm/page.h",
            "#define PAGE_SHIFT 12 /* 4k */\n",
        ),
        (
            "arch/x86/include/uapi/asm/types.h",
            "/* SPDX-License-Identifier: GPL-2.0 */\n",
        ),
        ("arch/x86/kernel/setup.c", "int x;\n"),
        ("arch/arm64/Makefile", "# arm64\n"),
        ("arch/arm64/include/asm/page.h", "#define PAGE_SHIFT 16\n"),
        ("include/linux/kernel.h", "/* the kernel */\n#define X 1\n"),
        ("include/linux/README", "not a header\n"),
        ("include/uapi/linux/types.h", "typedef int __s32;\n"),
        ("scripts/Makefile.build", "# build\n"),
        ("scripts/Kbuild.include", "# include\n"),
        ("scripts/checkpatch.pl", "# not needed to build modules\n"),
        ("scripts/basic/fixdep.c", "int main(void) { return 0; }\n"),
        ("scripts/mod/modpost.c", "int main(void) { return 0; }\n"),
        ("scripts/kconfig/conf.c", "int main(void) { return 0; }\n"),
        ("kernel/fork.c", "int fork;\n"),
        ("rust/kernel/lib.rs", "//! kernel\n"),
    ] {
        put(root, name, text);
    }
}

/// The configured and built parts: in the object tree (which may be the source tree).
fn object_tree(root: &Path, arch_line: &str) {
    for (name, text) in [
        (
            ".config",
            &*format!("#\n# {arch_line} 6.12.0 Kernel Configuration\n#\nCONFIG_RUST=y\n"),
        ),
        (
            "include/config/auto.conf",
            "CONFIG_RUST=y\nCONFIG_CC_VERSION_TEXT=\"clang version 14\"\n",
        ),
        ("include/config/kernel.release", "6.12.0-test\n"),
        ("include/generated/autoconf.h", "#define CONFIG_RUST 1\n"),
        ("include/generated/rustc_cfg", "--cfg=CONFIG_RUST\n"),
        (
            "arch/x86/include/generated/asm/rwonce.h",
            "#include <asm-generic/rwonce.h>\n",
        ),
        ("Module.symvers", "0x0\tprintk\tvmlinux\tEXPORT_SYMBOL\t\n"),
        ("scripts/module.lds", "SECTIONS {}\n"),
        ("scripts/basic/.fixdep.cmd", "cmd_fixdep := cc\n"),
        ("scripts/mod/modpost.o", "\x7fELF\n"),
        (
            "scripts/mod/elfconfig.h",
            "#define KERNEL_ELFCLASS ELFCLASS64\n",
        ),
        ("scripts/target.json", "{}\n"),
        ("rust/libkernel.rmeta", "rmeta\n"),
        ("rust/libcore.rmeta", "rmeta\n"),
        ("rust/libmacros.so", "\x7fELF\n"),
        ("rust/kernel.o", "\x7fELF\n"),
    ] {
        put(root, name, text);
    }
    put(root, "scripts/basic/fixdep", "\x7fELF fixdep\n");
    fs::set_permissions(
        root.join("scripts/basic/fixdep"),
        fs::Permissions::from_mode(0o700),
    )
    .unwrap();
}

fn in_tree(root: &Path, arch_line: &str) -> PathBuf {
    source_tree(root);
    object_tree(root, arch_line);
    root.to_path_buf()
}

fn config(kdir: &Path, out: &Path, content: Content) -> Config {
    Config {
        kdir: kdir.into(),
        out: out.join("kheaders.tar.xz"),
        content,
        rust: false,
        minify: true,
        mtime: pack::DEFAULT_MTIME,
        llvm: "1".into(),
    }
}

/// name -> (entry type, mode, mtime, contents or link target)
fn members(xz: &Path) -> BTreeMap<String, (char, u32, u64, Vec<u8>)> {
    let mut tar = tar::Archive::new(xz2::read::XzDecoder::new(fs::File::open(xz).unwrap()));
    let mut out = BTreeMap::new();
    for e in tar.entries().unwrap() {
        let mut e = e.unwrap();
        let h = e.header().clone();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let kind = match h.entry_type() {
            tar::EntryType::Directory => 'd',
            tar::EntryType::Symlink => 'l',
            tar::EntryType::Regular => 'f',
            other => panic!("unexpected entry type {other:?} for {name}"),
        };
        assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0), "{name} owner");
        let mut data = Vec::new();
        if kind == 'l' {
            data = h.link_name_bytes().unwrap().into_owned();
        } else {
            e.read_to_end(&mut data).unwrap();
        }
        out.insert(name, (kind, h.mode().unwrap(), h.mtime().unwrap(), data));
    }
    out
}

fn files(m: &BTreeMap<String, (char, u32, u64, Vec<u8>)>) -> Vec<&str> {
    m.iter()
        .filter(|(_, v)| v.0 == 'f')
        .map(|(k, _)| k.as_str())
        .collect()
}

#[test]
fn headers_only_is_upstreams_set() {
    let t = tempfile::tempdir().unwrap();
    let kdir = in_tree(&t.path().join("linux"), "Linux/x86");
    let out = t.path().join("out");
    pack::pack(&config(&kdir, &out, Content::Headers)).unwrap();
    let m = members(&out.join("kheaders.tar.xz"));
    assert_eq!(
        files(&m),
        [
            "arch/x86/include/asm/page.h",
            "arch/x86/include/generated/asm/rwonce.h",
            "arch/x86/include/uapi/asm/types.h",
            "include/generated/autoconf.h",
            "include/linux/kernel.h",
            "include/uapi/linux/types.h",
        ]
    );
    // Directories have entries of their own, and nothing is prefixed with "./".
    assert_eq!(m["include/linux/"].0, 'd');
    assert_eq!(m["include/linux/"].1, 0o755);
    assert!(m
        .keys()
        .all(|k| !k.starts_with("./") && !k.starts_with('/')));
}

#[test]
fn full_adds_what_an_external_module_build_reads() {
    let t = tempfile::tempdir().unwrap();
    let kdir = in_tree(&t.path().join("linux"), "Linux/x86");
    let out = t.path().join("out");
    pack::pack(&config(&kdir, &out, Content::Full)).unwrap();
    let m = members(&out.join("kheaders.tar.xz"));
    for want in [
        "Makefile",
        ".config",
        "Module.symvers",
        "include/config/auto.conf",
        "include/config/kernel.release",
        "include/generated/rustc_cfg",
        "arch/x86/Makefile",
        "arch/x86/Makefile.postlink",
        "scripts/Makefile.build",
        "scripts/Kbuild.include",
        "scripts/module.lds",
        "scripts/basic/fixdep",
        "scripts/basic/fixdep.c",
        "scripts/mod/modpost.c",
        "scripts/mod/elfconfig.h",
        "GNUmakefile",
        "kheaders.txt",
        "scripts/kheaders-hostprogs",
    ] {
        assert!(m.contains_key(want), "{want} missing");
    }
    for unwanted in [
        "arch/x86/Kconfig",
        "arch/x86/kernel/setup.c",
        "include/linux/README",
        "kernel/fork.c",
        "scripts/checkpatch.pl",
        "scripts/kconfig/conf.c",
        "scripts/basic/.fixdep.cmd",
        "scripts/mod/modpost.o",
        "arch/arm64/Makefile",
        "arch/arm64/include/asm/page.h",
    ] {
        assert!(
            !m.contains_key(unwanted),
            "{unwanted} should not be in the archive"
        );
    }
    // Modes are normalised: executables 0755, the rest 0644, whatever the tree had.
    assert_eq!(m["scripts/basic/fixdep"].1, 0o755);
    assert_eq!(m["scripts/kheaders-hostprogs"].1, 0o755);
    assert_eq!(m["Makefile"].1, 0o644);
    // What the kernel was built with, for people and for make.
    let info = String::from_utf8(m["kheaders.txt"].3.clone()).unwrap();
    assert!(
        info.contains("release: 6.12.0-test") && info.contains("cc: clang version 14"),
        "{info}"
    );
    let gm = String::from_utf8(m["GNUmakefile"].3.clone()).unwrap();
    assert!(
        gm.contains("kheaders-cc := clang version 14\n") && gm.contains("kheaders-llvm := 1\n")
    );
}

#[test]
fn object_tree_and_source_tree_both_count() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    let obj = t.path().join("obj");
    source_tree(&src);
    object_tree(&obj, "Linux/x86_64"); // ARCH=x86_64 was given: SRCARCH is still x86
    put(&obj, "Makefile", "include ../src/Makefile\n"); // what `make O=` writes
    put(&obj, "include/linux/kernel.h", "#define FROM_OBJ 1\n"); // the object tree wins
    symlink(&src, obj.join("source")).unwrap();
    let out = t.path().join("out");
    pack::pack(&config(&obj, &out, Content::Full)).unwrap();
    let m = members(&out.join("kheaders.tar.xz"));
    assert_eq!(
        m["Makefile"].3, b"# top Makefile\n",
        "the source tree's Makefile, not O='s"
    );
    assert_eq!(m["include/linux/kernel.h"].3, b"#define FROM_OBJ 1\n");
    assert!(
        m.contains_key("include/uapi/linux/types.h"),
        "source tree header"
    );
    assert!(
        m.contains_key("include/generated/autoconf.h"),
        "object tree header"
    );
    assert!(m.contains_key("arch/x86/include/asm/page.h"));
    assert!(!m.contains_key("source"));
}

/// A distribution's linux-headers tree, as scripts/package/install-extmod-build lays it out: one
/// tree, no .config, no top-level Kbuild or C sources, auto.conf with the `# Linux/<arch>` line.
#[test]
fn a_headers_package_tree_packs() {
    let t = tempfile::tempdir().unwrap();
    let k = in_tree(&t.path().join("linux-headers"), "Linux/x86");
    for gone in [
        ".config",
        "Kbuild",
        "kernel/fork.c",
        "arch/x86/kernel/setup.c",
    ] {
        fs::remove_file(k.join(gone)).unwrap();
    }
    put(
        &k,
        "include/config/auto.conf",
        "#\n# Automatically generated file; DO NOT EDIT.\n# Linux/x86 6.12.0 Kernel Configuration\n#\nCONFIG_RUST=y\n",
    );
    let out = t.path().join("out");
    pack::pack(&config(&k, &out, Content::Full)).unwrap();
    let m = members(&out.join("kheaders.tar.xz"));
    for want in [
        "Makefile",
        "Module.symvers",
        "include/config/auto.conf",
        "arch/x86/include/asm/page.h",
        "scripts/basic/fixdep",
        "scripts/basic/fixdep.c",
        "GNUmakefile",
    ] {
        assert!(m.contains_key(want), "{want} missing");
    }
    assert!(!m.contains_key(".config"));
    assert!(!m.keys().any(|k| k.starts_with("arch/arm64/")));
}

#[test]
fn the_configured_arch_decides_not_the_host() {
    let t = tempfile::tempdir().unwrap();
    let kdir = in_tree(&t.path().join("linux"), "Linux/arm64");
    let out = t.path().join("out");
    pack::pack(&config(&kdir, &out, Content::Full)).unwrap();
    let m = members(&out.join("kheaders.tar.xz"));
    assert!(m.contains_key("arch/arm64/include/asm/page.h"));
    assert!(m.contains_key("arch/arm64/Makefile"));
    assert!(
        !m.keys().any(|k| k.starts_with("arch/x86/")),
        "x86 files in an arm64 archive"
    );
    let info = String::from_utf8(m["kheaders.txt"].3.clone()).unwrap();
    assert!(info.contains("arch: arm64"));
}

#[test]
fn same_inputs_same_bytes_whatever_the_path_umask_time_or_order() {
    let t = tempfile::tempdir().unwrap();
    let a = in_tree(&t.path().join("a"), "Linux/x86");
    // The second tree: another path, created in another order, other mtimes and permissions.
    let b = t.path().join("somewhere/else/b");
    object_tree(&b, "Linux/x86");
    std::thread::sleep(std::time::Duration::from_millis(20));
    source_tree(&b);
    fs::set_permissions(
        b.join("include/linux/kernel.h"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    fs::set_permissions(
        b.join("scripts/basic/fixdep"),
        fs::Permissions::from_mode(0o775),
    )
    .unwrap();
    let (oa, ob) = (t.path().join("oa"), t.path().join("ob"));
    pack::pack(&config(&a, &oa, Content::Full)).unwrap();
    pack::pack(&config(&b, &ob, Content::Full)).unwrap();
    let (xa, xb) = (
        fs::read(oa.join("kheaders.tar.xz")).unwrap(),
        fs::read(ob.join("kheaders.tar.xz")).unwrap(),
    );
    assert!(xa == xb, "archives of the same inputs differ");
    // One mtime for every entry: the configured one.
    let mut c = config(&a, &t.path().join("oc"), Content::Full);
    c.mtime = 1_700_000_000;
    pack::pack(&c).unwrap();
    let m = members(&c.out);
    assert!(m.values().all(|v| v.2 == 1_700_000_000));
    assert!(members(&oa.join("kheaders.tar.xz"))
        .values()
        .all(|v| v.2 == pack::DEFAULT_MTIME));
}

#[test]
fn links_stay_inside_the_tree() {
    let t = tempfile::tempdir().unwrap();
    let kdir = in_tree(&t.path().join("linux"), "Linux/x86");
    put(t.path(), "secret.h", "#define SECRET 1\n");
    symlink("kernel.h", kdir.join("include/linux/alias.h")).unwrap();
    symlink("../../../secret.h", kdir.join("include/linux/out.h")).unwrap();
    symlink(t.path().join("secret.h"), kdir.join("include/linux/abs.h")).unwrap();
    fs::create_dir(t.path().join("outdir")).unwrap();
    put(t.path(), "outdir/deep.h", "#define DEEP 1\n");
    symlink(t.path().join("outdir"), kdir.join("include/linked")).unwrap();
    let out = t.path().join("out");
    let s = pack::pack(&config(&kdir, &out, Content::Headers)).unwrap();
    let m = members(&out.join("kheaders.tar.xz"));
    assert_eq!(
        m["include/linux/alias.h"],
        ('l', 0o777, pack::DEFAULT_MTIME, b"kernel.h".to_vec())
    );
    for name in [
        "include/linux/out.h",
        "include/linux/abs.h",
        "include/linked",
        "include/linked/deep.h",
    ] {
        assert!(!m.contains_key(name), "{name} points out of the tree");
    }
    assert!(!m
        .values()
        .any(|v| v.3.windows(6).any(|w| w == b"SECRET" || w == b"DEEP 1")));
    assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
}

#[test]
fn bad_trees_give_clear_errors_and_write_nothing() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let err = |kdir: &Path| pack::pack(&config(kdir, &out, Content::Full)).unwrap_err();
    assert!(err(&t.path().join("nope")).contains("give KDIR="));
    let k = t.path().join("linux");
    source_tree(&k);
    assert!(err(&k).contains("not a configured kernel tree"));
    put(&k, ".config", "# Linux/x86 6.12.0 Kernel Configuration\n");
    assert!(err(&k).contains("configured but not built"));
    object_tree(&k, "Linux/riscv");
    assert!(err(&k).contains("ARCH riscv"));
    assert!(!out.exists(), "an error left output behind");
}

#[test]
fn unchanged_inputs_leave_the_archive_alone() {
    let t = tempfile::tempdir().unwrap();
    let kdir = in_tree(&t.path().join("linux"), "Linux/x86");
    let out = t.path().join("out");
    let c = config(&kdir, &out, Content::Full);
    assert!(pack::pack(&c).unwrap().rewritten);
    let mtime = || fs::metadata(&c.out).unwrap().modified().unwrap();
    let first = mtime();
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(!pack::pack(&c).unwrap().rewritten);
    assert_eq!(mtime(), first, "archive rewritten without a change");
    // A touched file with the same bytes repacks to the same bytes: not rewritten either.
    put(
        &kdir,
        "include/linux/kernel.h",
        "/* the kernel */\n#define X 1\n",
    );
    assert!(!pack::pack(&c).unwrap().rewritten);
    assert_eq!(mtime(), first);
    put(&kdir, "include/linux/kernel.h", "#define X 2\n");
    assert!(pack::pack(&c).unwrap().rewritten);
    assert_eq!(
        members(&c.out)["include/linux/kernel.h"].3,
        b"#define X 2\n"
    );
    fs::remove_file(&c.out).unwrap();
    assert!(pack::pack(&c).unwrap().rewritten);
    assert!(c.out.exists());
}

#[test]
fn sha256_and_release_beside_the_archive() {
    let t = tempfile::tempdir().unwrap();
    let kdir = in_tree(&t.path().join("linux"), "Linux/x86");
    let out = t.path().join("out");
    pack::pack(&config(&kdir, &out, Content::Full)).unwrap();
    let sum = Command::new("sha256sum")
        .arg(out.join("kheaders.tar.xz"))
        .output()
        .unwrap();
    let sum = String::from_utf8(sum.stdout).unwrap();
    let ours = fs::read_to_string(out.join("kheaders.tar.xz.sha256")).unwrap();
    assert_eq!(ours.len(), 64);
    assert!(sum.starts_with(&ours), "{ours} vs sha256sum {sum}");
    assert_eq!(
        fs::read_to_string(out.join("kheaders.tar.xz.release")).unwrap(),
        "6.12.0-test"
    );
}

#[test]
fn headers_are_minified_but_keep_spdx() {
    let t = tempfile::tempdir().unwrap();
    let kdir = in_tree(&t.path().join("linux"), "Linux/x86");
    let out = t.path().join("out");
    pack::pack(&config(&kdir, &out, Content::Full)).unwrap();
    let m = members(&out.join("kheaders.tar.xz"));
    assert_eq!(
        m["arch/x86/include/asm/page.h"].3,
        b"#define PAGE_SHIFT 12\n"
    );
    assert_eq!(
        m["arch/x86/include/uapi/asm/types.h"].3,
        b"/* SPDX-License-Identifier: GPL-2.0 */\n"
    );
    assert_eq!(
        m["scripts/Makefile.build"].3, b"# build\n",
        "only C headers are minified"
    );
}

#[test]
fn decompression_needs_at_most_18_mib() {
    let t = tempfile::tempdir().unwrap();
    let kdir = in_tree(&t.path().join("linux"), "Linux/x86");
    let out = t.path().join("out");
    pack::pack(&config(&kdir, &out, Content::Full)).unwrap();
    let stream = xz2::stream::Stream::new_stream_decoder(18 << 20, 0).unwrap();
    let f = fs::File::open(out.join("kheaders.tar.xz")).unwrap();
    let mut data = Vec::new();
    xz2::read::XzDecoder::new_stream(f, stream)
        .read_to_end(&mut data)
        .unwrap();
    assert!(!data.is_empty());
}

#[test]
fn rust_metadata_only_when_asked() {
    let t = tempfile::tempdir().unwrap();
    let kdir = in_tree(&t.path().join("linux"), "Linux/x86");
    let out = t.path().join("out");
    let mut c = config(&kdir, &out, Content::Full);
    pack::pack(&c).unwrap();
    let m = members(&c.out);
    assert!(!m
        .keys()
        .any(|k| k.starts_with("rust/") || k == "scripts/target.json"));
    c.rust = true;
    pack::pack(&c).unwrap();
    let m = members(&c.out);
    let rust: Vec<_> = files(&m)
        .into_iter()
        .filter(|k| k.starts_with("rust/"))
        .collect();
    assert_eq!(
        rust,
        [
            "rust/libcore.rmeta",
            "rust/libkernel.rmeta",
            "rust/libmacros.so"
        ]
    );
    assert!(m.contains_key("scripts/target.json"));
}

#[test]
fn host_programs_go_in_stripped() {
    let t = tempfile::tempdir().unwrap();
    let kdir = in_tree(&t.path().join("linux"), "Linux/x86");
    put(
        &kdir,
        "scripts/basic/fixdep.c",
        "int main(void) { return 1; }\n",
    );
    let status = Command::new("cc")
        .args(["-g", "-o"])
        .arg(kdir.join("scripts/basic/fixdep"))
        .arg(kdir.join("scripts/basic/fixdep.c"))
        .status()
        .unwrap();
    assert!(status.success());
    let before = fs::metadata(kdir.join("scripts/basic/fixdep"))
        .unwrap()
        .len();
    let out = t.path().join("not/yet/there"); // the packer creates it, strip included
    pack::pack(&config(&kdir, &out, Content::Full)).unwrap();
    let m = members(&out.join("kheaders.tar.xz"));
    let (_, mode, _, data) = &m["scripts/basic/fixdep"];
    assert_eq!(*mode, 0o755);
    assert!(data.starts_with(b"\x7fELF"));
    assert!(
        (data.len() as u64) < before,
        "not stripped: {} >= {before}",
        data.len()
    );
}
