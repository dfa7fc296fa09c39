#!/usr/bin/env bash
# tests/bench/storage/run.sh - storage benchmark: poolwatch against VictoriaMetrics
# on the same generated node data, in one run, on this machine.
#
#   tests/bench/storage/run.sh [--samples N] [--hosts N] [--reps N] [--seed N]
#       [--order time|series] [--timestamps aligned|scraped] [--end UNIX_MS]
#       [--tuned-contexts N] [--nng-timeout S]
#   (defaults: 20000000 samples, 1000 hosts, 50 repetitions per query, seed 1,
#    time order, aligned timestamps, data ending at the last full UTC hour,
#    no second NNG run with other --contexts/--max-batch (N: one with N and N), 600 s)
#
# Not part of the default test suite (tests/run.sh). It:
#  - installs with apt-get what is missing (victoria-metrics, lmdb-utils, curl,
#    python3, the build packages), keeping the package's service from starting;
#  - builds build/default, and gen.c (the data generator and NNG load generator)
#    with cc against build/default's libpwcommon.a;
#  - writes the data set as one Prometheus text file, then, one system at a time,
#    on 127.0.0.1 only:
#      poolwatch: `poolwatch import FILE` into a fresh data dir; a collector run
#        with --maintenance-interval 10ms until the rollups are done; mdb_stat and
#        mdb_dump of every database; `poolwatch query` REPS times per query;
#        the main block again through NNG by one req socket per host into a
#        fresh poolwatch-collector (defaults, then tuned);
#      VictoriaMetrics: its own -storageDataPath, import of the same file,
#        force_flush, force_merge, du -sb, /api/v1/query_range REPS times per query;
#  - writes tests/bench/results/storage.md and storage.json (overwritten), stops
#    everything it started (also on Ctrl-C or error) and removes its temp dir.
#
# Environment: PW_BENCH_BUILD=DIR   build directory (default build/default)
#              TMPDIR               where the temp dir goes (needs ~210 bytes a sample)
set -u -o pipefail

usage() {
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-2}"
}

SAMPLES=20000000
HOSTS=1000
REPS=50
SEED=1
ORDER="time"
TSMODE=aligned
END_MS=""
TUNED=0     # the collector's defaults are already --contexts 1024 --max-batch 1024
NNG_TIMEOUT=600
ARGS=("$@")
while [ $# -gt 0 ]; do
    case $1 in
        --samples | --hosts | --reps | --seed | --order | --timestamps | --end | --tuned-contexts | --nng-timeout)
            [ $# -ge 2 ] || usage
            v=$2
            case $1 in
                --samples) SAMPLES=$v ;; --hosts) HOSTS=$v ;; --reps) REPS=$v ;; --seed) SEED=$v ;;
                --order) ORDER=$v ;; --timestamps) TSMODE=$v ;; --end) END_MS=$v ;;
                --tuned-contexts) TUNED=$v ;; --nng-timeout) NNG_TIMEOUT=$v ;;
            esac
            shift 2 ;;
        -h | --help) usage 0 ;;
        *) echo "run.sh: unknown argument: $1" >&2; usage ;;
    esac
done
for v in "$SAMPLES" "$HOSTS" "$REPS" "$SEED" "$TUNED" "$NNG_TIMEOUT" ${END_MS:+"$END_MS"}; do
    case $v in *[!0-9]* | "") echo "run.sh: --samples, --hosts, --reps, --seed, --end, --tuned-contexts and --nng-timeout are whole numbers" >&2; exit 2 ;; esac
done
case $ORDER in time | series) ;; *) echo "run.sh: --order is time or series" >&2; exit 2 ;; esac
case $TSMODE in aligned | scraped) ;; *) echo "run.sh: --timestamps is aligned or scraped" >&2; exit 2 ;; esac
if [ "$HOSTS" -lt 1 ] || [ "$REPS" -lt 1 ] || [ "$SAMPLES" -lt 1 ]; then
    echo "run.sh: --hosts, --reps and --samples must be at least 1" >&2
    exit 2
fi
NOW_MS=$(($(date +%s) * 1000))
[ -n "$END_MS" ] || END_MS=$((NOW_MS / 3600000 * 3600000))
if [ $((END_MS % 3600000)) -ne 0 ] || [ "$END_MS" -gt "$NOW_MS" ]; then
    echo "run.sh: --end must be a whole UTC hour in milliseconds, not in the future" >&2
    exit 2
