#!/usr/bin/env bash
# Host checks on the distro kernels (scripts/test builds them): that the trees are what we say
# they are, that kheaders derives bindgen's flags from them as the kernel does, and DKMS as a
# distribution machine runs it: the kernel's modules installed (upstream's kheaders.ko among
# them), only the headers package at /lib/modules/<release>/build, our kheaders-dkms .deb
# installed with apt and with no network, signing with a key the kernel trusts, the kernel
# hook, then the package purged. It all runs in mount and network namespaces of its own, with a
# tmpfs over /lib/modules, /usr/src, /var/lib/dkms and /etc/dkms and an overlay over /var and
# /usr/share (dpkg's and apt's state, logs, the package's docs): the host's are never touched.
# What DKMS installed is copied to OUT for the booted kernel (tests/vm/distro.sh).
#   KDIR: the GCC-built distro build tree; HEADERS: its headers package tree; NORUST: a kernel
#   without Rust; STAGE: the kernel's modules_install; DEB: make deb's package.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
KDIR=${KDIR:?} HEADERS=${HEADERS:?} NORUST=${NORUST:?} STAGE=${STAGE:?} DEB=${DEB:?} OUT=${OUT:?}
src=$(readlink -f "$KDIR/source")
. "$here/tests/lib.sh"
KTAP_PLAN=13  # run_tests twice: before and in the namespaces
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

module_has_one_modinfo_section_with_gnu_ld() {
    one_modinfo_section "$here/target/variant-distro/kheaders.ko"
    one_modinfo_section "$here/target/variant-distro-headers/kheaders.ko"
}

# The package (make deb): lintian has nothing to say but what scripts/debian's overrides explain.
package_is_lintian_clean() {
    need lintian
    local out; out=$(lintian --pedantic -I "$DEB" 2>/dev/null) || { echo "$out" >&2; fail "lintian failed"; }
    [ -z "$out" ] || { echo "$out" >&2; fail "lintian tags"; }
}

# Its version is the crate's (and dkms.conf's); it depends on dkms; what DKMS builds from is at
# most 6 MB installed, the packer prebuilt in it.
package_is_the_crates_version_and_small() {
    local v; v=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$here/Cargo.toml" | head -1)
    [ "$(dpkg-deb -f "$DEB" Version)" = "$v" ] || fail "package version $(dpkg-deb -f "$DEB" Version), crate $v"
    grep -qx "PACKAGE_VERSION=\"$v\"" "$here/dkms.conf" || fail "dkms.conf's version is not $v"
    dpkg-deb -f "$DEB" Depends | grep -Eq '(^|, )dkms( |,|$)' || fail "no Depends on dkms: $(dpkg-deb -f "$DEB" Depends)"
    local kb; kb=$(dpkg-deb -f "$DEB" Installed-Size)
    echo "# $(basename "$DEB"): Installed-Size $kb kB" >&2
    [ "$kb" -le 6144 ] || fail "Installed-Size $kb kB"
    local files; files=$(dpkg-deb -c "$DEB")
    grep -q " ./usr/src/kheaders-$v/kheaders-pack$" <<<"$files" || fail "no prebuilt packer"
    grep -q ' ./usr/share/doc/kheaders-dkms/README.Debian$' <<<"$files" || fail "no README.Debian"
}

if [ -z "${KH_DISTRO_NS:-}" ]; then
    run_tests the_kernel_is_gcc_built_with_gcc_only_flags module_has_one_modinfo_section_with_gnu_ld \
        the_headers_tree_is_a_headers_package bindgen_copy_covers_the_trees_rules \
        package_is_lintian_clean package_is_the_crates_version_and_small
    exec unshare -m -n --propagation private env KH_DISTRO_NS=1 KTAP_TESTNO="$KTAP_TESTNO" KTAP_CNT_PASS="$KTAP_CNT_PASS" \
        KTAP_CNT_FAIL="$KTAP_CNT_FAIL" KTAP_CNT_SKIP="$KTAP_CNT_SKIP" "$0" "$@"
fi

