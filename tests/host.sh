#!/usr/bin/env bash
# Host-side checks of the build against the real test kernel tree ($KDIR, built): clear errors
# for bad input, incremental rebuilds, module metadata, archive contents against upstream's.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
KDIR=${KDIR:?}
blob=target/kheaders/kheaders.tar.xz
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. tests/lib.sh

# make must fail with one clear message and leave the existing archive and module alone.
refuses() { # expected-message make-args...
    local want=$1; shift
    local before; before=$(sha256sum $blob kheaders.ko)
    if make "$@" >"$tmp/out" 2>&1; then fail "make $* succeeded"; fi
    grep -q "kheaders: error: .*$want" "$tmp/out" || { cat "$tmp/out" >&2; fail "no message matching '$want'"; }
    [ "$(grep -c 'kheaders: error:' "$tmp/out")" = 1 ] || { cat "$tmp/out" >&2; fail "more than one error line"; }
    [ "$(sha256sum $blob kheaders.ko)" = "$before" ] || fail "outputs changed"
}
missing_kdir_is_refused() { refuses "does not exist" KDIR=/nonexistent/kernel; }
unconfigured_kdir_is_refused() { mkdir -p "$tmp/empty"; refuses "not a configured kernel tree" KDIR="$tmp/empty"; }
unbuilt_kdir_is_refused() {
    mkdir -p "$tmp/unbuilt"; cp "$KDIR/.config" "$tmp/unbuilt/"
    refuses "not built" KDIR="$tmp/unbuilt"
}
# A configured, "built" tree with no objects: KDIR's configuration less what sed-script deletes.
fake_tree() { # dir sed-script
    mkdir -p "$1/include/config"; touch "$1/Module.symvers"
    sed "$2" "$KDIR/.config" >"$1/.config"
    sed "$2" "$KDIR/include/config/auto.conf" >"$1/include/config/auto.conf"
}
kernel_without_rust_is_refused() {
    fake_tree "$tmp/norust" '/CONFIG_RUST/d'; refuses "no CONFIG_RUST=y" KDIR="$tmp/norust"
}
kernel_without_rust_metadata_is_refused() {
    fake_tree "$tmp/normeta" ''; refuses "no rust/libkernel.rmeta" KDIR="$tmp/normeta"
}
missing_cargo_is_refused() { refuses "/nonexistent/cargo not found" KDIR="$KDIR" CARGO=/nonexistent/cargo; }
rustc_of_another_version_is_refused() {
    printf '#!/bin/sh\necho "rustc 1.0.0 (00000000 2015-05-15)"\n' >"$tmp/rustc"; chmod +x "$tmp/rustc"
    refuses "built by rustc .*, but $tmp/rustc is rustc 1.0.0" KDIR="$KDIR" RUSTC="$tmp/rustc"
}
# ARCH spelled as the user's machine says it (x86_64), not as the tree's SRCARCH (x86).
arch_x86_64_is_accepted() {
    make KDIR="$KDIR" ARCH=x86_64 >"$tmp/arch" 2>&1 || { tail "$tmp/arch" >&2; fail "make ARCH=x86_64 failed"; }
}
wrong_arch_is_refused() {
    local other=arm64; [ "$(srcarch <"$KDIR/include/config/auto.conf")" != arm64 ] || other=x86
    refuses "ARCH=$other but .* is configured for $(srcarch <"$KDIR/include/config/auto.conf")" KDIR="$KDIR" ARCH=$other
}

noop_rebuild_touches_nothing() {
    local before; before=$(stat -c '%Y %i' $blob kheaders.ko)
    make KDIR="$KDIR" >"$tmp/noop" 2>&1 || { cat "$tmp/noop" >&2; fail "make failed"; }
    [ "$(stat -c '%Y %i' $blob kheaders.ko)" = "$before" ] || fail "archive or module rewritten by a no-op make"
}

modinfo_describes_the_module() {
    want() { [ "$(modinfo -F "$1" kheaders.ko)" = "$2" ] || fail "modinfo $1: '$(modinfo -F "$1" kheaders.ko)' != '$2'"; }
    want license GPL
    want kernel_release "$(cat "$KDIR/include/config/kernel.release")"
    want archive_sha256 "$(sha256sum $blob | cut -d' ' -f1)"
    modinfo -F description kheaders.ko | grep -q /proc/kheaders.tar.xz || fail "no description"
    one_modinfo_section kheaders.ko
}

