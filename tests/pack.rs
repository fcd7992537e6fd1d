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
            "CONFIG_RUST=y\nCONFIG_CC_VERSION_TEXT=\"clang version 14\"\nCONFIG_CC_IS_CLANG=y\n\
             CONFIG_CLANG_VERSION=140006\n",
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
    }
}

/// name -> (entry type, mode, mtime, contents or link target)
fn members(xz: &Path) -> BTreeMap<String, (char, u32, u64, Vec<u8>)> {
    let f = fs::File::open(xz).unwrap();
    let mut tar = tar::Archive::new(xz2::read::XzDecoder::new_multi_decoder(f));
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

/// Asserts that every one of `names` is a member.
fn has_all(m: &BTreeMap<String, (char, u32, u64, Vec<u8>)>, names: &[&str]) {
    for name in names {
        assert!(m.contains_key(*name), "{name} missing");
    }
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
    has_all(
        &m,
        &[
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
        ],
    );
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
        gm.contains("kheaders-cc := clang version 14\n") && gm.contains("kheaders-clang := 14\n")
    );
}

/// kheaders.txt and GNUmakefile of the full archive of a tree whose auto.conf is `auto_conf`.
fn generated_for(arch_line: &str, auto_conf: &str) -> (String, String) {
    let t = tempfile::tempdir().unwrap();
    let kdir = in_tree(&t.path().join("linux"), arch_line);
    put(&kdir, "include/config/auto.conf", auto_conf);
    let out = t.path().join("out");
    pack::pack(&config(&kdir, &out, Content::Full)).unwrap();
    let m = members(&out.join("kheaders.tar.xz"));
    let text = |name: &str| String::from_utf8(m[name].3.clone()).unwrap();
    (text("kheaders.txt"), text("GNUmakefile"))
}

/// Android's kernels are built with a clang prebuilt, a plain `clang` whose version text names
/// Android: the archive records it as it is, and asks for clang's major version, not a name.
#[test]
fn android_clang_is_recorded_as_the_config_says() {
    let android = "Android (12833971, +pgo, +bolt, +lto, +mlgo, based on r536225) clang version \
                   19.0.1 (https://android.googlesource.com/toolchain/llvm-project \
                   b3a530ec6537146650e42be89f1089e9a3588460)";
    let (info, gm) = generated_for(
        "Linux/arm64",
        &format!(
            "CONFIG_RUST=y\nCONFIG_CC_VERSION_TEXT=\"{android}\"\nCONFIG_CC_IS_CLANG=y\n\
             CONFIG_CLANG_VERSION=190001\n"
        ),
    );
    assert!(info.contains(&format!("\ncc: {android}\n")), "{info}");
    assert!(
        info.contains("\nllvm: yes, clang 19: LLVM=1 where `clang` is clang 19"),
        "{info}"
    );
    assert!(
        info.contains("ARCH=arm64 CROSS_COMPILE=<prefix> LLVM=1 modules"),
        "{info}"
    );
    assert!(
        gm.contains(&format!("\nkheaders-cc := {android}\n")),
        "{gm}"
    );
    assert!(gm.contains("\nkheaders-clang := 19\n"), "{gm}");
}

