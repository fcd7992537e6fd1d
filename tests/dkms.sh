#!/usr/bin/env bash
# DKMS on the host: dkms add/build/install kheaders for the test kernel ($KDIR), as a
# distribution would for an installed kernel; then remove it again.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
KDIR=${KDIR:?}
fail() { echo "    $*" >&2; return 1; }
run() { ( set -e; "$1" ); if [ $? = 0 ]; then echo "PASS host:$1"; else echo "FAIL host:$1"; fi; }
command -v dkms >/dev/null || { echo "SKIP host:dkms: dkms is not installed (scripts/setup installs it)"; exit 0; }
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$here/dkms.conf")
rel=$(cat "$KDIR/include/config/kernel.release")
src=/usr/src/kheaders-$ver
# dkms installs only for an installed kernel: make the test kernel look installed (its
# /lib/modules/<release>/build link), and undo that afterwards.
made_moddir=
if [ ! -e "/lib/modules/$rel" ]; then
    mkdir -p "/lib/modules/$rel" && ln -s "$KDIR" "/lib/modules/$rel/build" && made_moddir=1
fi
cleanup() {
    dkms remove "kheaders/$ver" --all >/dev/null 2>&1 || true
    rm -rf "$src"
}
trap 'cleanup; [ -z "$made_moddir" ] || rm -rf "/lib/modules/$rel"' EXIT

dkms_builds_and_installs_for_the_test_kernel() {
    cleanup
    mkdir -p "$src"
    (cd "$here" && git ls-files -z | xargs -0 cp --parents -t "$src")
    dkms add "kheaders/$ver" >/dev/null
    dkms build "kheaders/$ver" -k "$rel" --kernelsourcedir "$KDIR" >/tmp/kh-dkms.log 2>&1 \
        || { tail -20 /tmp/kh-dkms.log; cat /var/lib/dkms/kheaders/$ver/build/make.log 2>/dev/null | tail -20; fail "dkms build failed"; }
    local ko; ko=$(find "/var/lib/dkms/kheaders/$ver/$rel" -name 'kheaders.ko*' | head -1)
    [ -n "$ko" ] || fail "no kheaders.ko from dkms"
    [ "$(modinfo -F kernel_release "$ko")" = "$rel" ] || fail "built for another release"
    dkms install "kheaders/$ver" -k "$rel" --kernelsourcedir "$KDIR" >>/tmp/kh-dkms.log 2>&1 \
        || { tail -20 /tmp/kh-dkms.log; fail "dkms install failed"; }
    dkms status "kheaders/$ver" -k "$rel" | grep -q installed || fail "dkms status: not installed"
    find "/lib/modules/$rel" -name 'kheaders.ko*' | grep -q . || fail "not installed under /lib/modules/$rel"
}

run dkms_builds_and_installs_for_the_test_kernel