archive_is_a_superset_of_upstreams() {
    local up=$KDIR/kernel/kheaders_data.tar.xz
    [ -f "$up" ] || fail "upstream archive $up missing (CONFIG_IKHEADERS=m)"
    tar -tJf "$up" | sed 's|^\./||; /\/$/d; /^\.\?$/d' | sort >"$tmp/up"
    tar -tJf $blob | sed '/\/$/d' | sort >"$tmp/ours"
    comm -23 "$tmp/up" "$tmp/ours" >"$tmp/missing"
    [ ! -s "$tmp/missing" ] || fail "$(wc -l <"$tmp/missing") upstream files missing, e.g. $(head -3 "$tmp/missing" | tr '\n' ' ')"
    echo "# ours: $(wc -l <"$tmp/ours") files, $(stat -c %s $blob) bytes; upstream: $(wc -l <"$tmp/up") files, $(stat -c %s "$up") bytes" >&2
}

host_programs_ship_stripped_and_run() {
    mkdir -p "$tmp/x"
    tar -xJf $blob -C "$tmp/x" scripts/basic/fixdep scripts/mod/modpost
    local p rc
    for p in scripts/basic/fixdep scripts/mod/modpost; do
        file "$tmp/x/$p" | grep -q ', stripped' || fail "$p is not stripped: $(file "$tmp/x/$p")"
        rc=0; "$tmp/x/$p" >/dev/null 2>&1 || rc=$?
        [ $rc -lt 126 ] || fail "$p does not run (status $rc)"
    done
}

# The minifier must not change what the headers mean: modules built against the kernel tree
# and against the extracted (minified) archive are identical, code, data, relocations and all.
minified_headers_compile_to_identical_code() {
    mkdir -p "$tmp/ex"; tar -xJf $blob -C "$tmp/ex"
    local m llvm; llvm=$(make -s KDIR="$KDIR" print-llvm)
    for m in hello kapi; do
        cp -r "tests/modules/$m" "$tmp/$m"
        make -s -C "$KDIR" M="$tmp/$m" LLVM="$llvm" modules >/dev/null 2>&1 || fail "$m: build against KDIR failed"
        dump "$tmp/$m" >"$tmp/$m.tree"
        make -s -C "$KDIR" M="$tmp/$m" LLVM="$llvm" clean >/dev/null 2>&1
        make -s -C "$tmp/ex" M="$tmp/$m" modules >/dev/null 2>&1 || fail "$m: build against the archive failed"
        dump "$tmp/$m" >"$tmp/$m.archive"
        cmp -s "$tmp/$m.tree" "$tmp/$m.archive" || fail "$m: objects differ: $(diff "$tmp/$m.tree" "$tmp/$m.archive" | head -5)"
        echo "# $m: $(wc -l <"$tmp/$m.tree") lines of disassembly and section dumps, identical" >&2
    done
}
dump() { (cd "$1" && for f in *.o *.ko; do llvm-objdump -d -r -s "$f" | tail -n +3; done); }

# kCFI: procfs calls our Rust callbacks through struct proc_ops, and the call traps unless the
# callee's type hash (in its __cfi_ preamble) is the one of the C prototype. The kernel's own C
# functions of those prototypes carry the hash to compare with.
callbacks_have_the_kernels_kcfi_hashes() {
    grep -qE '^CONFIG_CFI(_CLANG)?=y' "$KDIR/include/config/auto.conf" || skip "kernel without kCFI"
    [ "$(srcarch <"$KDIR/include/config/auto.conf")" = x86 ] || skip "the x86 preamble is read here"
    # hash file symbol: the `movl $hash, %eax` of the symbol's preamble
    hash() { llvm-objdump -d --disassemble-symbols="$2" "$1" | sed -n 's/.*movl.*, %eax *# imm = \(0x[0-9A-F]*\)$/\1/p' | head -1; }
    local ours theirs pair sym
    for pair in 4open:nonseekable_open 5lseek:generic_file_llseek 9read_iter:seq_read_iter; do
        sym=$(llvm-nm kheaders.ko | sed -n "s/.* \(__cfi_.*7proc_fs${pair%%:*}\)$/\1/p")
        ours=$(hash kheaders.ko "$sym"); theirs=$(hash "$KDIR/vmlinux" "__cfi_${pair#*:}")
        [ -n "$ours" ] && [ "$ours" = "$theirs" ] || fail "${pair%%:*}: $ours, the C prototype's ($pair) ${theirs:-not found}"
        echo "# ${pair%%:*}: $ours, as ${pair#*:}" >&2
    done
}

# No panics in the module: no call into core's panicking (the kernel builds Rust with overflow
# checks, RUST_OVERFLOW_CHECKS, so unchecked arithmetic would add one).
module_has_no_panic_path() {
    ! llvm-nm -u kheaders.ko | grep -E 'panicking|panic_fmt|panic_bounds' || fail "kheaders.ko can panic"
}

