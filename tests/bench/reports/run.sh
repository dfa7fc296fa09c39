#!/usr/bin/env bash
# tests/bench/reports/run.sh - how long `poolwatch report monthly` takes, from
# 5-minute rollups, for a large inventory (target: 10 000 VMs in < 5 s).
#
#   tests/bench/reports/run.sh [--full N] [--full2 N] [--sparse N] [--runs N] [--tenants N] [--systems N]
#   (defaults: 1000 and 3000 VMs with a point every 5 minutes all month (--full2 0:
#    no second set), 10000 VMs with a point every hour, 5 runs per format, 50 units,
#    300 systems)
#
# Not part of the default test suite. For each of the two data sets it:
#  - writes the inventory (gen.py inventory) and pipes a month of hypervisor
#    series (gen_series.c, built here with cc: the series usage.h reads, as
#    gen.py series writes them but ~4x faster) into `poolwatch import -`, the
#    previous complete month in Asia/Shanghai;
#  - runs poolwatch-collector with --maintenance-interval 10ms until the
#    rollups are stored (rollup_todo empty for 3 s), so the report reads stored
#    5-minute rollups, as it does in production;
#  - times `poolwatch report monthly --month M` in xlsx and json, RUNS times each
#    (wall time, CPU time and peak RSS of the process).
# Then it writes tests/bench/results/reports.md and reports.json (overwritten),
# with the 10000-VM full-density time estimated from the two full-density sets
# (a straight line through them) unless one of them has that many VMs
# (--full2 10000: measured).
# About 6 minutes on 2 cores, 12 with --full2 10000 (538 million samples:
# the import takes ~5 minutes, the rollups ~3.5); needs ~3 GB in TMPDIR,
# ~4 GB with --full2 10000; 127.0.0.1 only.
#
# Environment: PW_BENCH_BUILD=DIR   build directory (default build/default)
set -u -o pipefail

export PW_BENCH_ARGS="$*"      # quoted in the results file
usage() {
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-2}"
}

FULL=1000
FULL2=3000
SPARSE=10000
RUNS=5
TENANTS=50
SYSTEMS=300
while [ $# -gt 0 ]; do
    case $1 in
        --full | --full2 | --sparse | --runs | --tenants | --systems)
            [ $# -ge 2 ] || usage
            case $1 in
                --full) FULL=$2 ;; --full2) FULL2=$2 ;; --sparse) SPARSE=$2 ;; --runs) RUNS=$2 ;;
                --tenants) TENANTS=$2 ;; --systems) SYSTEMS=$2 ;;
            esac
            shift 2 ;;
        -h | --help) usage 0 ;;
        *) echo "run.sh: unknown argument: $1" >&2; usage ;;
    esac
done

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
BUILD=${PW_BENCH_BUILD:-$ROOT/build/default}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
RESULTS=$ROOT/tests/bench/results
PY=python3
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pwbench-reports.XXXXXX")
MAINT_PID=""

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
cleanup() {
    [ -n "$MAINT_PID" ] && kill "$MAINT_PID" 2>/dev/null && wait "$MAINT_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v mdb_stat >/dev/null || die "mdb_stat is missing: apt-get install lmdb-utils"
if [ ! -x "$BUILD/collector/poolwatch" ]; then
    [ -d "$BUILD" ] || meson setup "$BUILD" "$ROOT" >/dev/null || die "meson setup $BUILD failed"
fi
ninja -C "$BUILD" >/dev/null || die "building $BUILD failed"
CLI=$BUILD/collector/poolwatch
COLLECTOR=$BUILD/collector/poolwatch-collector
read -r Y M FROM TO <<<"$($PY -c '
import datetime, sys, zoneinfo
sys.path.insert(0, sys.argv[1])
import gen
d = datetime.datetime.now(zoneinfo.ZoneInfo("Asia/Shanghai")).date().replace(day=1) - datetime.timedelta(days=1)
a, b = gen.month_bounds(d.year, d.month)
print(d.year, d.month, a - 3600, b + 3600)' "$HERE")"
GEN=$WORK/gen_series
${CC:-cc} -std=gnu11 -O2 -o "$GEN" "$HERE/gen_series.c" || die "building gen_series.c failed"
MONTH=$(printf '%04d-%02d' "$Y" "$M")
port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# dataset NAME VMS STEP_S
dataset() {
    local name=$1 vms=$2 step=$3 d=$WORK/$1 t0 t1
    mkdir -p "$d"
    log "$name: $vms VMs, a point every $step s over $MONTH: generating and importing"
    $PY "$HERE/gen.py" inventory "$vms" "$TENANTS" "$SYSTEMS" "$Y" "$M" "$d/inventory.csv" || die "gen.py inventory"
    t0=$(date +%s.%N)
    "$GEN" "$vms" "$FROM" "$TO" "$step" | "$CLI" --data "$d/data" import - 2>"$d/import.log" \
        || die "import failed: $(tail -3 "$d/import.log")"
    t1=$(date +%s.%N)
    "$CLI" --data "$d/data" inventory import "$d/inventory.csv" 2>>"$d/import.log" || die "inventory import failed"
    log "$name: rollups (poolwatch-collector --maintenance-interval 10ms)"
    "$COLLECTOR" --data "$d/data" --listen "tcp://127.0.0.1:$(port)" --http off --maintenance-interval 10ms \
        --self-interval 1h --alert-interval 0 --capacity-interval 0 --report-archive-day 0 >"$d/maint.log" 2>&1 &
    MAINT_PID=$!
    $PY "$ROOT/tests/bench/storage/bench.py" wait-maint "$d/data" 900 "$d/maint.json" \
        || log "$name: maintenance still had rollup work after 900 s; timing anyway"
    kill "$MAINT_PID"; wait "$MAINT_PID" 2>/dev/null; MAINT_PID=""
    log "$name: timing the report, $RUNS runs per format"
    $PY "$HERE/bench.py" time "$CLI" "$d/data" "$MONTH" "$RUNS" "$vms" "$step" "$d/import.log" \
        "$($PY -c "print(round($t1 - $t0, 2))")" "$d/maint.json" "$WORK/$name.json" || die "timing failed"
    rm -rf "$d/data"
}

dataset full "$FULL" 300
FULL2_JSON=()
if [ "$FULL2" -gt 0 ]; then
    dataset full2 "$FULL2" 300
    FULL2_JSON=("$WORK/full2.json")
fi
dataset sparse "$SPARSE" 3600
mkdir -p "$RESULTS"
$PY "$HERE/bench.py" report "$WORK/full.json" "$WORK/sparse.json" "$TENANTS" "$SYSTEMS" \
    "$RESULTS/reports.md" "$RESULTS/reports.json" "${FULL2_JSON[@]}" || die "writing the results failed"
log "wrote $RESULTS/reports.md"
