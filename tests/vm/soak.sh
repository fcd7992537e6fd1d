#!/usr/bin/env bash
# In-guest soak (`make soak`: the debug kernel, KASAN, kmemleak, lockdep; not in `make test`):
# KHEADERS_SOAK_CYCLES (default 1000) load/unload cycles while KHEADERS_SOAK_READERS (default
# 3) processes read both files throughout (tests/vm/soak_reader.py). Every read returns the
# archive's bytes or fails because the module is gone (ENOENT, EIO, ENODEV); the outcomes are
# counted and printed. scripts/vm-run then fails the run on any kernel complaint or leak.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/lib.sh"

load_unload_cycles_with_readers() {
    local cycles=${KHEADERS_SOAK_CYCLES:-1000} readers=${KHEADERS_SOAK_READERS:-3} i pids=() start
    local stop=$KH_OUT/soak-stop ko=/run/kheaders-soak/kheaders.ko
    # The module from a tmpfs: what is measured is loading, not the host's file system (9p).
    mkdir -p /run/kheaders-soak && mount -t tmpfs none /run/kheaders-soak && cp "$KH_MODULE" $ko
    rm -f "$stop" "$KH_OUT"/soak-reader.*
    for i in $(seq "$readers"); do
        python3 "$(dirname "$0")/soak_reader.py" "$KH_BLOB" "$i" "$stop" "$KH_OUT/soak-reader.$i" & pids+=($!)
    done
    start=$(date +%s)
    for i in $(seq "$cycles"); do
        insmod $ko || { touch "$stop"; fail "cycle $i: insmod failed"; }
        # Loaded for a moment, so that readers get through as well as see it go.
        sleep 0.0$((RANDOM % 10))
        rmmod kheaders || { touch "$stop"; fail "cycle $i: rmmod failed"; }
        [ $((i % 100)) != 0 ] || echo "$i cycles, $(since "$start")"
    done
    touch "$stop"
    wait "${pids[@]}"
    echo "$cycles cycles in $(since "$start") with $readers readers"
    python3 - "$KH_OUT"/soak-reader.* <<'PY'
import json, sys
tot = {'opens': 0, 'reads_ok': 0, 'bytes': 0, 'wrong': 0, 'other': 0, 'errors': {}, 'examples': []}
for p in sys.argv[1:]:
    c = json.load(open(p))
    for k in ('opens', 'reads_ok', 'bytes', 'wrong', 'other'):
        tot[k] += c[k]
    for k, v in c['errors'].items():
        tot['errors'][k] = tot['errors'].get(k, 0) + v
    tot['examples'] += c['examples']
gone = sum(tot['errors'].values())
print('readers: %d opens, %d reads with the archive\'s bytes (%d bytes), %d failed as the module went (%s), %d wrong bytes, %d other errors'
      % (tot['opens'], tot['reads_ok'], tot['bytes'], gone - tot['other'],
         ', '.join('%s: %d' % kv for kv in sorted(tot['errors'].items())), tot['wrong'], tot['other']))
for e in tot['examples'][:10]:
    print('  ', e)
ok = tot['wrong'] == 0 and tot['other'] == 0 and tot['reads_ok'] > 0 and any(k.startswith('read ') for k in tot['errors'])
sys.exit(0 if ok else 1)
PY
    ! loaded || fail "module still loaded"
    umount /run/kheaders-soak
}

run_tests load_unload_cycles_with_readers
