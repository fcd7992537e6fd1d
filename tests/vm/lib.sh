# shellcheck shell=bash
# Helpers for the in-guest suites (sourced): each test is a function, `run_tests fn...` runs
# them in order and prints KTAP (tests/lib.sh, which also says what KH_* the suites get).
set -u
: "${KH_SUITE:=vm}"
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=tests/vm/cover.sh
. "$(dirname "${BASH_SOURCE[0]}")/cover.sh"
load() { insmod "$KH_MODULE" "$@" || fail "insmod $KH_MODULE $* failed"; }
unload() { rmmod kheaders || fail "rmmod kheaders failed"; }
loaded() { grep -q '^kheaders ' /proc/modules; }
before_each() { ! loaded || rmmod kheaders; }
# shellcheck disable=SC2034  # for the suites
if [ -n "${KH_BLOB:-}" ]; then
    blob_sha=$(sha256sum "$KH_BLOB" | cut -d' ' -f1)
    blob_size=$(stat -c %s "$KH_BLOB")
fi
