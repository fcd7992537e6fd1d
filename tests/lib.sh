# shellcheck shell=bash disable=SC2034  # variables for the scripts that source it
# The harness's one shell library, sourced (bash) by scripts/ and by the suites in tests/, in
# the guests too (they see this tree read-only at the same path). It prints KTAP as the kernel's
# tools/testing/selftests/kselftest/ktap_helpers.sh does, and holds what several scripts need.
#
# Settings a user gives are KHEADERS_* (README, Testing). KH_* are internal, set by the scripts
# for the suites (scripts/vm-run passes KH_* and KHEADERS_* on into the guest): KH_SUITE the
# prefix of the suite's test names (vm, vm-debug, host...); KH_MODULE kheaders.ko; KH_BLOB the
# archive it carries; KH_KDIR its kernel build tree; KH_OUT a writable scratch directory (set by
# vm-run); KH_STAGE what `make modules_install` staged; KH_INSTALLED, KH_IKHEADERS (distro suite);
# KH_UPSTREAM_KO, KH_UPSTREAM_BLOB (bench); KH_DKMS_NS, KH_DISTRO_NS (a suite in its namespaces).

: "${KH_SUITE:=host}"
kh_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }                   # progress, on stderr
die() { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit "${DIE_STATUS:-1}"; }

# --- KTAP ------------------------------------------------------------------------------------
KTAP_TESTNO=${KTAP_TESTNO:-1} KTAP_CNT_PASS=${KTAP_CNT_PASS:-0} KTAP_CNT_FAIL=${KTAP_CNT_FAIL:-0}
KTAP_CNT_SKIP=${KTAP_CNT_SKIP:-0} KTAP_FAILED=()
ktap_print_header() { echo "TAP version 13"; }
ktap_set_plan() { echo "1..$1"; }
ktap_print_msg() { echo "# $*"; }
__ktap_test() { echo "$1 $KTAP_TESTNO $2${3:+ # $3}"; KTAP_TESTNO=$((KTAP_TESTNO + 1)); }
# name [diagnostic, printed before the result]; a skip's reason goes after `# SKIP`.
ktap_test_pass() { [ -z "${2:-}" ] || ktap_print_msg "$2"; __ktap_test ok "$1"; KTAP_CNT_PASS=$((KTAP_CNT_PASS + 1)); }
ktap_test_fail() {
    [ -z "${2:-}" ] || ktap_print_msg "$2"
    __ktap_test "not ok" "$1"; KTAP_CNT_FAIL=$((KTAP_CNT_FAIL + 1)); KTAP_FAILED+=("$1")
}
ktap_test_skip() { __ktap_test ok "$1" "SKIP${2:+ $2}"; KTAP_CNT_SKIP=$((KTAP_CNT_SKIP + 1)); }
ktap_test_result() { if "${@:2}"; then ktap_test_pass "$1"; else ktap_test_fail "$1"; fi; }   # name command...
ktap_print_totals() { echo "# Totals: pass:$KTAP_CNT_PASS fail:$KTAP_CNT_FAIL xfail:0 xpass:0 skip:$KTAP_CNT_SKIP error:0"; }
# The closing line of a runner (scripts/test, test-cross, test-fresh), which CI parses; a
# trailing plan (the count is known only now), the totals; exits 1 on any failure.
ktap_finished() {
    ktap_set_plan $((KTAP_TESTNO - 1)); ktap_print_totals
    [ ${#KTAP_FAILED[@]} = 0 ] || ktap_print_msg "failed: ${KTAP_FAILED[*]}"
    echo "$KTAP_CNT_PASS passed, $KTAP_CNT_FAIL failed$([ "$KTAP_CNT_SKIP" = 0 ] || echo ", $KTAP_CNT_SKIP skipped")"
    [ "$KTAP_CNT_FAIL" = 0 ]; exit
}

# A runner's view of its suites' KTAP (one stream or several) on stdin: each result counted and
# printed again, numbered in the runner's stream; diagnostics and any other output passed on as
# diagnostics. A suite that stops before its plan is one failure more. (`suite | ktap_tally`
# counts in this shell, not in a pipeline's subshell: lastpipe.)
shopt -s lastpipe
ktap_tally() { # suite-name
    local line rest plan=0 plans=0 totals=0 n=0
    while IFS= read -r line; do
        case $line in
        "TAP version "*) ;;
        1..[0-9]*) plan=$((plan + ${line#1..})); plans=$((plans + 1)) ;;
        "ok "*" # SKIP"*) rest=${line#ok * }; n=$((n + 1)); ktap_test_skip "${rest%% # SKIP*}" "$(rest=${rest#* # SKIP}; echo "${rest# }")" ;;
        "ok "*) n=$((n + 1)); ktap_test_pass "${line#ok * }" ;;
        "not ok "*) n=$((n + 1)); ktap_test_fail "${line#not ok * }" ;;
        "# Totals:"*) totals=$((totals + 1)) ;;
        "#"*) echo "$line" ;;
        *) echo "# $line" ;;
        esac
    done
    [ "$plans" = 0 ] || [ "$totals" != "$plans" ] || [ "$n" != "$plan" ] || return 0
    ktap_test_fail "$1:ran-to-the-end" "stopped after $n of $plan tests"
}

