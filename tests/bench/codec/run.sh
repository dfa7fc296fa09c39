#!/usr/bin/env bash
# tests/bench/codec/run.sh - the chunk codec's bytes per sample on the storage
# benchmark's data (tests/bench/storage/gen.c), per kind of series and chunk
# version, with zstd references. Prints a Markdown table; writes nothing else.
# See README.md beside this file.
#
#   tests/bench/codec/run.sh [--build DIR] [--hosts N] [--seed N] [--points N] [--open N] [--end MS]
#
# Needs a configured build directory (default build/codec) for libpwcommon.a,
# and libzstd-dev (the reference only; poolwatch itself does not use zstd).
set -euo pipefail
cd "$(dirname "$0")/../../.."
# --end: the data's end (a whole hour, ms); fixed so that runs compare (node_load1
# follows the time of day)
BUILD=build/codec HOSTS=50 SEED=1 POINTS=720 OPEN=90 END=1795694400000
while [ $# -gt 0 ]; do
    case $1 in
        --build) BUILD=$2 ;; --hosts) HOSTS=$2 ;; --seed) SEED=$2 ;;
        --points) POINTS=$2 ;; --open) OPEN=$2 ;; --end) END=$2 ;;
        *) echo "usage: $0 [--build DIR] [--hosts N] [--seed N] [--points N] [--open N] [--end MS]" >&2; exit 2 ;;
    esac
    shift 2
done
for v in "$HOSTS" "$SEED" "$POINTS" "$OPEN" "$END"; do
    case $v in *[!0-9]* | "") echo "run.sh: --hosts, --seed, --points, --open and --end are whole numbers" >&2; exit 2 ;; esac
done
[ $((END % 3600000)) -eq 0 ] || { echo "run.sh: --end must be a whole hour in ms" >&2; exit 2; }
[ -f "$BUILD/build.ninja" ] || { echo "run.sh: $BUILD is not a meson build directory" >&2; exit 2; }
ninja -C "$BUILD" common/libpwcommon.a >/dev/null
WORK=$(mktemp -d /tmp/pw-codec-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cc -std=gnu11 -O2 -Wall -I common -o "$WORK/gen" tests/bench/storage/gen.c "$BUILD/common/libpwcommon.a" \
    -lnng -lmsgpackc -lfyaml -lm -lpthread
cc -std=gnu11 -O2 -Wall -Wextra -I collector -I common -o "$WORK/codec_bench" tests/bench/codec/codec_bench.c \
    collector/chunk.c -lzstd -lm
# The main block is the last POINTS steps: the generator picks the smallest
# block that reaches --samples, so ask for exactly that many (the day of
# node_load1 of every host and the 30 days of the first 10 hosts come with it).
LONG=$((HOSTS < 10 ? HOSTS : 10))
SAMPLES=$((HOSTS * 99 * POINTS + (HOSTS - LONG) * 8640 + LONG * 259200))
"$WORK/gen" prom --hosts "$HOSTS" --seed "$SEED" --samples "$SAMPLES" --end "$END" --order series --out - \
    | "$WORK/codec_bench" --points "$POINTS" --open "$OPEN"
