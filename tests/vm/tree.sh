#!/usr/bin/env bash
# In-guest tests of kheaders-tree (src/pack/files/kheaders-tree; in the archive at
# scripts/kheaders-tree) on a machine with no build tree: /lib/modules/<release> holds only
# what `make modules_install` staged (kheaders among it), the kernel trees on the host are
# hidden, and /usr/src, /var/lib/dkms, /etc/dkms and /tmp are tmpfs of the guest.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/lib.sh"
: "${KH_STAGE:?modules_install staging dir}"
tree=/usr/local/sbin/kheaders-tree
dir=/usr/src/linux-kheaders-$rel
cp -a /etc/dkms /run/kh-etc-dkms
for d in "${KHEADERS_CACHE:-/root/.cache/kheaders}" /lib/modules /usr/src /var/lib/dkms /etc/dkms /tmp; do cover "$d"; done
cp -a /run/kh-etc-dkms/. /etc/dkms/
cp -a "$KH_STAGE/lib/modules/$rel" /lib/modules/
work=$(mktemp -d)
state() { ls -la --time-style=+ "/lib/modules/$rel" /usr/src; }

# A device has the module only: the tool comes out of the archive itself.
the_tool_ships_in_the_archive() {
    insmod "$KH_MODULE"
    mkdir -p /usr/local/sbin
    tar -xOf /proc/kheaders.tar.xz scripts/kheaders-tree >"$tree"; chmod 755 "$tree"
    rmmod kheaders
    cmp -s "$tree" "$here/src/pack/files/kheaders-tree" || fail "the archive's kheaders-tree is not ours"
}

refused_for_a_user_other_than_root() {
    ! setpriv --reuid=65534 --regid=65534 --clear-groups "$tree" >"$work/user.out" 2>&1 \
        || fail "it ran as nobody"
    grep -q 'kheaders-tree: error: run it as root' "$work/user.out" || { cat "$work/user.out" >&2; fail "no clear message"; }
    [ ! -e "$dir" ] || fail "$dir appeared"
}

installs_the_build_tree_and_modules_build_against_it() {
    state >"$work/before"
    "$tree"
    ! loaded || fail "it left kheaders loaded"
    want_eq "$(readlink "/lib/modules/$rel/build")" "$dir"
    want_eq "$(readlink "/lib/modules/$rel/source")" "$dir"
    want_eq "$(stat -c '%U %a' "$dir")" "root 755"
    cp -r "$here/tests/modules/hello" "$work/hello"
    make -C "/lib/modules/$rel/build" M="$work/hello" modules >"$work/hello.log" 2>&1 || { tail -20 "$work/hello.log" >&2; fail "make failed"; }
    hello_loads "$work/hello/hello.ko"
}

idempotent() {
    local before; before=$(stat -c %i "$dir")
    "$tree" | grep -q 'is up to date' || fail "not up to date"
    want_eq "$(stat -c %i "$dir")" "$before" "the tree was rewritten"
}

# dkms passes CC=clang LD=ld.lld for this clang-built kernel (on 7.x: clang-19, plain clang 14).
third_party_dkms_package_installs_and_loads() {
    # Gone however the test ends (it runs in a subshell of its own), for the state compared below;
    # set +e: under the test's set -e the first failing step (rmmod of an unloaded module) would
    # end the trap there, and the test with it.
    trap 'set +e; rmmod hello 2>/dev/null; dkms remove khtest-hello/1.0 --all >/dev/null 2>&1; rm -rf /usr/src/khtest-hello-1.0' EXIT
    mkdir -p /usr/src/khtest-hello-1.0
    cp "$here/tests/modules/hello/"* "$here/tests/modules/hello-dkms/dkms.conf" /usr/src/khtest-hello-1.0/
    dkms install khtest-hello/1.0 -k "$rel" >"$work/dkms.log" 2>&1 \
        || { tail -20 "$work/dkms.log" /var/lib/dkms/khtest-hello/1.0/build/make.log >&2; fail "dkms install failed"; }
    modprobe hello
    dmesg | grep -q 'hello from a module built against kheaders' || fail "no init message"
    rmmod hello
}

bcc_uses_the_tree_without_its_kheaders_fallback() {
    ! loaded || fail "kheaders already loaded"
    local loads; loads=$(dmesg | grep -c 'kheaders: serving')
    /usr/bin/python3 - <<'PY'
from bcc import BPF
b = BPF(text=r'''
#include <linux/sched.h>
int kprobe__do_sys_openat2(struct pt_regs *ctx) { return sizeof(struct task_struct) > 0; }
''')
PY
    # bcc's fallback loads kheaders and extracts it to $TMPDIR/kheaders-<release>.
    ! ls -d /tmp/kheaders-"$rel"* >/dev/null 2>&1 || fail "bcc fell back to kheaders"
    want_eq "$(dmesg | grep -c 'kheaders: serving')" "$loads" "kheaders loads while bcc ran"
}

remove_restores_the_previous_state() {
    "$tree" --remove
    state >"$work/after"
    diff "$work/before" "$work/after" >&2 || fail "state differs after --remove"
}

never_clobbers_a_real_build_tree() {
    mkdir -p "$work/real"; echo 'all:' >"$work/real/Makefile"; ln -s "$work/real" "/lib/modules/$rel/build"
    ! "$tree" 2>"$work/clobber" || fail "it ran over an existing build tree"
    grep -q "kheaders-tree: error: /lib/modules/$rel/build exists" "$work/clobber" || { cat "$work/clobber" >&2; fail "no clear message"; }
    want_eq "$(readlink "/lib/modules/$rel/build")" "$work/real"
    [ ! -e "$dir" ] || fail "it extracted anyway"
    rm "/lib/modules/$rel/build"
}

planted_links_do_not_redirect_it() {
    mkdir -p "$work/evil"
    ln -s "$work/evil" "/tmp/kheaders-$rel"          # where bcc extracts
    ln -s "$work/evil" "$dir"                        # its own target directory
    ! "$tree" 2>"$work/planted" || fail "it followed a planted $dir"
    grep -q "$dir exists and is not kheaders-tree's" "$work/planted" || { cat "$work/planted" >&2; fail "no clear message"; }
    rm "$dir"
    "$tree" >/dev/null
    [ -z "$(ls -A "$work/evil")" ] || fail "something was written through a planted link"
    [ -d "$dir" ] && [ ! -L "$dir" ] || fail "not a real directory"
    "$tree" --remove >/dev/null
    rm "/tmp/kheaders-$rel"
}

run_tests the_tool_ships_in_the_archive refused_for_a_user_other_than_root installs_the_build_tree_and_modules_build_against_it \
    idempotent third_party_dkms_package_installs_and_loads bcc_uses_the_tree_without_its_kheaders_fallback \
    remove_restores_the_previous_state never_clobbers_a_real_build_tree planted_links_do_not_redirect_it