# --- suites: each test a function ------------------------------------------------------------
# A test fails on the first failing command (set -e) or `fail`; `skip REASON` skips it. Names
# are <suite>:<function>, the suite from KH_SUITE. The plan is the functions given, or
# KTAP_PLAN when a suite calls run_tests more than once (tests/distro.sh); the totals follow
# the last test of the plan. Returns 1 if a test failed.
fail() { echo "# $*" >&2; return 1; }
skip() { echo "$*" >"$kh_skip_reason"; exit 4; }   # 4: kselftest's KSFT_SKIP
run_tests() { # function...
    local t rc t0 failed=0 kh_skip_reason
    kh_skip_reason=$(mktemp)
    [ "$KTAP_TESTNO" != 1 ] || { ktap_print_header; ktap_set_plan "${KTAP_PLAN:-$#}"; }
    for t in "$@"; do
        ktap_print_msg "test $KTAP_TESTNO of ${KTAP_PLAN:-$#}: $t"   # progress, while a slow guest runs
        [ "$(type -t before_each)" != function ] || before_each
        # Not in an `if`: bash ignores `set -e` inside a condition, even in a subshell.
        t0=$SECONDS
        ( set -e; "$t" )
        rc=$?
        ktap_print_msg "$t: $((SECONDS - t0)) s"   # where a suite's time goes
        if [ $rc = 0 ]; then ktap_test_pass "$KH_SUITE:$t"
        elif [ $rc = 4 ] && [ -s "$kh_skip_reason" ]; then ktap_test_skip "$KH_SUITE:$t" "$(cat "$kh_skip_reason")"; : >"$kh_skip_reason"
        else ktap_test_fail "$KH_SUITE:$t"; failed=1; fi
    done
    rm -f "$kh_skip_reason"
    [ $((KTAP_TESTNO - 1)) != "${KTAP_PLAN:-$#}" ] || ktap_print_totals
    return $failed
}
need() { local c; for c; do command -v "$c" >/dev/null || skip "no $c here"; done; }   # command...
want_eq() { [ "$1" = "$2" ] || fail "expected '$2', got '$1'${3:+ ($3)}"; }

# --- what several scripts check --------------------------------------------------------------
# A kernel log line that fails a run: vm-run, test-cross (the console) and its guest (dmesg).
kernel_complaint='BUG:|WARNING:|Oops|CFI failure|KASAN:|UBSAN:|Kernel panic|general protection fault|Unable to handle kernel|possible recursive locking|circular locking dependency|suspicious RCU usage|unreferenced object'
kernel_complaints() { grep -E -h "$kernel_complaint" "$@" | grep -v 'kheaders-test-ignore'; }   # file...: the lines

# SRCARCH from a kernel config on stdin: `# Linux/x86_64 6.12.117 Kernel Configuration` -> x86,
# as src/pack/tree.rs and the kernel's top Makefile map it (.config and auto.conf both have it).
srcarch() {
    sed -n 's|^# Linux/\([^ ]*\) .*|\1|p' | head -1 \
        | sed 's/^\(x86_64\|i386\)$/x86/; s/^sparc\(32\|64\)$/sparc/; s/^sh64$/sh/; s/^parisc64$/parisc/'
}

now() { date +%s%N; }                                  # nanoseconds
since() { echo "$(( $(date +%s) - $1 )) s"; }          # since a `date +%s`, in seconds: "N s"
# Free memory with the page cache dropped: it moves by megabytes (the .ko read, the archive read
# back), and the demo and bench print a module's own memory as a difference of two of these.
avail() { sync; echo 3 >/proc/sys/vm/drop_caches; awk '/MemAvailable/ {print $2}' /proc/meminfo; }

# The sources a build of the module needs, copied to DIR (builds for other kernels or options
# go in copies, so that the checkout's own build stays as it is); only the files that differ,
# so that make and cargo rebuild what changed. The tracked ones in a git checkout; from a source
# tarball the same paths as they are, less the bindings a build generates (as scripts/dkms-src).
copy_sources() { # dir [more paths...]
    local f d=$1 p=(Cargo.toml Cargo.lock Kbuild Makefile build.rs src scripts/bindgen-rules scripts/bindgen-flags.mk)
    shift; p+=("$@")
    mkdir -p "$d"
    (cd "$kh_repo" && if git ls-files --error-unmatch Kbuild >/dev/null 2>&1; then git ls-files -z "${p[@]}"
        else find "${p[@]}" -type f ! -path src/proc_bindings.rs ! -name '*.o' ! -name '.*.cmd' ! -name '.*.d' ! -name '*.rmeta' -print0; fi \
        | while IFS= read -r -d '' f; do cmp -s "$f" "$d/$f" || cp --parents "$f" "$d"; done)
}

# KDIR as given, or the test kernel (built on first use), and `image`, the kernel to boot.
kernel_and_image() {
    if [ -n "${KDIR:-}" ]; then image=$KDIR/$(make -s -C "$KDIR" image_name)
    else KDIR=$("$kh_repo/scripts/test-kernel") && image=$("$kh_repo/scripts/test-kernel" image); fi
}

# The symbols a module imports: its undefined ELF symbols, by readelf (not the nm that
# `make symbol-list` uses). GNU readelf reads ELF of any machine.
imports() { readelf -Ws "$1" | awk '$7 == "UND" && $8 != "" { print $8 }' | LC_ALL=C sort -u; }   # module.ko

# The kernel reads a module's first .modinfo section only: all records must be in one (GNU ld
# keeps sections of different flags apart).
one_modinfo_section() { # module.ko
    local n; n=$(readelf -SW "$1" | grep -c ' \.modinfo ')
    [ "$n" = 1 ] || fail "$1: $n .modinfo sections"
    [ "$(modinfo -F license "$1")" = GPL ] || fail "$1: license '$(modinfo -F license "$1")'"
    [ -n "$(modinfo -F vermagic "$1")" ] && [ -n "$(modinfo -F version "$1")" ] || fail "$1: modinfo lacks vermagic or version"
}
