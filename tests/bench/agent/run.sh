#!/usr/bin/env bash
# tests/bench/agent/run.sh - resource benchmark: poolwatch-agent vs collectd vs
# prometheus-node-exporter, side by side on this machine, same interval.
#
#   tests/bench/agent/run.sh [--duration SECONDS] [--interval SECONDS]
#                                              (defaults: 180 s, 10 s)
#
# Not part of the default test suite (tests/run.sh). It:
#  - installs with apt-get what is missing (collectd-core, prometheus-node-exporter,
#    curl, python3), keeping the packages' own services from starting;
#  - starts, on 127.0.0.1 only: a poolwatch-collector (not measured) and
#    poolwatch-agent shipping to it; collectd (cpu, memory, disk, interface,
#    load, df -> network plugin, UDP to a local port); two node exporters, one
#    with its default collectors and one with only the collectors matching the
#    agent's samplers, scraped every interval by bench.py (not measured);
#  - samples /proc/PID/{status,stat} of the four measured processes at the
#    start, every interval and at the end, and breaks the agent's RSS down
#    from /proc/PID/smaps;
#  - writes tests/bench/results/agent.md and agent.json (overwritten), stops
#    everything it started (also on Ctrl-C or error) and removes its temp dir.
#
# Environment: PW_BENCH_BUILD=DIR   build directory to take the binaries from
#                                   (default build/default; built if needed)
set -u -o pipefail

usage() {
    sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-2}"
}

DURATION=180
INTERVAL=10
while [ $# -gt 0 ]; do
    case $1 in
        --duration) DURATION=${2:-}; shift 2 || usage ;;
        --duration=*) DURATION=${1#*=}; shift ;;
        --interval) INTERVAL=${2:-}; shift 2 || usage ;;
        --interval=*) INTERVAL=${1#*=}; shift ;;
        -h | --help) usage 0 ;;
        *) echo "run.sh: unknown argument: $1" >&2; usage ;;
    esac
done
case "$DURATION$INTERVAL" in *[!0-9]* | "") echo "run.sh: --duration and --interval are whole seconds" >&2; exit 2 ;; esac
if [ "$INTERVAL" -lt 1 ] || [ "$DURATION" -lt "$INTERVAL" ]; then
    echo "run.sh: need --interval >= 1 and --duration >= --interval" >&2
    exit 2
fi

HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE/../../.." || exit 2
ROOT=$PWD
BUILD=${PW_BENCH_BUILD:-build/default}
RESULTS=$ROOT/tests/bench/results
PY=/usr/bin/python3         # Debian's, installed below; the helper needs only its stdlib
BENCH_PY=$HERE/bench.py
COMMAND="tests/bench/agent/run.sh --duration $DURATION --interval $INTERVAL"
NOTES=()

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

# --------------------------------------------------------------- cleanup
WORK=""
PIDS=()           # everything started here, in start order
POLICY_CREATED=0

