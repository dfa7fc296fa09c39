#!/usr/bin/env bash
# tests/bench/storage/fill.sh - page fill of each LMDB database on a small data
# set: the "Where the bytes go" part of run.sh alone, for trying layout changes.
#
#   tests/bench/storage/fill.sh [--build DIR] [--hosts N] [--samples N] [--end UNIX_MS]
#       [--order time|series] [--keep DIR]
#   (defaults: build/default, 100 hosts, 4400000 samples (about 90 steps of the
#    main block, as run.sh's data has), data ending at the last full UTC hour)
#
# Builds gen.c against DIR's libpwcommon.a, writes the data as a Prometheus text
# file, `poolwatch import`s it into a fresh data dir, runs poolwatch-collector
# --maintenance-interval 10ms until rollup_todo stays empty for 3 s (as run.sh
# does), and prints per database: entries, pages (branch + leaf + overflow),
# payload (keys + values, from mdb_dump), page fill and bytes per sample; then
# the free pages and the whole file. --keep DIR keeps the data dir there (and
# JSON of the figures, bench.py's `mdb` form, in DIR/fill.json).
# Needs lmdb-utils (mdb_stat, mdb_dump), python3, cc. Never touches run.sh's results.
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
BUILD=$ROOT/build/default
HOSTS=100
SAMPLES=4400000
END_MS=""
ORDER=time
KEEP=""
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
    case $1 in
        --build) BUILD=$2 ;; --hosts) HOSTS=$2 ;; --samples) SAMPLES=$2 ;;
        --end) END_MS=$2 ;; --order) ORDER=$2 ;; --keep) KEEP=$2 ;;
        *) echo "fill.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift 2
done
[ -n "$END_MS" ] || END_MS=$(( $(date -u +%s) / 3600 * 3600 * 1000 ))
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
PY=python3
BENCH_PY=$HERE/bench.py
CLI=$BUILD/collector/poolwatch
COLLECTOR=$BUILD/collector/poolwatch-collector
for t in mdb_stat mdb_dump cc "$PY"; do command -v "$t" >/dev/null || { echo "fill.sh: $t not found" >&2; exit 1; }; done
[ -x "$CLI" ] && [ -x "$COLLECTOR" ] && [ -f "$BUILD/common/libpwcommon.a" ] \
    || { echo "fill.sh: build $BUILD first (poolwatch, poolwatch-collector, libpwcommon.a)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pw-fill.XXXXXX") || exit 1
MAINT_PID=""
cleanup() {
    [ -n "$MAINT_PID" ] && kill "$MAINT_PID" 2>/dev/null && wait "$MAINT_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cc -std=gnu11 -O2 -Wall -I "$ROOT/common" -o "$WORK/gen" "$HERE/gen.c" "$BUILD/common/libpwcommon.a" \
    -lnng -lmsgpackc -lfyaml -lm -lpthread || exit 1
GENOPTS=(--hosts "$HOSTS" --samples "$SAMPLES" --end "$END_MS" --order "$ORDER")
TOTAL=$("$WORK/gen" plan "${GENOPTS[@]}" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["samples"])') || exit 1
"$WORK/gen" prom "${GENOPTS[@]}" --out "$WORK/data.prom" >/dev/null || exit 1

DATA=${KEEP:-$WORK/data}
rm -rf "$DATA"
/usr/bin/time -f "import: %U s user, %S s sys, %M KiB max RSS" \
    "$CLI" --data "$DATA" import "$WORK/data.prom" 2>&1 | grep -E 'import:' | sed 's/^poolwatch: //' || exit 1

PORT=$("$PY" "$BENCH_PY" port)
RET=$(( ($(date -u +%s) * 1000 - END_MS) / 86400000 + 32 ))
"$COLLECTOR" --listen "tcp://127.0.0.1:$PORT" --data "$DATA" --maintenance-interval 10ms \
    --self-interval 1h --http off --retention-raw "${RET}d" >"$WORK/maint.log" 2>&1 &
MAINT_PID=$!
"$PY" "$BENCH_PY" wait-maint "$DATA" 600 "$WORK/maint.json" || echo "fill.sh: maintenance still had work after 600 s" >&2
kill "$MAINT_PID"
wait "$MAINT_PID" 2>/dev/null
MAINT_PID=""
"$PY" "$BENCH_PY" mdb "$DATA" "$WORK/mdb.json" || exit 1
[ -n "$KEEP" ] && cp "$WORK/mdb.json" "$KEEP/fill.json"

"$PY" - "$WORK/mdb.json" "$TOTAL" <<'PY'
import json, sys
m, total = json.load(open(sys.argv[1])), int(sys.argv[2])
ps = m["page_size"]
print(f"{total} samples; page size {ps}")
print(f"{'database':<12} {'entries':>9} {'pages (b + l + o)':>24} {'MiB':>6} {'payload MiB':>11} {'fill':>5} {'B/sample':>8}")
for name, d in sorted(m["dbs"].items(), key=lambda kv: -(kv[1]["branch_pages"] + kv[1]["leaf_pages"] + kv[1]["overflow_pages"])):
    if name == "Main DB":
        continue
    pages = d["branch_pages"] + d["leaf_pages"] + d["overflow_pages"]
    pay = d.get("key_bytes", 0) + d.get("value_bytes", 0)
    fill = f"{100 * pay / (pages * ps):.0f}%" if pages else ""
    print(f"{name:<12} {d['entries']:>9} {pages:>7} ({d['branch_pages']} + {d['leaf_pages']} + {d['overflow_pages']})".ljust(47)
          + f"{pages * ps / 2**20:>6.1f} {pay / 2**20:>11.2f} {fill:>5} {pages * ps / total:>8.3f}")
print(f"{'free pages':<12} {'':>9} {m['free_pages']:>7}{'':>17}{m['free_pages'] * ps / 2**20:>6.1f} {'':>11} {'':>5} {m['free_pages'] * ps / total:>8.3f}")
print(f"{'data.mdb':<12} {'':>9} {m['pages_used']:>7}{'':>17}{m['pages_used'] * ps / 2**20:>6.1f} {'':>11} {'':>5} {m['pages_used'] * ps / total:>8.3f}")
PY
