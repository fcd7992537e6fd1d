#!/usr/bin/env bash
# Host checks on the distro kernels (scripts/test builds them): that the trees are what we say
# they are, and that kheaders derives bindgen's flags from them as the kernel does.
#   KDIR: the GCC-built distro build tree; HEADERS: its headers package tree.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
KDIR=${KDIR:?} HEADERS=${HEADERS:?}
src=$(readlink -f "$KDIR/source")
fail() { echo "    $*" >&2; return 1; }
run() { ( set -e; "$1" ); if [ $? = 0 ]; then echo "PASS host:$1"; else echo "FAIL host:$1"; fi; }
skip_list() { # makefile: the words of its bindgen_skip_c_flags
    sed -n '/^bindgen_skip_c_flags :=/,/[^\\]$/p' "$1" | sed 's/^bindgen_skip_c_flags :=//; s/\\$//' | tr -s ' \t' '\n' | sed '/^$/d' | sort -u
}

the_kernel_is_gcc_built_with_gcc_only_flags() {
    grep -qx 'CONFIG_CC_IS_GCC=y' "$KDIR/include/config/auto.conf" || fail "not built with GCC"
    grep -qx 'CONFIG_RUST=y' "$KDIR/include/config/auto.conf" || fail "no Rust"
    # Flags libclang rejects, which the kernel's own rust/Makefile filters out for bindgen.
    local f
    for f in -mindirect-branch=thunk-extern -mrecord-mcount -fconserve-stack -mpreferred-stack-boundary=3; do
        grep -q -- "$f" "$KDIR/kernel/.fork.o.cmd" || fail "kernel/fork.o was not compiled with $f"
    done
}

the_headers_tree_is_a_headers_package() {
    [ ! -e "$HEADERS/.config" ] || fail "has .config (install-extmod-build leaves it out)"
    [ ! -e "$HEADERS/rust/Makefile" ] || fail "has rust/Makefile"
    [ ! -e "$HEADERS/kernel" ] || fail "has kernel sources"
    [ -f "$HEADERS/rust/libkernel.rmeta" ] || fail "no rust/libkernel.rmeta (what Ubuntu's linux-lib-rust and Arch add)"
    [ -x "$HEADERS/scripts/sign-file" ] || fail "no scripts/sign-file"
}

# A headers package ships no rust/Makefile: kheaders uses its copy of the newest kernel's rules,
# which must skip every flag this kernel's own rules skip.
bindgen_copy_covers_the_trees_rules() {
    local missing
    missing=$(comm -23 <(skip_list "$src/rust/Makefile") <(skip_list "$here/scripts/bindgen-flags.mk"))
    [ -z "$missing" ] || fail "scripts/bindgen-flags.mk does not skip: $missing"
    grep -q "kheaders' copy" "$here/target/variant-distro-headers/target/kheaders/bindgen.mk" \
        || fail "the headers package build did not use the copy"
}

# GNU ld keeps .modinfo sections of different flags apart; the kernel reads only the first.
module_has_one_modinfo_section_with_gnu_ld() {
    local ko
    for ko in "$here/target/variant-distro/kheaders.ko" "$here/target/variant-distro-headers/kheaders.ko"; do
        [ "$(readelf -SW "$ko" | grep -c ' \.modinfo ')" = 1 ] || fail "$ko: $(readelf -SW "$ko" | grep -c ' \.modinfo ') .modinfo sections"
        [ "$(modinfo -F license "$ko")" = GPL ] && [ -n "$(modinfo -F vermagic "$ko")" ] && [ -n "$(modinfo -F version "$ko")" ] \
            || fail "$ko: modinfo lacks license, vermagic or version"
    done
}

run the_kernel_is_gcc_built_with_gcc_only_flags
run module_has_one_modinfo_section_with_gnu_ld
run the_headers_tree_is_a_headers_package
run bindgen_copy_covers_the_trees_rules