stop_pids() {
    local pid i deadline
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        kill -TERM "${PIDS[i]}" 2>/dev/null
    done
    deadline=$((SECONDS + 5))
    for pid in "${PIDS[@]}"; do
        while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            log "pid $pid ignored SIGTERM; killing it"
            kill -KILL "$pid" 2>/dev/null
        fi
        wait "$pid" 2>/dev/null
    done
    PIDS=()
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    [ ${#PIDS[@]} -gt 0 ] && stop_pids
    if [ "$POLICY_CREATED" -eq 1 ]; then
        $SUDO rm -f /usr/sbin/policy-rc.d
    fi
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        if [ "$rc" -ne 0 ]; then
            # Keep the logs readable after a failure, then remove them.
            for f in "$WORK"/*.log; do
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

# start NAME CMD... : runs CMD in the background, output in $WORK/NAME.log.
start() {
    local name=$1; shift
    "$@" >"$WORK/$name.log" 2>&1 &
    PIDS+=("$!")
    eval "PID_${name//-/_}=$!"
}

# wait_for WHAT CMD... : retries CMD for up to 10 s.
wait_for() {
    local what=$1 i; shift
    for ((i = 0; i < 100; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "$what did not come up"
}

# --------------------------------------------------------------- packages
PACKAGES=(collectd-core prometheus-node-exporter curl python3)
# pids of collectd and node exporter daemons (comm is cut at 15 characters).
daemon_pids() { { pgrep -x collectd; pgrep -x prometheus-node; } | sort; }

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    before=$(daemon_pids)
    # Debian packages start their services through invoke-rc.d (sysvinit) or
    # deb-systemd-invoke (systemd); both ask policy-rc.d, and 101 means "don't".
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
    # Anything the install started anyway is stopped: it would compete with the run.
    for pid in $(comm -13 <(echo "$before") <(daemon_pids)); do
        log "stopping $(cat "/proc/$pid/comm" 2>/dev/null) (pid $pid) that the package install started"
        if [ -d /run/systemd/system ]; then
            $SUDO systemctl stop collectd.service prometheus-node-exporter.service 2>/dev/null
        fi
        $SUDO kill -TERM "$pid" 2>/dev/null
    done
fi
# Daemons that were already running are not ours to stop; say they add noise.
for pid in $(daemon_pids); do
    msg="a $(cat "/proc/$pid/comm" 2>/dev/null) (pid $pid) not started by this benchmark was running during the run"
    log "warning: $msg"
    NOTES+=("$msg")
done
[ -x "$PY" ] || die "$PY missing after the install"
command -v collectd >/dev/null || die "collectd not found"
command -v prometheus-node-exporter >/dev/null || die "prometheus-node-exporter not found"

# --------------------------------------------------------------- build
AGENT=$BUILD/agent/poolwatch-agent
COLLECTOR=$BUILD/collector/poolwatch-collector
CLI=$BUILD/collector/poolwatch
if [ ! -f "$BUILD/build.ninja" ]; then
    log "configuring $BUILD"
    meson setup "$BUILD" >/dev/null || die "meson setup $BUILD failed"
fi
# What runs on every VM and node is the agent without hypervisor mode: in a
# build with libvirt that is poolwatch-agent-static (poolwatch-agent then
# links libvirt dynamically, for hypervisors only); without libvirt it is
# poolwatch-agent itself.
AGENT_TARGET=agent/poolwatch-agent
if ninja -C "$BUILD" -t targets all 2>/dev/null | grep -q '^agent/poolwatch-agent-static:'; then
    AGENT_TARGET=agent/poolwatch-agent-static
    AGENT=$BUILD/agent/poolwatch-agent-static
fi
if ! build_log=$(ninja -C "$BUILD" "$AGENT_TARGET" collector/poolwatch-collector 2>&1); then
    printf '%s\n' "$build_log" | tail -20 >&2
    die "cannot build $AGENT_TARGET and poolwatch-collector in $BUILD"
fi
NOTES+=("measured binary: $(basename "$AGENT"), the agent VMs and nodes run (no hypervisor mode)")
ninja -C "$BUILD" collector/poolwatch >/dev/null 2>&1 || log "note: no poolwatch CLI; the collector's frame count is left out"
if [ ! -x "$AGENT" ] || [ ! -x "$COLLECTOR" ]; then die "no $AGENT or $COLLECTOR"; fi

# --------------------------------------------------------------- start
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pw-bench-agent.XXXXXX") || die "mktemp failed"
mkdir -p "$WORK/collector-data" "$WORK/agent-spool" "$WORK/collectd" "$RESULTS"

port() { "$PY" "$BENCH_PY" port "$1"; }
COLLECTOR_PORT=$(port tcp)
SINK_PORT=$(port udp)
NE_PORT=$(port tcp)
NE_MATCH_PORT=$(port tcp)
while [ "$NE_MATCH_PORT" = "$NE_PORT" ] || [ "$NE_MATCH_PORT" = "$COLLECTOR_PORT" ]; do NE_MATCH_PORT=$(port tcp); done
[ "$NE_PORT" != "$COLLECTOR_PORT" ] || NE_PORT=$(port tcp)

# collectd: the agent's samplers' counterparts and nothing else. The sink is the
# network plugin (binary protocol, UDP) to a local port: the cheapest comparable
# way to ship. bench.py reads that port to count values; collectd's cost is the
# same whether anybody reads or not.
cat >"$WORK/collectd.conf" <<EOF
Hostname "poolwatch-bench"
FQDNLookup false
BaseDir "$WORK/collectd"
PIDFile "$WORK/collectd/collectd.pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
AutoLoadPlugin false
Interval $INTERVAL

LoadPlugin cpu
LoadPlugin memory
LoadPlugin disk
LoadPlugin interface
LoadPlugin load
LoadPlugin df
LoadPlugin network

<Plugin network>
  Server "127.0.0.1" "$SINK_PORT"
</Plugin>
EOF
collectd -t -C "$WORK/collectd.conf" >"$WORK/collectd-check.log" 2>&1 || die "collectd rejects its config"

NE_MATCH_FLAGS=(--collector.disable-defaults --collector.cpu --collector.meminfo
    --collector.filesystem --collector.diskstats --collector.netdev --collector.loadavg
    --collector.stat --collector.time)

start collector "$COLLECTOR" --listen "tcp://127.0.0.1:$COLLECTOR_PORT" --data "$WORK/collector-data"
wait_for "poolwatch-collector" bash -c "exec 3<>/dev/tcp/127.0.0.1/$COLLECTOR_PORT"
start scraper "$PY" "$BENCH_PY" scrape "$WORK/scrape.json" "$INTERVAL" "$SINK_PORT" \
    "http://127.0.0.1:$NE_PORT/metrics" "http://127.0.0.1:$NE_MATCH_PORT/metrics"
start agent "$AGENT" --collector "tcp://127.0.0.1:$COLLECTOR_PORT" --interval "${INTERVAL}s" \
    --spool "$WORK/agent-spool"
start collectd collectd -f -C "$WORK/collectd.conf"
start node_exporter prometheus-node-exporter --web.listen-address="127.0.0.1:$NE_PORT"
start node_exporter_match prometheus-node-exporter --web.listen-address="127.0.0.1:$NE_MATCH_PORT" \
    "${NE_MATCH_FLAGS[@]}"
wait_for "prometheus-node-exporter" curl -sf -o /dev/null "http://127.0.0.1:$NE_PORT/metrics"
wait_for "prometheus-node-exporter (matching collectors)" curl -sf -o /dev/null "http://127.0.0.1:$NE_MATCH_PORT/metrics"
sleep 2    # let everyone get past start-up; the measured window starts now
# shellcheck disable=SC2154  # PID_* are set by start()
for v in "$PID_agent" "$PID_collectd" "$PID_node_exporter" "$PID_node_exporter_match"; do
    kill -0 "$v" 2>/dev/null || die "a measured process exited at start-up"
done

# --------------------------------------------------------------- measure
log "measuring for ${DURATION}s at a ${INTERVAL}s interval (Ctrl-C stops and cleans up)"
"$PY" "$BENCH_PY" monitor "$WORK/samples.jsonl" "$DURATION" "$INTERVAL" \
    "poolwatch-agent=$PID_agent" "collectd=$PID_collectd" \
    "node_exporter=$PID_node_exporter" "node_exporter_match=$PID_node_exporter_match" &
MONITOR=$!
PIDS+=("$MONITOR")
wait "$MONITOR"
mon_rc=$?
"$PY" "$BENCH_PY" smaps "$PID_agent" "$WORK/smaps.json" || log "warning: no smaps breakdown"
[ "$mon_rc" -eq 0 ] || die "a measured process died during the run"

# Rounds the agent made and shipped, from its own stop message and the collector.
AGENT_VALUES=$("$AGENT" --once --format prom 2>/dev/null | grep -vc '^#')
stop_pids
AGENT_STOP=$(grep -o 'stopping after seq [0-9]*, [0-9]* frame(s) stay spooled' "$WORK/agent.log" | tail -1)
[ -n "$AGENT_STOP" ] && NOTES+=("poolwatch-agent at exit: $AGENT_STOP")
if [ -x "$CLI" ]; then
    "$CLI" --data "$WORK/collector-data" hosts >"$WORK/hosts.txt" 2>&1
fi
for n in node_exporter node_exporter_match; do
    failed=$(grep -o 'msg="collector failed" name=[a-z_]*' "$WORK/$n.log" | sed 's/.*name=//' | sort -u | paste -sd, -)
    [ -n "$failed" ] && NOTES+=("$n: collector(s) $failed failed on each scrape here (logged as errors)")
done
if grep -qiE 'error|fail' "$WORK/collectd.log"; then
    NOTES+=("collectd logged: $(grep -iE 'error|fail' "$WORK/collectd.log" | sort -u | head -3 | paste -sd';' -)")
fi
if grep -qiE 'error|warn' "$WORK/agent.log"; then
    NOTES+=("poolwatch-agent logged: $(grep -iE 'error|warn' "$WORK/agent.log" | head -3 | paste -sd';' -)")
fi

# --------------------------------------------------------------- report
COLLECTD_SINK="network plugin (binary protocol over UDP) to 127.0.0.1:$SINK_PORT; bench.py drains that port only to count values"
NOTES+=("collectd: plugins cpu, memory, disk, interface, load, df, network with their defaults (ReadThreads/WriteThreads defaults), Interval $INTERVAL")
NOTES+=("node_exporter (matching) runs with: ${NE_MATCH_FLAGS[*]}")
NOTES+=("poolwatch-agent ships to a poolwatch-collector on 127.0.0.1 (not measured) and spools to LMDB in a temp dir; its values / interval counts samplers only (from --once), not its ~25 self-metrics")
NOTES+=("node exporters are scraped every ${INTERVAL}s by bench.py (not measured); their values / interval is the sample count of the last scrape, including go_/process_/promhttp_ self-metrics")

export DURATION INTERVAL COMMAND COLLECTD_SINK AGENT_VALUES NE_PORT NE_MATCH_PORT
export PID_agent PID_collectd PID_node_exporter PID_node_exporter_match
export V_PW V_CD V_NE
V_PW=$("$AGENT" --version 2>&1 | head -1 | sed 's/^poolwatch-agent //')
if ldd "$AGENT" >/dev/null 2>&1; then AGENT_LINK="dynamically linked"; else AGENT_LINK="statically linked"; fi
BUILD_TYPE=$("$PY" -c 'import json, sys; print(next(o["value"] for o in json.load(open(sys.argv[1])) if o["name"] == "buildtype"))' \
    "$BUILD/meson-info/intro-buildoptions.json" 2>/dev/null) || BUILD_TYPE="unknown buildtype"
V_PW="$V_PW, $AGENT_LINK, $BUILD_TYPE build in $BUILD"
V_CD="$(collectd -h 2>&1 | grep -o 'collectd [0-9][^,]*' | head -1 | sed 's/^collectd //') (Debian $(dpkg-query -W -f='${Version}' collectd-core))"
V_NE="$(prometheus-node-exporter --version 2>&1 | head -1 | grep -o 'version [^ ]*' | sed 's/^version //') (Debian $(dpkg-query -W -f='${Version}' prometheus-node-exporter))"
printf '%s\n' "${NOTES[@]}" >"$WORK/notes.txt"
"$PY" - "$WORK/meta.json" "$WORK/notes.txt" <<'PY' || die "cannot write meta.json"
import json, os, sys, time
e = os.environ
sys.path.insert(0, "tests/bench")
from machine import machine
with open(sys.argv[2]) as f:
    notes = [n for n in f.read().splitlines() if n]
meta = {
    "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    "machine": machine(),
    "versions": {"poolwatch": e["V_PW"], "collectd": e["V_CD"], "node_exporter": e["V_NE"]},
    "duration_s": int(e["DURATION"]), "interval_s": int(e["INTERVAL"]), "command": e["COMMAND"],
    "collectd_sink": e["COLLECTD_SINK"],
    "agent_values_per_round": int(e["AGENT_VALUES"] or 0) or None,
    "order": ["poolwatch-agent", "collectd", "node_exporter", "node_exporter_match"],
    "labels": {"poolwatch-agent": "poolwatch-agent", "collectd": "collectd",
               "node_exporter": "node_exporter (default collectors)",
               "node_exporter_match": "node_exporter (matching collectors only)"},
    "pids": {"poolwatch-agent": int(e["PID_agent"]), "collectd": int(e["PID_collectd"]),
             "node_exporter": int(e["PID_node_exporter"]),
             "node_exporter_match": int(e["PID_node_exporter_match"])},
    "scrape_urls": {"node_exporter": f"http://127.0.0.1:{e['NE_PORT']}/metrics",
                    "node_exporter_match": f"http://127.0.0.1:{e['NE_MATCH_PORT']}/metrics"},
    "notes": notes,
}
json.dump(meta, open(sys.argv[1], "w"), indent=1)
PY
"$PY" "$BENCH_PY" report "$WORK" "$RESULTS/agent.md" "$RESULTS/agent.json" || die "report failed"
log "results in tests/bench/results/agent.md and agent.json"
cat "$RESULTS/agent.md"
