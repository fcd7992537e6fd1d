#!/usr/bin/env bash
# In-guest: 100,000 random syscalls on both files, each compared with a model computed from the
# archive on the host's disk (tests/vm/random_ops.py). KHEADERS_SEED (default 1) and
# KHEADERS_RANDOM_OPS (default 100000) replay a run: a mismatch prints the seed and op index.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/lib.sh"

random_syscalls_match_the_model() {
    load
    python3 "$(dirname "$0")/random_ops.py" "$KH_BLOB" --seed "${KHEADERS_SEED:-1}" --ops "${KHEADERS_RANDOM_OPS:-100000}"
    unload
}

run_tests random_syscalls_match_the_model