# make symbol-list: a GKI symbol list of exactly what kheaders.ko imports (the ELF's undefined
# symbols, read here by readelf rather than nm), each one an export of this kernel.
symbol_list_is_the_modules_imports() {
    make -s KDIR="$KDIR" symbol-list >"$tmp/sl.list" 2>"$tmp/sl.err" || { tail "$tmp/sl.err" >&2; fail "make symbol-list failed"; }
    want_eq "$(head -1 "$tmp/sl.list")" "[abi_symbol_list]" "first line"
    ! tail -n +2 "$tmp/sl.list" | grep -qv '^  [A-Za-z0-9_.$]*$' || fail "not one indented name a line: $(grep -v '^  ' "$tmp/sl.list" | head -3)"
    tail -n +2 "$tmp/sl.list" | sed 's/^  //' >"$tmp/sl.names"
    LC_ALL=C sort -uc "$tmp/sl.names" || fail "not sorted and unique"
    imports kheaders.ko >"$tmp/sl.und"
    cmp -s "$tmp/sl.names" "$tmp/sl.und" || fail "list and readelf's undefined symbols differ: $(diff "$tmp/sl.names" "$tmp/sl.und" | head -5)"
    local n; while read -r n; do grep -q "	$n	" "$KDIR/Module.symvers" || fail "$n is not an export of $KDIR"; done <"$tmp/sl.names"
    grep -qx '  proc_create_data' "$tmp/sl.list" || fail "proc_create_data missing"
    echo "# $(wc -l <"$tmp/sl.names") symbols, each in Module.symvers" >&2
}

# Android builds its kernels with a clang prebuilt first on PATH (plain `clang`, LLVM=1) whose
# version text names Android. Our Makefile and the archive's GNUmakefile take LLVM=1 when plain
# `clang` is the kernel's major version, else clang-<major>; a compiler other than the kernel's
# exact one gets a warning naming both.
prebuilt_clang_on_path_is_taken() {
    local android="Android (12833971, +pgo, +bolt, +lto, +mlgo, based on r536225) clang version 19.0.1 (https://android.googlesource.com/toolchain/llvm-project b3a530ec6537146650e42be89f1089e9a3588460)"
    local prebuilt=/usr/lib/llvm-19/bin
    [ -x $prebuilt/clang ] && command -v clang-19 >/dev/null || skip "needs Debian's clang-19 ($prebuilt/clang)"
    [ "$(clang -dumpversion | cut -d. -f1)" != 19 ] || skip "plain clang is already 19 here"
    mkdir -p "$tmp/android/include/config"
    printf 'CONFIG_CC_VERSION_TEXT="%s"\nCONFIG_CC_IS_CLANG=y\nCONFIG_CLANG_VERSION=190001\n' "$android" \
        >"$tmp/android/include/config/auto.conf"
    want_eq "$(PATH=$prebuilt:$PATH make -s KDIR="$tmp/android" print-llvm)" 1 "Makefile, prebuilt first on PATH"
    want_eq "$(make -s KDIR="$tmp/android" print-llvm)" -19 "Makefile, clang-19 beside another plain clang"
    # The archive's GNUmakefile, with its kernel's compiler text as an Android-built kernel has it.
    mkdir -p "$tmp/android-archive" && tar -xf $blob -C "$tmp/android-archive" && cp -r tests/modules/hello "$tmp/android-hello"
    sed -i "s|^kheaders-cc := .*|kheaders-cc := $android|" "$tmp/android-archive/GNUmakefile"
    PATH=$prebuilt:$PATH make -C "$tmp/android-archive" M="$tmp/android-hello" V=1 modules >"$tmp/android-a.log" 2>&1 || { tail "$tmp/android-a.log" >&2; fail "build with the prebuilt failed"; }
    grep -Eq '(^|[ ;])clang -Wp,' "$tmp/android-a.log" && ! grep -q 'clang-19 -Wp,' "$tmp/android-a.log" || fail "not built by plain clang"
    grep -q "kheaders: this kernel was built by \"Android (12833971.*clang version 19.0.1 .*\", but \"clang\" is \"Debian clang version 19" "$tmp/android-a.log" \
        || { grep kheaders: "$tmp/android-a.log" >&2; fail "no warning naming both compilers"; }
    make -C "$tmp/android-archive" M="$tmp/android-hello" clean >/dev/null 2>&1
    make -C "$tmp/android-archive" M="$tmp/android-hello" V=1 modules >"$tmp/android-b.log" 2>&1 || { tail "$tmp/android-b.log" >&2; fail "build with clang-19 failed"; }
    grep -q 'clang-19 -Wp,' "$tmp/android-b.log" || fail "clang-19 not taken beside plain clang $(clang -dumpversion)"
}

