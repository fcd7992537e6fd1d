# Helpers for the in-guest tests (sourced). Each test is a function; `run_tests` runs them in
# order and prints PASS/FAIL lines that scripts/test counts.
# Environment (from scripts/test): KH_MODULE (kheaders.ko), KH_BLOB (the archive the module
# carries, on the host's disk), KH_KDIR (kernel build tree), KH_OUT (writable scratch dir).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cover.sh"
fail() { echo "    $*" >&2; return 1; }
want_eq() { [ "$1" = "$2" ] || fail "expected '$2', got '$1'${3:+ ($3)}"; }
load() { insmod "$KH_MODULE" "$@" || fail "insmod $KH_MODULE $* failed"; }
unload() { rmmod kheaders || fail "rmmod kheaders failed"; }
loaded() { grep -q '^kheaders ' /proc/modules; }
if [ -n "${KH_BLOB:-}" ]; then
    blob_sha=$(sha256sum "$KH_BLOB" | cut -d' ' -f1)
    blob_size=$(stat -c %s "$KH_BLOB")
fi

run_tests() {
    local t rc
    for t in "$@"; do
        loaded && rmmod kheaders
        # Not in an `if`: bash ignores `set -e` inside a condition, even in a subshell.
        ( set -e; "$t" )
        rc=$?
        if [ $rc = 0 ]; then echo "PASS vm:$t"; else echo "FAIL vm:$t"; fi
    done
}