# ---- The package and DKMS, in namespaces of their own ----
rel=$(cat "$KDIR/include/config/kernel.release")
norust=$(cat "$NORUST/include/config/kernel.release")
DEB=$(readlink -f "$DEB")
ver=$(dpkg-deb -f "$DEB" Version)
ours=/lib/modules/$rel/updates/dkms/kheaders.ko
log=$(mktemp)
cp -a /etc/dkms "$log.etc"
for d in /lib/modules /usr/src /etc/dkms; do mkdir -p "$d" && mount -t tmpfs none "$d"; done
mkdir "$log.ov" && mount -t tmpfs none "$log.ov"
for d in /var /usr/share; do
    u=$log.ov/$(basename "$d"); mkdir -p "$u/upper" "$u/work"
    mount -t overlay overlay -o "lowerdir=$d,upperdir=$u/upper,workdir=$u/work" "$d"
done
mount -t tmpfs none /var/lib/dkms
cp -a "$log.etc/." /etc/dkms/
mkdir -p /etc/dkms/framework.conf.d
printf 'mok_signing_key=%s\nmok_certificate=%s\n' "$KDIR/certs/signing_key.pem" "$KDIR/certs/signing_key.x509" \
    >/etc/dkms/framework.conf.d/kheaders-test.conf
cp -a "$STAGE/lib/modules/$rel" /lib/modules/
rm -f "/lib/modules/$rel/build" "/lib/modules/$rel/source"
ln -s "$HEADERS" "/lib/modules/$rel/build"
mkdir -p "/lib/modules/$norust"; ln -s "$NORUST" "/lib/modules/$norust/build"
# What the package and DKMS may touch, before the package, to compare after its purge.
listing() { { find /usr/src /var/lib/dkms /lib/modules; find /usr/share /var/lib/dpkg/info -name '*kheaders*'; } | LC_ALL=C sort; }
listing >"$log.before"

no_network_here() {
    [ "$(ip -o link show | grep -vc ' lo:')" = 0 ] || fail "this namespace has a network interface"
}

# apt install ./kheaders-dkms_*.deb, as a user installs it: its postinst (dh-dkms) builds and
# installs ours for every kernel with headers, skipping the one without Rust. This user's kernels
# are built with rustup's rustc, so Debian's rustc, rust-src and bindgen (the package recommends
# them, for Debian's own kernels) are left out, as such a user would.
package_install_builds_ours_offline_and_signs_it() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$DEB" >"$log" 2>&1 \
        || { tail -30 "$log" "/var/lib/dkms/kheaders/$ver/build/make.log" >&2 2>/dev/null || :; fail "apt-get install failed"; }
    [ "$(dpkg-query -W -f='${Status} ${Version}' kheaders-dkms)" = "install ok installed $ver" ] || fail "dpkg: not installed"
    local st; st=$(dkms status "kheaders/$ver" -k "$rel")
    case $st in *": installed") ;; *) fail "dkms status: $st" ;; esac
    ! dkms status "kheaders/$ver" -k "$norust" | grep -q "$norust" || fail "dkms built it for $norust"
    [ -f "$ours" ] || fail "not installed at $ours"
    [ "$(modinfo -F version "$ours")" = "$ver" ] || fail "modinfo version $(modinfo -F version "$ours"), package $ver"
    [ "$(modinfo -F signer "$ours")" = "$(modinfo -F signer "/lib/modules/$rel/kernel/kernel/kheaders.ko")" ] \
        || fail "not signed with the kernel's key: '$(modinfo -F signer "$ours")'"
    echo "# $st; signer: $(modinfo -F signer "$ours")" >&2
    rm -rf "$OUT"; mkdir -p "$OUT"; cp -a "/lib/modules/$rel" "$OUT/"; rm -f "$OUT/$rel/build" "$OUT/$rel/source"
}

