#!/usr/bin/env bash
# In-guest test of a Rust external module built from the archive alone. Needs a kheaders.ko
# packed with the Rust metadata (KHEADERS_RUST=1): scripts/test builds one in target/variant-rust.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/lib.sh"
export PATH="$HOME/.cargo/bin:$PATH"   # the host's rustc (the one the kernel was built with)
cover "${KHEADERS_CACHE:-/root/.cache/kheaders}"   # no kernel tree but the archive's
work=$(mktemp -d)

rust_module_builds_from_the_archive() {
    extract "$work/headers"
    [ -f "$work/headers/rust/libkernel.rmeta" ] || fail "no Rust metadata in the archive"
    cp -r "$here/tests/modules/rust_hello" "$work/rust_hello"
    make -C "$work/headers" M="$work/rust_hello" modules >"$work/make.log" 2>&1 \
        || { tail -30 "$work/make.log" >&2; fail "make failed"; }
    hello_loads "$work/rust_hello/rust_hello.ko"
}

run_tests rust_module_builds_from_the_archive
