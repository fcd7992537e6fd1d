# shellcheck shell=bash disable=SC2034,SC2120  # variables and helpers for the suites
# Helpers for the in-guest suites (sourced): each test is a function, `run_tests fn...` runs
# them in order and prints KTAP (tests/lib.sh, which also says what KH_* the suites get).
set -u
exec 2>&1   # diagnostics (`fail`) into the KTAP stream: vng does not pass the guest's stderr on
: "${KH_SUITE:=vm}"
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=tests/vm/cover.sh
. "$(dirname "${BASH_SOURCE[0]}")/cover.sh"
here=$kh_repo rel=$(uname -r)
load() { insmod "$KH_MODULE" "$@" || fail "insmod $KH_MODULE $* failed"; }
unload() { rmmod kheaders || fail "rmmod kheaders failed"; }
loaded() { grep -q '^kheaders ' /proc/modules; }
extract() { load; mkdir -p "$1"; tar -xf /proc/kheaders.tar.xz -C "$1"; unload; }   # dir
hello_loads() { # hello.ko (tests/modules/hello or rust_hello): it loads, says so, and unloads
    local said; said=$(dmesg | grep -c 'hello from a module built against kheaders' || true)
    insmod "$1"
    [ "$(dmesg | grep -c 'hello from a module built against kheaders')" -gt "$said" ] || fail "$1: no init message"
    rmmod "$(modinfo -F name "$1")"   # the module's name, whatever the file is called
}
before_each() { ! loaded || rmmod kheaders; }
[ -z "${KH_BLOB:-}" ] || blob_sha=$(sha256sum "$KH_BLOB" | cut -d' ' -f1) blob_size=$(stat -c %s "$KH_BLOB")
