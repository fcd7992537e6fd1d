#!/usr/bin/env bash
# DKMS on the host: dkms add/build/install kheaders for the test kernel ($KDIR, clang-built) from
# `make dkms-src`'s tree, as a distribution would for an installed kernel. It runs in a mount
# namespace of its own with a tmpfs over /lib/modules, /usr/src, /var/lib/dkms and /etc/dkms:
# what the user installed there (their kheaders too) is hidden from the test, never changed.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
KDIR=${KDIR:?}
. "$here/tests/lib.sh"
[ -n "${KH_DKMS_NS:-}" ] || exec unshare -m --propagation private env KH_DKMS_NS=1 "$0" "$@"
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$here/dkms.conf")
rel=$(cat "$KDIR/include/config/kernel.release")
log=$(mktemp)

dkms_builds_and_installs_for_the_test_kernel() {
    need dkms   # scripts/setup installs it
    (cd "$here" && make -s dkms-src >/dev/null) || fail "make dkms-src failed"
    for d in /lib/modules /usr/src /var/lib/dkms /etc/dkms; do mkdir -p "$d" && mount -t tmpfs none "$d"; done
    mkdir -p "/lib/modules/$rel" && ln -s "$KDIR" "/lib/modules/$rel/build"
    cp -r "$here/target/dkms/kheaders-$ver" /usr/src/
    # DKMS builds with the tree's prebuilt packer: cargo is not run. Here a cargo that fails
    # and says so stands in for rustup's (rustc, a link to rustup beside it, still works).
    bin=$(dirname "$(command -v rustc)"); cp -a "$bin" "$log.bin"
    rm -f "$log.bin/cargo"; printf '#!/bin/sh\necho "$0 $*" >>%s.cargo-ran; exit 1\n' "$log" >"$log.bin/cargo"; chmod +x "$log.bin/cargo"
    mount --bind "$log.bin" "$bin"; trap 'umount "$bin"' EXIT
    dkms add "kheaders/$ver" >/dev/null
    dkms install "kheaders/$ver" -k "$rel" >"$log" 2>&1 \
        || { tail -20 "$log" "/var/lib/dkms/kheaders/$ver/build/make.log" >&2 2>/dev/null; fail "dkms install failed"; }
    local ko; ko=$(find "/lib/modules/$rel" -name 'kheaders.ko*' | head -1)
    [ -n "$ko" ] || fail "not installed under /lib/modules/$rel"
    [ "$(modinfo -F kernel_release "$ko")" = "$rel" ] || fail "built for another release"
    case $(dkms status "kheaders/$ver" -k "$rel") in *": installed") ;; *) fail "dkms status: $(dkms status)" ;; esac
    [ ! -e "$log.cargo-ran" ] || fail "cargo ran: $(cat "$log.cargo-ran")"
}

# What DKMS builds from: at most 6 MB (README, DKMS).
dkms_source_tree_is_at_most_6_mb() {
    (cd "$here" && make -s dkms-src >/dev/null) || fail "make dkms-src failed"
    local kb; kb=$(du -sk "$here/target/dkms/kheaders-$ver" | cut -f1)
    echo "# target/dkms/kheaders-$ver: $kb kB" >&2
    [ "$kb" -le 6144 ] || fail "$kb kB"
}

# A tree whose packer cannot run here (made on another architecture): one line, nothing built.
dkms_tree_with_a_foreign_packer_is_one_line() {
    (cd "$here" && make -s dkms-src >/dev/null) || fail "make dkms-src failed"
    local t; t=$(mktemp -d); cp -r "$here/target/dkms/kheaders-$ver/." "$t/"
    head -c 64 "$t/kheaders-pack" >"$t/kheaders-pack.short" && mv "$t/kheaders-pack.short" "$t/kheaders-pack"
    chmod +x "$t/kheaders-pack"
    if make -C "$t" KDIR="$KDIR" >"$log" 2>&1; then rm -rf "$t"; fail "built with a packer that cannot run"; fi
    [ "$(grep -c 'kheaders: error:' "$log")" = 1 ] || { cat "$log" >&2; rm -rf "$t"; fail "not one error line"; }
    grep -q "kheaders: error: $t/kheaders-pack does not run on this machine" "$log" || { cat "$log" >&2; rm -rf "$t"; fail "not the packer's line"; }
    [ ! -e "$t/target/kheaders/kheaders.tar.xz" ] || { rm -rf "$t"; fail "an archive was written"; }
    rm -rf "$t"
}

# A release tarball has no .git: the same tree from the same files, the packer byte for byte.
dkms_source_tree_from_a_tarball_is_the_checkouts() {
    (cd "$here" && make -s dkms-src >/dev/null) || fail "make dkms-src failed"
    local src; src=$(mktemp -d)
    (cd "$here" && git ls-files -z | xargs -0 cp --parents -t "$src") || fail "copy failed"
    # What a `make` there leaves in src/ stays out of the tree.
    touch "$src/src/kheaders.o" "$src/src/.kheaders.o.cmd" "$src/src/.proc_bindings.rs.cmd"
    (cd "$src" && scripts/dkms-src >/dev/null 2>"$log") || { cat "$log" >&2; rm -rf "$src"; fail "make dkms-src failed without git"; }
    diff -r "$here/target/dkms/kheaders-$ver" "$src/target/dkms/kheaders-$ver" >&2 \
        || { rm -rf "$src"; fail "the trees differ"; }
    rm -rf "$src"
}

run_tests dkms_builds_and_installs_for_the_test_kernel dkms_source_tree_is_at_most_6_mb \
    dkms_tree_with_a_foreign_packer_is_one_line dkms_source_tree_from_a_tarball_is_the_checkouts