# The module's Rust must build with the oldest rustc the kernel accepts (6.12: 1.78; Android's
# android16-6.12: 1.82), and only newer ones can be installed here. So: the kernel's own clippy
# run (make CLIPPY=1: clippy-driver with the tree's .clippy.toml, whose msrv drives
# incompatible_msrv for library APIs) must say nothing, and the syntax clippy does not judge,
# stabilized after 1.78, must not appear in the module's code.
module_keeps_to_the_kernels_msrv() {
    local src msrv; src=$(realpath "$KDIR/source" 2>/dev/null || echo "$KDIR")
    msrv=$(sed -n 's/^msrv = "\(.*\)"$/\1/p' "$src/.clippy.toml")
    [ -n "$msrv" ] || fail "no msrv in the tree's .clippy.toml"
    copy_sources "$tmp/msrv-copy"
    make -C "$tmp/msrv-copy" KDIR="$KDIR" CLIPPY=1 >"$tmp/msrv.log" 2>&1 || { tail "$tmp/msrv.log" >&2; fail "make CLIPPY=1 failed"; }
    grep -q 'CLIPPY .*src/kheaders.o' "$tmp/msrv.log" || fail "clippy did not check the module"
    ! grep -E 'warning|error' "$tmp/msrv.log" || fail "clippy (msrv $msrv) complained"
    # (src/proc_bindings.rs is bindgen's, for --rust-target 1.68; src/pack is host code.)
    local pat='&raw (const|mut) |unsafe extern "[^"]*" *\{|#\[unsafe\(|\+ use<|[=(,] *const \{|&& let |\.is_none_or\(|core::ptr::(fn_addr_eq|without_provenance)'
    ! grep -nE "$pat" src/kheaders.rs src/proc_fs.rs src/sysfs.rs src/modinfo.rs || fail "syntax or API newer than rustc 1.78 in the module"
    echo "# clippy with msrv $msrv: silent; no post-1.78 syntax" >&2
}

# The packer is built by the kernel's rustc (Debian 13's kernel: 1.85.1; 6.12 accepts 1.78):
# every crate Cargo.lock resolves for this machine keeps to Cargo.toml's rust-version (clippy, below,
# holds our own code to it). make test-debian builds and tests it with Debian's real 1.85.1.
locked_dependencies_keep_to_rust_version() {
    cargo metadata --format-version 1 --locked --filter-platform "$(rustc -vV | sed -n 's/^host: //p')" >"$tmp/metadata" \
        || fail "cargo metadata --locked failed"
    python3 - "$tmp/metadata" <<'PY' || fail "a locked crate needs a newer rustc than rust-version"
import json, sys
m = json.load(open(sys.argv[1]))
ids = {n["id"] for n in m["resolve"]["nodes"]}
v = lambda s: tuple(int(x) for x in s.split("."))
ours = next(p for p in m["packages"] if p["name"] == "kheaders")["rust_version"]
assert ours, "no rust-version in Cargo.toml"
bad = [f'{p["name"]} {p["version"]} (rust-version {p["rust_version"]})' for p in m["packages"]
       if p["id"] in ids and p.get("rust_version") and v(p["rust_version"]) > v(ours)]
print(f"# {len(ids)} crates resolved, rust-version {ours}" + ("; newer: " + ", ".join(bad) if bad else ""), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

code_is_rustfmt_and_clippy_clean() {
    cargo fmt --check >/dev/null || fail "cargo fmt --check: host code not formatted"
    rustfmt --check --edition 2021 src/kheaders.rs tests/modules/rust_hello/rust_hello.rs >/dev/null \
        || fail "rustfmt --check: module code not formatted"
    cargo clippy --quiet --all-targets -- -D warnings 2>"$tmp/clippy" || { tail -20 "$tmp/clippy" >&2; fail "clippy"; }
}

run_tests missing_kdir_is_refused unconfigured_kdir_is_refused unbuilt_kdir_is_refused kernel_without_rust_is_refused \
    kernel_without_rust_metadata_is_refused missing_cargo_is_refused rustc_of_another_version_is_refused wrong_arch_is_refused \
    arch_x86_64_is_accepted noop_rebuild_touches_nothing modinfo_describes_the_module archive_is_a_superset_of_upstreams \
    host_programs_ship_stripped_and_run minified_headers_compile_to_identical_code callbacks_have_the_kernels_kcfi_hashes \
    module_has_no_panic_path symbol_list_is_the_modules_imports \
    prebuilt_clang_on_path_is_taken module_keeps_to_the_kernels_msrv locked_dependencies_keep_to_rust_version \
    code_is_rustfmt_and_clippy_clean