/// A GCC-built kernel: no LLVM at all.
#[test]
fn gcc_kernel_asks_for_no_llvm() {
    let (info, gm) = generated_for(
        "Linux/x86",
        "CONFIG_RUST=y\nCONFIG_CC_VERSION_TEXT=\"gcc (Debian 12.2.0-14) 12.2.0\"\nCONFIG_CC_IS_GCC=y\n",
    );
    assert!(
        info.contains("\nllvm: no (GCC)\n") && !info.contains("LLVM=1 modules"),
        "{info}"
    );
    assert!(gm.contains("\nkheaders-clang := \n"), "{gm}");
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
    // Debian's headers name the kernel's compiler here (its Makefile includes it).
    put(&k, ".kernelvariables", "CC = $(CROSS_COMPILE)gcc-14\n");
    put(&k, "arch/x86/module.lds", "SECTIONS {}\n");
    let out = t.path().join("out");
    pack::pack(&config(&k, &out, Content::Full)).unwrap();
    let m = members(&out.join("kheaders.tar.xz"));
    has_all(
        &m,
        &[
            "Makefile",
            ".kernelvariables",
            "arch/x86/module.lds",
            "Module.symvers",
            "include/config/auto.conf",
            "arch/x86/include/asm/page.h",
            "scripts/basic/fixdep",
            "scripts/basic/fixdep.c",
            "GNUmakefile",
        ],
    );
    assert!(!m.contains_key(".config"));
    assert!(!m.keys().any(|k| k.starts_with("arch/arm64/")));
}

