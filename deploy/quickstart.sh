#!/usr/bin/env bash
# deploy/quickstart.sh - set up and run poolwatch on this machine.
#
# Installs the Debian packages it needs (only those missing), builds, starts a
# collector with its data in ./data and one local agent, and prints how to
# query and stop them. Safe to run again: it rebuilds and restarts both.
#
#   deploy/quickstart.sh          set up, build, (re)start
#   deploy/quickstart.sh stop     stop what it started
set -eu
cd "$(dirname "$0")/.."
ROOT=$PWD
RUN=$ROOT/run
BIN=$ROOT/build/default
LISTEN=${PW_LISTEN:-tcp://127.0.0.1:7410}
INTERVAL=${PW_INTERVAL:-10s}

stop_one() {
    local name=$1 pidfile=$RUN/$1.pid pid
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null && grep -q poolwatch "/proc/$pid/cmdline" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
        echo "stopped $name (pid $pid)"
    fi
    rm -f "$pidfile"
}

if [ "${1:-}" = "stop" ]; then
    stop_one agent
    stop_one collector
    exit 0
fi

. deploy/packages.sh
# shellcheck disable=SC2086
pw_install_packages $PW_BUILD_PACKAGES
# The web dashboard: without npm (or offline) poolwatch runs and / says how to add it.
pw_install_packages $PW_WEB_PACKAGES && pw_web_deps \
    || echo "poolwatch: continuing without the web dashboard; the API and the CLI work" >&2

[ -f "$BIN/build.ninja" ] || meson setup "$BIN" >/dev/null
ninja -C "$BIN" >/dev/null

mkdir -p "$RUN"
stop_one agent
stop_one collector

"$BIN/collector/poolwatch-collector" --listen "$LISTEN" --data "$ROOT/data" \
    >"$RUN/collector.log" 2>&1 &
echo $! >"$RUN/collector.pid"
for _ in $(seq 100); do
    grep -q "listening on" "$RUN/collector.log" && break
    kill -0 "$(cat "$RUN/collector.pid")" 2>/dev/null || break
    sleep 0.1
done
if ! grep -q "listening on" "$RUN/collector.log"; then
    echo "the collector did not start:" >&2
    cat "$RUN/collector.log" >&2
    exit 1
fi

# An admin token for the HTTP API, made once and kept beside the pids (0600).
if [ ! -s "$RUN/admin.token" ]; then
    (umask 077 && "$BIN/collector/poolwatch" --data "$ROOT/data" token create --role admin \
        --name quickstart >"$RUN/admin.token.tmp" && mv "$RUN/admin.token.tmp" "$RUN/admin.token")
fi

"$BIN/agent/poolwatch-agent" --collector "$LISTEN" --interval "$INTERVAL" \
    --spool "$RUN/agent-spool" >"$RUN/agent.log" 2>&1 &
echo $! >"$RUN/agent.pid"

cat <<EOT
poolwatch is running.
  collector  pid $(cat "$RUN/collector.pid"), $LISTEN, data in $ROOT/data, log run/collector.log
  agent      pid $(cat "$RUN/agent.pid"), every $INTERVAL, spool run/agent-spool, log run/agent.log

Query it (the first samples arrive within one interval):
  $BIN/collector/poolwatch --data $ROOT/data hosts
  $BIN/collector/poolwatch --data $ROOT/data query 'node_load1' --from -10m
  $BIN/collector/poolwatch --data $ROOT/data query 'node_cpu_seconds_total{mode="idle"}' --from -5m --format csv

HTTP API (Prometheus-compatible; Grafana can use it as a Prometheus data source):
  http://127.0.0.1:7480  -  admin token in run/admin.token
  curl -H "Authorization: Bearer \$(cat run/admin.token)" \\
       'http://127.0.0.1:7480/api/v1/query?query=node_load1'
Web dashboard:  http://127.0.0.1:7480/  -  log in with the token in run/admin.token
  (more tokens, e.g. for a using unit: $BIN/collector/poolwatch --data $ROOT/data token create --role tenant --tenant NAME)

Stop both:  deploy/quickstart.sh stop
EOT