# What a kernel package's postinst runs for a new kernel (/etc/kernel/postinst.d/dkms): ours is
# built again, offline.
kernel_hook_builds_ours() {
    dkms unbuild "kheaders/$ver" -k "$rel" >"$log" 2>&1 || { cat "$log" >&2; fail "dkms unbuild failed"; }
    case $(dkms status "kheaders/$ver" -k "$rel") in *": added") ;; *) fail "after unbuild: $(dkms status)" ;; esac
    [ ! -e "$ours" ] || fail "still at $ours"
    /etc/kernel/postinst.d/dkms "$rel" >"$log" 2>&1 \
        || { tail -30 "$log" "/var/lib/dkms/kheaders/$ver/build/make.log" >&2 2>/dev/null || :; fail "the kernel hook failed"; }
    case $(dkms status "kheaders/$ver" -k "$rel") in *": installed") ;; *) fail "dkms status: $(dkms status)" ;; esac
    [ -f "$ours" ] || fail "not installed at $ours"
}

depmod_puts_ours_before_upstreams() {
    [ "$(modinfo -n kheaders -k "$rel")" = "$ours" ] || fail "modinfo -n kheaders: $(modinfo -n kheaders -k "$rel")"
    [ "$(modinfo -F version kheaders -k "$rel")" = "$ver" ] || fail "version"
    [ -f "/lib/modules/$rel/kernel/kernel/kheaders.ko" ] || fail "upstream's module is gone"
    [ -z "$(modinfo -F version "/lib/modules/$rel/kernel/kernel/kheaders.ko")" ] || fail "upstream's has a version?"
}

# The package's install skipped it (above); so does a later autoinstall.
autoinstall_skips_a_kernel_without_rust() {
    ! grep -q '^CONFIG_RUST=y' "$NORUST/.config" || fail "the no-Rust kernel has Rust"
    dkms autoinstall -k "$norust" >"$log" 2>&1 || { cat "$log" >&2; fail "dkms autoinstall exited non-zero"; }
    ! dkms status "kheaders/$ver" -k "$norust" | grep -q "$norust" || fail "dkms built it for $norust"
    # Asked for by hand, BUILD_EXCLUSIVE_CONFIG skips it (dkms's status 77), with no build.
    local rc=0; dkms build "kheaders/$ver" -k "$norust" >"$log" 2>&1 || rc=$?
    [ $rc = 77 ] || fail "dkms build for $norust exited $rc"
}

missing_rust_metadata_is_one_line_in_dkms_make_log() {
    local k=$rel-normeta t; t=$(mktemp -d)
    mkdir -p "/lib/modules/$k"
    cp -as "$HEADERS/." "$t/"; rm -rf "$t/rust"
    ln -s "$t" "/lib/modules/$k/build"
    if dkms build "kheaders/$ver" -k "$k" >"$log" 2>&1; then fail "built without rust/*.rmeta"; fi
    local mlog=/var/lib/dkms/kheaders/$ver/build/make.log
    [ "$(grep -c 'kheaders: error:' "$mlog")" = 1 ] || { tail "$mlog" >&2; fail "not one error line in make.log"; }
    grep -q 'kheaders: error: .* no rust/libkernel.rmeta' "$mlog" || { tail "$mlog" >&2; fail "not the missing-metadata line"; }
    rm -rf "/lib/modules/$k" "$t"
}

# apt purge: every file the package and DKMS added is gone, and nothing else.
package_purge_leaves_the_files_as_they_were() {
    DEBIAN_FRONTEND=noninteractive apt-get purge -y kheaders-dkms >"$log" 2>&1 || { cat "$log" >&2; fail "apt-get purge failed"; }
    [ -z "$(dpkg-query -W -f='${Status}' kheaders-dkms 2>/dev/null)" ] || fail "dpkg still knows it: $(dpkg-query -W -f='${Status}' kheaders-dkms)"
    listing >"$log.after"
    diff "$log.before" "$log.after" >&2 || fail "the files differ after the purge"
    [ -f "/lib/modules/$rel/kernel/kernel/kheaders.ko" ] || fail "upstream's module is gone"
}

run_tests no_network_here package_install_builds_ours_offline_and_signs_it depmod_puts_ours_before_upstreams \
    kernel_hook_builds_ours autoinstall_skips_a_kernel_without_rust missing_rust_metadata_is_one_line_in_dkms_make_log \
    package_purge_leaves_the_files_as_they_were