/// Debian's linux-kbuild splits objtool: `objtool` runs `objtool.real-$SRCARCH`, for the
/// configured arch only.
#[test]
fn debians_split_objtool_goes_in_whole() {
    let t = tempfile::tempdir().unwrap();
    let k = in_tree(&t.path().join("linux"), "Linux/x86");
    let conf = fs::read_to_string(k.join("include/config/auto.conf")).unwrap();
    put(
        &k,
        "include/config/auto.conf",
        &format!("{conf}CONFIG_OBJTOOL=y\n"),
    );
    for f in ["objtool", "objtool.real-x86", "objtool.real-powerpc"] {
        put(&k, &format!("tools/objtool/{f}"), "#!/bin/sh\n");
        fs::set_permissions(
            k.join("tools/objtool").join(f),
            fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
    let out = t.path().join("out");
    pack::pack(&config(&k, &out, Content::Full)).unwrap();
    let m = members(&out.join("kheaders.tar.xz"));
    has_all(
        &m,
        &["tools/objtool/objtool", "tools/objtool/objtool.real-x86"],
    );
    assert_eq!(m["tools/objtool/objtool.real-x86"].1, 0o755);
    assert!(!m.contains_key("tools/objtool/objtool.real-powerpc"));
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
    let concatenated = 0x08; // LZMA_CONCATENATED: every stream, not the first alone
    let stream = xz2::stream::Stream::new_stream_decoder(18 << 20, concatenated).unwrap();
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

/// Runs `f` without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH in this thread (capabilities are
/// per thread), so that a mode-000 file is unreadable even when the tests run as root.
fn without_dac_override<T>(f: impl FnOnce() -> T) -> T {
    use rustix::thread::{capabilities, set_capabilities, CapabilitySet};
    let saved = capabilities(None).unwrap();
    let mut less = saved;
    less.effective -= CapabilitySet::DAC_OVERRIDE | CapabilitySet::DAC_READ_SEARCH;
    set_capabilities(None, less).unwrap();
    let result = f();
    set_capabilities(None, saved).unwrap();
    result
}

/// How the packer must answer a bad input.
#[derive(Debug)]
enum Answer {
    /// One line of error, containing this.
    Error(&'static str),
    /// The file left out, with a warning containing this.
    Warning(&'static str),
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A header the last pack did not see, in the tree in `t/linux`: the next pack reads the files.
fn new_header(t: &Path) {
    put(t, "linux/include/linux/new.h", "#define NEW 1\n");
}

/// What, before the pack, after the choice of files and before they are read, answer.
type BadInput = (&'static str, fn(&Path), fn(&Path), Answer);

#[test]
fn bad_inputs_give_one_clear_message_and_keep_the_outputs() {
    use std::os::unix::ffi::OsStrExt;
    use Answer::*;
    // Each gets a fresh tree in `linux` beside the packer's `out` (arguments: their parent).
    let table: [BadInput; 9] = [
        (
            "an unreadable file",
            |t| {
                new_header(t);
                chmod(&t.join("linux/include/linux/new.h"), 0);
            },
            |_| {},
            Error("new.h: Permission denied"),
        ),
        (
            "a file that vanishes while it is packed",
            new_header,
            |t| fs::remove_file(t.join("linux/include/linux/new.h")).unwrap(),
            Error("new.h: gone: the tree changed while it was being packed"),
        ),
        (
            "a file that changes size while it is packed",
            new_header,
            |t| put(t, "linux/include/linux/new.h", "#define NEW 22\n"),
            Error("new.h: changed: the tree changed while it was being packed"),
        ),
        (
            "a symlink loop",
            |t| {
                symlink("loop.h", t.join("linux/include/linux/loop.h")).unwrap();
                symlink("b.h", t.join("linux/include/linux/a.h")).unwrap();
                symlink("a.h", t.join("linux/include/linux/b.h")).unwrap();
            },
            |_| {},
            Warning("loop.h: a link to loop.h, a loop of links"),
        ),
        (
            "a symlinked directory under a rule's path, pointing outside the tree",
            |t| {
                put(t, "outside/evil.h", "#define SECRET 1\n");
                symlink(t.join("outside"), t.join("linux/include/linux/evil")).unwrap();
                symlink("../../outside", t.join("linux/scripts/include")).unwrap();
            },
            |_| {},
            Warning("scripts/include: a link to ../../outside, outside the tree"),
        ),
        (
            "a file name that is not UTF-8",
            |t| {
                let name = t.join(std::ffi::OsStr::from_bytes(b"linux/include/linux/\xff.h"));
                fs::write(name, "#define WRONG 1\n").unwrap();
            },
            |_| {},
            Warning("include/linux/\u{fffd}.h: the name is not UTF-8"),
        ),
        (
            "a huge file",
            |t| {
                let f = fs::File::create(t.join("linux/include/linux/huge.h")).unwrap();
                f.set_len(1 << 40).unwrap(); // a sparse terabyte
            },
            |_| {},
            Error("huge.h: 1099511627776 bytes, more than kheaders takes from one file"),
        ),
        (
            // Mounting a small full tmpfs needs privileges a test should not use: the archive's
            // companion .sha256 is written to /dev/full instead, after the archive itself.
            "an output directory on a full file system",
            |t| {
                new_header(t);
                let tmp = format!("out/kheaders.tar.xz.sha256.tmp{}", std::process::id());
                symlink("/dev/full", t.join(tmp)).unwrap();
            },
            |_| {},
            Error("kheaders.tar.xz.sha256: No space left on device"),
        ),
        (
            "KDIR replaced halfway",
            new_header,
            |t| {
                fs::rename(t.join("linux"), t.join("linux.old")).unwrap();
                in_tree(&t.join("linux"), "Linux/x86");
            },
            Error("linux was replaced while it was being packed"),
        ),
    ];
    for (what, before, during, answer) in table {
        let t = tempfile::tempdir().unwrap();
        let kdir = in_tree(&t.path().join("linux"), "Linux/x86");
        let c = config(&kdir, &t.path().join("out"), Content::Full);
        pack::pack(&c).unwrap();
        let outputs = || {
            let out = c.out.display();
            ["", ".sha256", ".release"].map(|s| fs::read(format!("{out}{s}")).unwrap())
        };
        let previous = outputs();
        before(t.path());
        let result = without_dac_override(|| pack::pack_with_hook(&c, || during(t.path())));
        match (&answer, &result) {
            (Error(want), Err(e)) => assert!(
                e.contains(want) && e.lines().count() == 1,
                "{what}: {e:?} should say {want:?}"
            ),
            (Warning(want), Ok(s)) => assert!(
                s.warnings.iter().any(|w| w.contains(want)),
                "{what}: {:?} should say {want:?}",
                s.warnings
            ),
            _ => panic!("{what}: {result:?}, not {answer:?}"),
        }
        assert!(outputs() == previous, "{what}: the outputs changed");
        // The archive, .sha256, .release and .inputs: no temporary file left behind.
        let files = fs::read_dir(c.out.parent().unwrap()).unwrap().count();
        assert_eq!(files, 4, "{what}: files left behind");
    }
}

/// Every path a rule reads (x86, every option on), and names each kind of rule picks in a directory.
const RULE_DIRS: &[&str] = &[
    "include",
    "include/generated",
    "arch/x86",
    "arch/x86/include",
    "arch/x86/include/generated",
    "scripts",
    "scripts/basic",
    "scripts/include",
    "scripts/mod",
    "scripts/genksyms",
    "scripts/gendwarfksyms",
    "scripts/gcc-plugins",
    "rust",
];
const RULE_FILES: &[&str] = &[
    "Makefile",
    "Module.symvers",
    "scripts/sign-file.c",
    "scripts/sign-file",
    "scripts/recordmcount.c",
    "scripts/recordmcount.h",
    "scripts/recordmcount.pl",
    "scripts/recordmcount",
    "tools/objtool/objtool",
    "tools/bpf/resolve_btfids/resolve_btfids",
    "scripts/target.json",
];
const PICKED: &[&str] = &[
    "evil.h",
    "Makefile.evil",
    "evil.c",
    "libevil.so",
    "evil.rmeta",
];

#[test]
fn no_link_leads_out_of_the_tree() {
    let t = tempfile::tempdir().unwrap();
    let outside = t.path().join("outside");
    for name in PICKED
        .iter()
        .chain(&["secret", "Makefile", "Kbuild.include"])
    {
        put(&outside, name, "SECRET\n");
    }
    // Links to outside in place of every file a rule takes, and in every directory a rule lists
    // (absolute and relative, to files and to a directory); then the directories themselves
    // replaced by links: the deepest ones, then all (rules then meet links on the way).
    let rule_dir_links = |kdir: &Path, deepest_only: bool| {
        let mut dirs = RULE_DIRS.to_vec();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.matches('/').count()));
        let mut planted: Vec<String> = Vec::new();
        for d in dirs {
            // (include/ holds the configuration: a link on the way to it is refused, below.)
            let parent = RULE_DIRS.iter().any(|o| o.starts_with(&format!("{d}/")));
            if d == "include" || (deepest_only && parent) {
                continue;
            }
            let _ = fs::remove_dir_all(kdir.join(d));
            fs::create_dir_all(kdir.join(d).parent().unwrap()).unwrap();
            symlink(&outside, kdir.join(d)).unwrap();
            planted.retain(|p| !p.starts_with(&format!("{d}/")));
            planted.push(format!("{d}:"));
        }
        planted
    };
    let links_in_rule_dirs = |kdir: &Path| {
        let mut planted = Vec::new();
        for f in RULE_FILES {
            let _ = fs::remove_file(kdir.join(f));
            fs::create_dir_all(kdir.join(f).parent().unwrap()).unwrap();
            let up = "../".repeat(f.matches('/').count() + 1);
            symlink(format!("{up}outside/secret"), kdir.join(f)).unwrap();
            planted.push(format!("{f}:"));
        }
        for d in RULE_DIRS {
            fs::create_dir_all(kdir.join(d)).unwrap();
            let up = "../".repeat(d.matches('/').count() + 2);
            for name in PICKED {
                symlink(outside.join(name), kdir.join(d).join(name)).unwrap();
                let rel = name.replace("evil", "evil2");
                symlink(format!("{up}outside/{name}"), kdir.join(d).join(rel)).unwrap();
            }
            symlink(&outside, kdir.join(d).join("evil.d")).unwrap();
            planted.push(format!("{d}/")); // some of the links planted there
        }
        planted
    };
    // Each case turns genksyms or gendwarfksyms on (not both can be): no rule reads the other.
    type Plant<'a> = &'a dyn Fn(&Path) -> Vec<String>;
    let cases: [(&str, Plant, &str); 4] = [
        (
            "links in rule dirs",
            &links_in_rule_dirs,
            "CONFIG_MODVERSIONS",
        ),
        (
            "links in rule dirs",
            &links_in_rule_dirs,
            "CONFIG_GENDWARFKSYMS",
        ),
        (
            "deepest rule dirs links",
            &|k| rule_dir_links(k, true),
            "CONFIG_MODVERSIONS",
        ),
        (
            "all rule dirs links",
            &|k| rule_dir_links(k, false),
            "CONFIG_MODVERSIONS",
        ),
    ];
    for (n, (case, plant, versions)) in cases.into_iter().enumerate() {
        let off = match versions {
            "CONFIG_MODVERSIONS" => "scripts/gendwarfksyms",
            _ => "scripts/genksyms",
        };
        let kdir = in_tree(&t.path().join(format!("linux{n}")), "Linux/x86");
        let on = "CONFIG_MODULE_SIG CONFIG_FTRACE_MCOUNT_USE_RECORDMCOUNT CONFIG_OBJTOOL \
                  CONFIG_DEBUG_INFO_BTF_MODULES CONFIG_GCC_PLUGINS CONFIG_RUST";
        let conf: String = on
            .split_whitespace()
            .chain([versions])
            .map(|c| format!("{c}=y\n"))
            .collect();
        put(&kdir, "include/config/auto.conf", &conf);
        let planted = plant(&kdir);
        let mut c = config(&kdir, &t.path().join(format!("out{n}")), Content::Full);
        c.rust = true;
        let s = pack::pack(&c).unwrap_or_else(|e| panic!("{case}: {e}"));
        for (name, v) in members(&c.out) {
            assert!(
                !v.3.windows(6).any(|w| w == b"SECRET"),
                "{case}: {name} is from outside"
            );
        }
        for p in planted.iter().filter(|p| !p.starts_with(off)) {
            let path = format!("left out {}/{p}", kdir.display());
            assert!(
                s.warnings.iter().any(|w| w.starts_with(&path)),
                "{case}: no warning for {p} in {:#?}",
                s.warnings
            );
        }
    }
    // The files the packer reads to know the tree: a link there, or on the way, is refused.
    let conf = [
        ".config",
        "include/config/auto.conf",
        "include/config/kernel.release",
        "include",
    ];
    for (n, f) in conf.into_iter().enumerate() {
        let kdir = in_tree(&t.path().join(format!("conf{n}")), "Linux/x86");
        let _ = fs::remove_file(kdir.join(f)).or_else(|_| fs::remove_dir_all(kdir.join(f)));
        symlink(&outside, kdir.join(f)).unwrap();
        let e = pack::pack(&config(&kdir, &t.path().join("nope"), Content::Full)).unwrap_err();
        assert!(
            e.ends_with("a symbolic link on the way, which kheaders does not follow"),
            "{e}"
        );
    }
    assert!(!t.path().join("nope").exists());
}

#[test]
fn a_replaced_archive_is_packed_again() {
    let t = tempfile::tempdir().unwrap();
    let kdir = in_tree(&t.path().join("linux"), "Linux/x86");
    let c = config(&kdir, &t.path().join("out"), Content::Full);
    pack::pack(&c).unwrap();
    let good = fs::read(&c.out).unwrap();
    // Overwritten in place (same inode) with other bytes, then replaced by another file.
    fs::write(&c.out, b"not the archive").unwrap();
    assert!(pack::pack(&c).unwrap().rewritten);
    assert!(fs::read(&c.out).unwrap() == good);
    let other = t.path().join("other");
    fs::write(&other, vec![0; good.len()]).unwrap();
    fs::rename(&other, &c.out).unwrap();
    assert!(pack::pack(&c).unwrap().rewritten);
    assert!(fs::read(&c.out).unwrap() == good);
    assert!(!pack::pack(&c).unwrap().rewritten);
}

/// The archive of a fixture tree (changed by `change`) extracted as a user would, with a kernel
/// Makefile whose `modules` only says that it ran.
fn extracted(t: &Path, change: impl FnOnce(&Path)) -> PathBuf {
    let kdir = in_tree(&t.join("linux"), "Linux/x86");
    change(&kdir);
    let c = config(&kdir, &t.join("out"), Content::Full);
    pack::pack(&c).unwrap();
    let x = t.join("x");
    fs::create_dir(&x).unwrap();
    let tar = Command::new("tar")
        .arg("-xJf")
        .arg(&c.out)
        .arg("-C")
        .arg(&x)
        .status();
    assert!(tar.unwrap().success());
    put(&x, "Makefile", "modules:\n\t@echo kbuild ran\n");
    x
}

/// `make modules` in `dir` through the archive's GNUmakefile: whether it worked, and its output.
fn make_modules(dir: &Path, args: &[&str]) -> (bool, String) {
    let o = Command::new("make")
        .arg("-C")
        .arg(dir)
        .args(args)
        .arg("modules")
        .env_remove("KHEADERS_REBUILD_HOSTPROGS")
        .env_remove("MAKEFLAGS")
        .env_remove("MAKELEVEL")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stdout) + String::from_utf8_lossy(&o.stderr);
    (o.status.success(), log.into_owned())
}

#[test]
fn kheaders_rebuild_hostprogs_0_rebuilds_nothing_and_1_forces_it() {
    let t = tempfile::tempdir().unwrap();
    let x = extracted(t.path(), |_| {});
    put(&x, "scripts/basic/fixdep", "#!/bin/sh\nexit 1\n"); // runs here, as fixdep without arguments
    chmod(&x.join("scripts/basic/fixdep"), 0o755);
    for (setting, rebuilds) in [
        (None, false),
        (Some("KHEADERS_REBUILD_HOSTPROGS=0"), false),
        (Some("KHEADERS_REBUILD_HOSTPROGS=1"), true),
    ] {
        let (ok, log) = make_modules(
            &x,
            &["HOSTCC=cc"].into_iter().chain(setting).collect::<Vec<_>>(),
        );
        assert!(ok && log.contains("kbuild ran"), "{setting:?}: {log}");
        assert_eq!(
            log.contains("kheaders: rebuilding"),
            rebuilds,
            "{setting:?}: {log}"
        );
    }
}

#[test]
fn module_sig_without_openssl_headers_still_builds_modules() {
    let t = tempfile::tempdir().unwrap();
    let x = extracted(t.path(), |k| {
        put(
            k,
            "include/config/auto.conf",
            "CONFIG_RUST=y\nCONFIG_MODULE_SIG=y\n",
        );
        let sign_file =
            "#include <openssl/evp.h>\n#include \"ssl-common.h\"\nint main(void) { return 0; }\n";
        put(k, "scripts/sign-file.c", sign_file);
        put(
            k,
            "scripts/ssl-common.h",
            "/* what sign-file.c includes (6.12+) */\n",
        );
        put(k, "scripts/sign-file", "\x7fELF for another machine\n");
        chmod(&k.join("scripts/sign-file"), 0o755);
    });
    // The archive's fixdep cannot run (it is not a program): the host programs are rebuilt, by a
    // compiler that finds no system headers, so no OpenSSL headers (the fixture needs none).
    assert!(x.join("scripts/sign-file.c").exists() && x.join("scripts/ssl-common.h").exists());
    let cc = t.path().join("cc-without-openssl");
    put(
        t.path(),
        "cc-without-openssl",
        "#!/bin/sh\nexec cc -nostdinc \"$@\"\n",
    );
    chmod(&cc, 0o755);
    let (ok, log) = make_modules(&x, &[&format!("HOSTCC={}", cc.display())]);
    assert!(ok && log.contains("kbuild ran"), "{log}");
    assert!(
        log.contains("kheaders: rebuilding") && log.contains("sign-file"),
        "{log}"
    );
}
