#!/usr/bin/env bash
# tests/run.sh - sets up and runs every default poolwatch test.
#
# Installs what the build and the tests need (apt-get, only what is missing),
# builds twice - a normal build and an AddressSanitizer + UndefinedBehavior-
# Sanitizer build - runs the whole suite on both, replays and briefly fuzzes
# the wire decoder, and ends with the line "N passed, N failed, N skipped".
# Exits non-zero if anything failed.
#
#   tests/run.sh                 everything (what CI runs)
#   PW_FUZZ_SECONDS=0 tests/run.sh   skip the timed libFuzzer run
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
OUT=$ROOT/tests/out
FUZZ_SECONDS=${PW_FUZZ_SECONDS:-60}
mkdir -p "$OUT"

. deploy/packages.sh
# shellcheck disable=SC2086
pw_install_packages $PW_BUILD_PACKAGES $PW_TEST_PACKAGES || { echo "0 passed, 1 failed"; exit 1; }
# The web dashboard's npm packages, before the builds copy them (tests/browser).
pw_web_deps || { echo "0 passed, 1 failed"; exit 1; }

passed=0 failed=0 skipped=0
note() { printf '\n=== %s\n' "$*"; }

# build DIR [meson options...]
build() {
    local dir=$1; shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "$@" >"$OUT/$(basename "$dir")-setup.log" 2>&1 \
            || { cat "$OUT/$(basename "$dir")-setup.log"; return 1; }
    elif [ $# -gt 0 ]; then
        # An existing build dir keeps the options it was made with: apply ours.
        meson configure "$dir" "$@" >"$OUT/$(basename "$dir")-setup.log" 2>&1 \
            || { cat "$OUT/$(basename "$dir")-setup.log"; return 1; }
    fi
    ninja -C "$dir" >"$OUT/$(basename "$dir")-build.log" 2>&1 \
        || { tail -50 "$OUT/$(basename "$dir")-build.log"; return 1; }
    # Compiler diagnostics only (file:line:col: warning:). glibc's linker notes
    # about getaddrinfo in the static agent are expected: see agent/README.md.
    if grep -Eq '\.[ch]:[0-9]+:[0-9]+: warning:' "$OUT/$(basename "$dir")-build.log"; then
        echo "compiler warnings in $dir:"
        grep -E '\.[ch]:[0-9]+:[0-9]+: warning:' "$OUT/$(basename "$dir")-build.log"
        return 1
    fi
}

# suite DIR: runs meson test and adds its counts.
suite() {
    local dir=$1 log
    meson test -C "$dir" --print-errorlogs --num-processes 2 "${@:2}"
    log=$dir/meson-logs/testlog.json
    if [ -f "$log" ]; then
        read -r p f s < <(/usr/bin/python3 - "$log" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"): p += 1
    elif r == "SKIP": s += 1
    else: f += 1
print(p, f, s)
PY
)
        passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
    else
        failed=$((failed + 1))
    fi
}

note "build: default (debugoptimized, warnings are errors here)"
if build build/default; then
    note "tests: default build"
    suite build/default
else
    echo "FAIL build/default"; failed=$((failed + 1))
fi

note "build: asan+ubsan"
# Sanitizers cannot link static: the agent is dynamic in this build.
if build build/asan -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug \
    -Dstatic_agent=false; then
    note "tests: asan+ubsan build"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        LSAN_OPTIONS=suppressions=$ROOT/tests/lsan.supp:print_suppressions=0 \
        suite build/asan
else
    echo "FAIL build/asan"; failed=$((failed + 1))
fi

if [ "$FUZZ_SECONDS" -gt 0 ]; then
    note "fuzz: libFuzzer on the wire, chunk and open-chunk-group decoders, ${FUZZ_SECONDS}s in all"
    if ! command -v clang >/dev/null 2>&1; then
        echo "SKIP fuzz: clang is not installed"
        skipped=$((skipped + 1))
    elif CC=clang build build/fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
        -Dtests=false -Dstatic_agent=false; then
        # target:seed-corpus pairs; each gets a third of the time
        for pair in wire:tests/fuzz/corpus chunk:tests/fuzz/corpus-chunk heads:tests/fuzz/corpus-heads; do
            target=${pair%%:*} seeds=${pair#*:}
            mkdir -p "$OUT/fuzz-$target"
            cp -n "$seeds"/* "$OUT/fuzz-$target/"
            if build/fuzz/tests/fuzz/fuzz_"$target" -max_total_time=$((FUZZ_SECONDS / 3)) \
                -rss_limit_mb=2048 -artifact_prefix="$OUT/crash-$target-" "$OUT/fuzz-$target" \
                >"$OUT/fuzz-$target.log" 2>&1; then
                echo "OK   fuzz/$target ($(grep -c . "$OUT/fuzz-$target.log") log lines, corpus in tests/out/fuzz-$target)"
                passed=$((passed + 1))
            else
                tail -40 "$OUT/fuzz-$target.log"
                echo "FAIL fuzz/$target: crash input saved as tests/out/crash-$target-* (add it to $seeds)"
                failed=$((failed + 1))
            fi
        done
    else
        # clang is there: a build failure or a clang-only warning is a real failure
        echo "FAIL build/fuzz: clang with libFuzzer could not build the targets (see above)"
        failed=$((failed + 1))
    fi
fi

echo
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