fi

HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE/../../.." || exit 2
ROOT=$PWD
BUILD=${PW_BENCH_BUILD:-build/default}
RESULTS=$ROOT/tests/bench/results
PY=/usr/bin/python3         # Debian's, installed below; bench.py needs only its stdlib
BENCH_PY=$HERE/bench.py
COMMAND="tests/bench/storage/run.sh${ARGS[*]:+ ${ARGS[*]}}"
NOTES=()

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

# --------------------------------------------------------------- cleanup
WORK=""
PIDS=()           # everything started here, in start order
POLICY_CREATED=0

# stop_pid PID [SECONDS]: SIGTERM, wait, SIGKILL; forget it.
stop_pid() {
    local pid=$1 grace=${2:-30} deadline i
    kill -TERM "$pid" 2>/dev/null
    deadline=$((SECONDS + grace))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid ignored SIGTERM for ${grace}s; killing it"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    for i in "${!PIDS[@]}"; do
        [ "${PIDS[i]}" = "$pid" ] && unset 'PIDS[i]'
    done
    PIDS=("${PIDS[@]}")
}

cleanup() {
    local rc=$? i
    trap - EXIT INT TERM HUP
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        stop_pid "${PIDS[i]}" 10
    done
    if [ "$POLICY_CREATED" -eq 1 ]; then
        $SUDO rm -f /usr/sbin/policy-rc.d
    fi
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        if [ "$rc" -ne 0 ]; then
            for f in "$WORK"/*.log "$WORK"/*.err; do
                [ -s "$f" ] && { log "--- $(basename "$f") (last lines)"; tail -5 "$f" >&2; }
            done
        fi
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# start NAME CMD... : runs CMD in the background, output in $WORK/NAME.log; its pid in LAST_PID.
start() {
    local name=$1; shift
    "$@" >"$WORK/$name.log" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

# wait_for WHAT SECONDS CMD... : retries CMD until it succeeds; gives up early
# when the process started last (LAST_PID) has exited.
wait_for() {
    local what=$1 secs=$2 i; shift 2
    for ((i = 0; i < secs * 10; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        kill -0 "$LAST_PID" 2>/dev/null || die "$what exited at start-up"
        sleep 0.1
    done
    die "$what did not come up in ${secs}s"
}

now() { date +%s.%N; }
# phase NAME: notes the load average as the phase starts (other load on the machine shows in the results).
phase() { [ -n "$WORK" ] && printf '%s\t%s\n' "$1" "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$WORK/loadavg.tsv"; }
elapsed() { "$PY" -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.6f}")' "$1" "$2"; }

# --------------------------------------------------------------- packages
PACKAGES=(victoria-metrics lmdb-utils curl python3 gcc libnng-dev libmsgpack-dev libfyaml-dev)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    before=$(pgrep -x victoria-metric | sort)
    # Debian packages start their services through invoke-rc.d or deb-systemd-invoke;
    # both ask policy-rc.d, and 101 means "don't". An existing policy-rc.d is left alone.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\n# poolwatch bench: no service starts during apt-get install\nexit 101\n' \
            | $SUDO tee /usr/sbin/policy-rc.d >/dev/null && $SUDO chmod 755 /usr/sbin/policy-rc.d \
            && POLICY_CREATED=1
    fi
    # shellcheck disable=SC1091  # the repository's package helper
    . deploy/packages.sh
    pw_install_packages "${PACKAGES[@]}" || die "apt-get install ${missing[*]} failed"
    if [ "$POLICY_CREATED" -eq 1 ]; then
        $SUDO rm -f /usr/sbin/policy-rc.d
        POLICY_CREATED=0
    fi
    for pid in $(comm -13 <(echo "$before") <(pgrep -x victoria-metric | sort)); do
        log "stopping victoria-metrics (pid $pid) that the package install started"
        [ -d /run/systemd/system ] && $SUDO systemctl stop victoria-metrics.service 2>/dev/null
        $SUDO kill -TERM "$pid" 2>/dev/null
    done
fi
for pid in $(pgrep -x victoria-metric); do
    msg="a victoria-metrics (pid $pid) not started by this benchmark was running during the run"
    log "warning: $msg"
    NOTES+=("$msg")
done
[ -x "$PY" ] || die "$PY missing after the install"
command -v victoria-metrics >/dev/null || die "victoria-metrics not found"
for t in mdb_stat mdb_dump curl cc; do command -v "$t" >/dev/null || die "$t not found"; done

# --------------------------------------------------------------- build
COLLECTOR=$BUILD/collector/poolwatch-collector
CLI=$BUILD/collector/poolwatch
LIBCOMMON=$BUILD/common/libpwcommon.a
if [ ! -f "$BUILD/build.ninja" ]; then
    log "configuring $BUILD"
    meson setup "$BUILD" >/dev/null || die "meson setup $BUILD failed"
fi
if ! build_log=$(ninja -C "$BUILD" collector/poolwatch-collector collector/poolwatch common/libpwcommon.a 2>&1); then
    printf '%s\n' "$build_log" | tail -20 >&2
    die "cannot build poolwatch, poolwatch-collector and libpwcommon.a in $BUILD"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pw-bench-storage.XXXXXX") || die "mktemp failed"
# Busy CPU time of the whole machine from here on, to tell the run's own CPU from other load.
cpu_busy() { awk '/^cpu /{print ($2 + $3 + $4 + $7 + $8 + $9) / '"$(getconf CLK_TCK)"'; exit}' /proc/stat; }
BUSY0=$(cpu_busy)
T_START=$(date +%s.%N)
mkdir -p "$RESULTS"
GEN=$WORK/gen
cc -std=gnu11 -O2 -Wall -I common -o "$GEN" "$HERE/gen.c" "$LIBCOMMON" -lnng -lmsgpackc -lfyaml -lm -lpthread \
    2>"$WORK/gen-build.err" || { cat "$WORK/gen-build.err" >&2; die "cannot build tests/bench/storage/gen.c"; }

GENOPTS=(--hosts "$HOSTS" --samples "$SAMPLES" --seed "$SEED" --end "$END_MS" --timestamps "$TSMODE")
"$GEN" plan "${GENOPTS[@]}" --order "$ORDER" >"$WORK/plan.json" || die "gen plan failed"
TOTAL=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["samples"])' "$WORK/plan.json")
need_kib=$((TOTAL * 210 / 1024))
avail_kib=$(df -Pk "$WORK" | awk 'NR == 2 {print $4}')
[ "$avail_kib" -gt "$need_kib" ] || die "$WORK has $((avail_kib / 1024)) MiB free; $TOTAL samples need about $((need_kib / 1024)) MiB"

# Days VictoriaMetrics must keep: from the oldest sample to now, and a margin.
RET_DAYS=$(((NOW_MS - END_MS) / 86400000 + 32))
PW_RET=()
[ "$RET_DAYS" -gt 35 ] && PW_RET=(--retention-raw "${RET_DAYS}d")
# Collectors that have an HTTP API get it switched off: it is not measured, and
# its default port may be taken.
PW_HTTP=()
"$COLLECTOR" --help 2>/dev/null | grep -q -- '--http ADDR' && PW_HTTP=(--http off)

port() { "$PY" "$BENCH_PY" port; }
# Bytes the disk under $WORK has written so far (after a sync), or null.
diskw() { "$PY" "$BENCH_PY" diskw "$WORK"; }
# disk_json OUT BEFORE AFTER: the bytes written between two diskw readings.
disk_json() {
    "$PY" -c 'import json, sys; a, b = sys.argv[2], sys.argv[3]
json.dump({"bytes": None if "null" in (a, b) else int(b) - int(a)}, open(sys.argv[1], "w"))' "$1" "$2" "$3"
}
tcp_open() { bash -c "exec 3<>/dev/tcp/127.0.0.1/$1"; }

# --------------------------------------------------------------- data
FILE=$WORK/data.prom
log "writing $TOTAL samples ($HOSTS hosts, $ORDER order, $TSMODE timestamps) to $FILE"
"$GEN" prom "${GENOPTS[@]}" --order "$ORDER" --out "$FILE" >/dev/null 2>"$WORK/gen.err" || die "gen prom failed"
FILE_BYTES=$(stat -c %s "$FILE")
"$PY" "$BENCH_PY" queries "$WORK/plan.json" "$WORK/queries.json" || die "cannot make the queries"

# --------------------------------------------------------------- poolwatch: import, maintenance, size
PWDATA=$WORK/pw-data
# The same warm page cache for both imports, and no write-back of the file just
# written (1.5 GB of dirty pages) running under the first one.
sync
sync
cat "$FILE" >/dev/null
phase "poolwatch import"
log "poolwatch import"
d0=$(diskw)
"$PY" "$BENCH_PY" timed "$WORK/pw-import.json" "$WORK/pw-import.out" "$WORK/pw-import.err" 3600 \
    "$CLI" --data "$PWDATA" import "$FILE" || { cat "$WORK/pw-import.err" >&2; die "poolwatch import failed"; }
disk_json "$WORK/pw-import-disk.json" "$d0" "$(diskw)"
IMPORT_LINE=$(grep 'import:.*samples/s' "$WORK/pw-import.err" | tail -1 | sed 's/^poolwatch: //')
log "$IMPORT_LINE"
"$PY" - "$WORK/pw-import-summary.json" "$IMPORT_LINE" <<'PY'
import json, re, sys
line = sys.argv[2]
m = re.search(r"(\d+) series", line)
json.dump({"line": line, "series_reported": int(m.group(1)) if m else None, "batch": 10000}, open(sys.argv[1], "w"))
PY
SERIES=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["series"])' "$WORK/plan.json")
grep -q " $SERIES series," <<<"$IMPORT_LINE" \
    || NOTES+=("poolwatch import's summary counts a different number of series than the data set has ($SERIES, which mdb_stat confirms): \`$IMPORT_LINE\`")
"$PY" "$BENCH_PY" mdb "$PWDATA" "$WORK/pw-mdb-import.json" || die "mdb_stat failed"

phase "maintenance"
log "poolwatch maintenance (rollups)"
MPORT=$(port)
start maint "$COLLECTOR" --listen "tcp://127.0.0.1:$MPORT" --data "$PWDATA" --maintenance-interval 10ms \
    --self-interval 1h "${PW_HTTP[@]}" "${PW_RET[@]}"
MAINT_PID=$LAST_PID
wait_for "poolwatch-collector (maintenance)" 30 tcp_open "$MPORT"
"$PY" "$BENCH_PY" wait-maint "$PWDATA" 600 "$WORK/pw-maint.json" || NOTES+=("poolwatch maintenance still had rollup work after 600 s; sizes are taken anyway")
stop_pid "$MAINT_PID" 60
"$PY" "$BENCH_PY" mdb "$PWDATA" "$WORK/pw-mdb.json" || die "mdb_stat failed"

phase "poolwatch queries"
log "poolwatch queries, $REPS repetitions each"
"$PY" "$BENCH_PY" pwlat "$WORK/queries.json" "$REPS" "$CLI" "$PWDATA" "$WORK" "$WORK/pw-lat.json" \
    || die "poolwatch query timing failed"

# --------------------------------------------------------------- poolwatch: NNG ingest
# nng_run OUT TAG [COLLECTOR OPTIONS...]: the load generator takes NNG_GENOPTS
# (the data set's GENOPTS unless set otherwise).
nng_run() {
    local out=$1 tag=$2 cport c0 c1 pid d0 d1; shift 2
    rm -rf "$WORK/nng-data"
    cport=$(port)
    start "collector-$tag" "$COLLECTOR" --listen "tcp://127.0.0.1:$cport" --data "$WORK/nng-data" "${PW_HTTP[@]}" "${PW_RET[@]}" "$@"
    pid=$LAST_PID
    wait_for "poolwatch-collector" 30 tcp_open "$cport"
    c0=$("$PY" "$BENCH_PY" proc "$pid")
    phase "NNG ($tag)"
    log "NNG ingest ($tag): $HOSTS agents -> poolwatch-collector $*"
    d0=$(diskw)
    "$GEN" send "${NNG_GENOPTS[@]}" --url "tcp://127.0.0.1:$cport" --timeout "$NNG_TIMEOUT" >"$WORK/$tag.send" 2>"$WORK/$tag.err"
    local rc=$?
    c1=$("$PY" "$BENCH_PY" proc "$pid") || die "poolwatch-collector died during the NNG run"
    d1=$(diskw)     # every frame acked was committed with fsync: nothing is left to write
    stop_pid "$pid" 60
    [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || { cat "$WORK/$tag.err" >&2; die "the NNG load generator failed"; }
    [ "$rc" -eq 3 ] && NOTES+=("NNG run ($tag) hit --nng-timeout ${NNG_TIMEOUT}s; its rate counts what was acked until then")
    "$PY" - "$WORK/$tag.send" "$c0" "$c1" "$out" "$WORK/nng-data/data.mdb" "$d0" "$d1" <<'PY'
import json, os, sys
r = json.load(open(sys.argv[1])); c0, c1 = json.loads(sys.argv[2]), json.loads(sys.argv[3])
r["disk_written_bytes"] = None if "null" in sys.argv[6:8] else int(sys.argv[7]) - int(sys.argv[6])
r["collector_cpu_s"] = c1["cpu_s"] - c0["cpu_s"]
r["collector_vmhwm_kib"] = c1["vmhwm_kib"]
r["threads_cpu_s"] = {n: v - c0["threads_cpu_s"].get(n, 0) for n, v in c1["threads_cpu_s"].items()}
r["data_mdb_bytes"] = os.path.getsize(sys.argv[5]) if os.path.exists(sys.argv[5]) else None
json.dump(r, open(sys.argv[4], "w"), indent=1)
PY
    rm -rf "$WORK/nng-data"
}
NNG_GENOPTS=("${GENOPTS[@]}")
nng_run "$WORK/nng.json" nng
# One agent sending two days of its 100 series (and 30 days of node_load1 in
# the data set, which `send` leaves out) as fast as acks come back: every frame
# is a transaction of its own, as at a deployment's pace, where frames seldom
# meet in one commit, and its open chunks go through every size up to a seal.
NNG_GENOPTS=(--hosts 1 --samples $((259200 + 8640 + 100 * 17280)) --seed "$SEED" --end "$END_MS" --timestamps "$TSMODE")
nng_run "$WORK/nng-one.json" nng-one
NNG_GENOPTS=("${GENOPTS[@]}")
TUNED_FLAGS=""
if [ "$TUNED" -gt 0 ]; then
    TUNED_FLAGS="--contexts $TUNED --max-batch $TUNED"
    # shellcheck disable=SC2086  # two options, split on purpose
    nng_run "$WORK/nng-tuned.json" nng-tuned $TUNED_FLAGS
fi

# --------------------------------------------------------------- poolwatch: the other order
# The same samples in series order (as a dump gives them): how much the order
# moves poolwatch's import rate and size. Only with the default time order.
if [ "$ORDER" = "time" ]; then
    SFILE=$WORK/data-series.prom
    "$GEN" prom "${GENOPTS[@]}" --order series --out "$SFILE" >/dev/null 2>>"$WORK/gen.err" || die "gen prom --order series failed"
    sync
    cat "$SFILE" >/dev/null
    phase "poolwatch import (series order)"
    log "poolwatch import, series order (supplementary)"
    if "$PY" "$BENCH_PY" timed "$WORK/pw-import-series.json" "$WORK/pw-import-series.out" "$WORK/pw-import-series.err" 3600 \
        "$CLI" --data "$WORK/pw-data-series" import "$SFILE"; then
        line=$(grep 'import:.*samples/s' "$WORK/pw-import-series.err" | tail -1 | sed 's/^poolwatch: //')
        log "$line"
        "$PY" -c 'import json,sys; json.dump({"line": sys.argv[2]}, open(sys.argv[1], "w"))' "$WORK/pw-import-series-summary.json" "$line"
        "$PY" "$BENCH_PY" mdb "$WORK/pw-data-series" "$WORK/pw-mdb-series.json" || log "warning: no mdb_stat of the series-order store"
    else
        NOTES+=("the supplementary series-order import failed: $(tail -1 "$WORK/pw-import-series.err")")
    fi
    rm -rf "$SFILE" "$WORK/pw-data-series"
fi

# --------------------------------------------------------------- VictoriaMetrics
VMDATA=$WORK/vm-data
VPORT=$(port)
VMURL=http://127.0.0.1:$VPORT
VM_FLAGS=(-storageDataPath="$VMDATA" -retentionPeriod="${RET_DAYS}d" -httpListenAddr="127.0.0.1:$VPORT"
    -search.disableCache)
log "starting victoria-metrics ${VM_FLAGS[*]}"
start vm victoria-metrics "${VM_FLAGS[@]}"
VM_PID=$LAST_PID
wait_for "victoria-metrics" 60 curl -sf -o /dev/null "$VMURL/health"
sync
cat "$FILE" >/dev/null
phase "VictoriaMetrics import"
v0=$("$PY" "$BENCH_PY" proc "$VM_PID")
log "VictoriaMetrics import"
d0=$(diskw)
t0=$(now)
curl -sS --fail -H 'Expect:' -X POST -T "$FILE" --max-time 3600 "$VMURL/api/v1/import/prometheus" \
    >"$WORK/vm-import.out" 2>"$WORK/vm-import.err" || { cat "$WORK/vm-import.err" >&2; die "VictoriaMetrics import failed"; }
t1=$(now)
curl -sS --fail --max-time 600 "$VMURL/internal/force_flush" >/dev/null || die "force_flush failed"
t2=$(now)
v1=$("$PY" "$BENCH_PY" proc "$VM_PID") || die "victoria-metrics died during the import"
d1=$(diskw)
"$PY" "$BENCH_PY" vm-metrics "$VMURL" "$WORK/vm-metrics-import.json" || die "cannot read VictoriaMetrics /metrics"
log "VictoriaMetrics force_merge"
"$PY" "$BENCH_PY" vm-settle "$VMURL" "$VMDATA" "$WORK/vm.log" 1200 "$WORK/vm-merge.json" \
    || NOTES+=("VictoriaMetrics' merges did not settle within 1200 s; its size is taken anyway")
d2=$(diskw)
disk_json "$WORK/vm-import-disk.json" "$d0" "$d1"
disk_json "$WORK/vm-merge-disk.json" "$d1" "$d2"
"$PY" "$BENCH_PY" vm-metrics "$VMURL" "$WORK/vm-metrics.json" || die "cannot read VictoriaMetrics /metrics"
"$PY" - "$WORK/vm-import.json" "$v0" "$v1" "$(elapsed "$t0" "$t1")" "$(elapsed "$t1" "$t2")" "$WORK/vm-merge.json" <<'PY'
import json, sys
c0, c1 = json.loads(sys.argv[2]), json.loads(sys.argv[3])
try:
    merge = json.load(open(sys.argv[6]))
except (OSError, ValueError):
    merge = None
json.dump({"ok": True, "import_s": float(sys.argv[4]), "flush_s": float(sys.argv[5]), "merge": merge,
           "cpu_s": c1["cpu_s"] - c0["cpu_s"], "vmhwm_kib": c1["vmhwm_kib"]}, open(sys.argv[1], "w"), indent=1)
PY
{
    printf '{"total": %s, "path_note": "-storageDataPath", "dirs": {' "$(du -sb "$VMDATA" | cut -f1)"
    first=1
    for d in "$VMDATA"/*; do
        [ "$first" -eq 1 ] || printf ', '
        first=0
        printf '"%s": %s' "$(basename "$d")" "$(du -sb "$d" | cut -f1)"
    done
    printf '}}\n'
} >"$WORK/vm-size.json"
rows=$("$PY" -c 'import json,sys; print(int(json.load(open(sys.argv[1])).get("vm_rows_inserted_total{type=\"prometheus\"}", 0)))' "$WORK/vm-metrics.json")
[ "$rows" = "$TOTAL" ] || NOTES+=("VictoriaMetrics counted $rows rows inserted, the file has $TOTAL")

phase "VictoriaMetrics queries"
log "VictoriaMetrics queries, $REPS repetitions each"
"$PY" "$BENCH_PY" vmlat "$WORK/queries.json" "$REPS" "$VMURL" "$WORK" "$WORK/vm-lat.json" || die "VictoriaMetrics query timing failed"
stop_pid "$VM_PID" 60
if grep -q 'rows_ignored\|cannot parse\|error' "$WORK/vm.log"; then
    NOTES+=("victoria-metrics logged: $(grep -E 'cannot parse|error' "$WORK/vm.log" | head -2 | cut -c1-300 | paste -sd';' -)")
fi

# --------------------------------------------------------------- report
BUSY1=$(cpu_busy)
T_END=$(date +%s.%N)
# CPU of this script and every process it started and reaped (all of them by now).
times >"$WORK/times.txt"     # a builtin with a redirection: runs in this shell, not a subshell
OWN_CPU=$(awk '{for (i = 1; i <= NF; i++) {split($i, a, /[ms]/); t += a[1] * 60 + a[2]}} END {print t}' "$WORK/times.txt")
OTHER=$("$PY" -c 'import sys, os
b0, b1, t0, t1, own = map(float, sys.argv[1:])
wall = t1 - t0; busy = b1 - b0; other = max(0.0, busy - own); n = os.cpu_count()
print(f"{other:.0f} CPU s used by processes outside this benchmark during its {wall:.0f} s ({100 * other / (wall * n):.0f} % of {n} CPUs; the benchmark itself used {own:.0f} CPU s)")' \
    "$BUSY0" "$BUSY1" "$T_START" "$T_END" "$OWN_CPU") && NOTES+=("other load: $OTHER")
NOTES+=("one phase at a time (poolwatch import, maintenance, queries, the NNG runs, then VictoriaMetrics), nothing else started by the benchmark running alongside; the page cache was warm (the file was synced to disk, then read once, before each import) and never dropped")
NOTES+=("victoria-metrics runs with: ${VM_FLAGS[*]} (paths and port of this run)")
NOTES+=("the maintenance collector ran with --maintenance-interval 10ms --self-interval 1h${PW_HTTP[*]:+ ${PW_HTTP[*]}}${PW_RET[*]:+ ${PW_RET[*]}} and was stopped once rollup_todo stayed empty for 3 s; the NNG collectors ran with their defaults${PW_HTTP[*]:+ but ${PW_HTTP[*]} (the HTTP API is not measured)}${PW_RET[*]:+ and ${PW_RET[*]}}")
export V_PW V_VM COMMAND FILE_BYTES TUNED_FLAGS WORK
V_PW="$("$CLI" --version 2>&1 | head -1)"
BUILD_TYPE=$("$PY" -c 'import json, sys; print(next(o["value"] for o in json.load(open(sys.argv[1])) if o["name"] == "buildtype"))' \
    "$BUILD/meson-info/intro-buildoptions.json" 2>/dev/null) || BUILD_TYPE="unknown buildtype"
V_PW="$V_PW, $BUILD_TYPE build in $BUILD, git $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- collector common 2>/dev/null || echo ' + uncommitted changes in collector/ or common/')"
V_VM="$(victoria-metrics -version 2>&1 | head -1)"
V_VM="${V_VM:+$V_VM, }Debian package $(dpkg-query -W -f='${Version}' victoria-metrics)"
printf '%s\n' "${NOTES[@]}" >"$WORK/notes.txt"
"$PY" - "$WORK/meta.json" "$WORK/notes.txt" <<'PY' || die "cannot write meta.json"
import json, os, subprocess, sys, time
e = os.environ
sys.path.insert(0, "tests/bench")
from machine import machine
fs = subprocess.run(["df", "-PT", e["WORK"]], capture_output=True, text=True).stdout.splitlines()[-1].split()[1]
loadavg = []
if os.path.exists(os.path.join(e["WORK"], "loadavg.tsv")):
    with open(os.path.join(e["WORK"], "loadavg.tsv")) as f:
        loadavg = [line.rstrip("\n").split("\t", 1) for line in f if "\t" in line]
with open(sys.argv[2]) as f:
    notes = [n for n in f.read().splitlines() if n]
json.dump({
    "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    "machine": machine(),
    "fs": fs,
    "versions": {"poolwatch": e["V_PW"], "victoriametrics": e["V_VM"]},
    "command": e["COMMAND"], "file_bytes": int(e["FILE_BYTES"]), "tuned_flags": e["TUNED_FLAGS"], "loadavg": loadavg,
    "notes": notes,
}, open(sys.argv[1], "w"), indent=1)
PY
"$PY" "$BENCH_PY" report "$WORK" "$RESULTS/storage.md" "$RESULTS/storage.json" || die "report failed"
log "results in tests/bench/results/storage.md and storage.json"
cat "$RESULTS/storage.md"
