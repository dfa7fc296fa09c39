# deploy/packages.sh - the Debian packages poolwatch needs, and how to get them.
# Sourced by deploy/quickstart.sh and tests/run.sh; not meant to be run alone.

# To build and run the programs.
# libvirt-dev (with libvirt0, whose libvirt.so holds the test driver the tests
# use: no libvirt daemon needed) and libexpat1-dev: the agent's hypervisor mode.
# libzip-dev + libexpat1-dev (reading XLSX) and libxlsxwriter-dev (writing it):
# `poolwatch inventory import/export`.
PW_BUILD_PACKAGES="gcc pkg-config meson ninja-build libuv1-dev libnng-dev liblmdb-dev
  libmsgpack-dev libjansson-dev libfyaml-dev libmbedtls-dev libsodium-dev libvirt-dev libexpat1-dev
  libzip-dev libxlsxwriter-dev"
# To run the tests: unit test framework, integration test driver, LMDB and NNG
# command-line tools, clang + its runtime for the libFuzzer target, openssl
# (deploy/pki.sh needs it, and the TLS tests make their certificates with it).
# chromium, nodejs + npm (playwright-core from dashboards/web) and
# fonts-noto-cjk: the web dashboard's browser test (tests/browser), in Chinese.
# prometheus-alertmanager: the alert engine's delivery to a real Alertmanager
# (tests/integration/test_alerts.py runs it on loopback).
PW_TEST_PACKAGES="libcmocka-dev python3 python3-msgpack lmdb-utils nng-utils clang libclang-rt-dev
  openssl chromium nodejs npm fonts-noto-cjk prometheus-alertmanager"

# pw_install_packages PKG... : installs with apt-get whatever is not installed yet.
pw_install_packages() {
    local missing=() p
    for p in "$@"; do
        # A Node.js from elsewhere (NodeSource's nodejs bundles npm) conflicts
        # with Debian's npm package: any working npm will do.
        [ "$p" = npm ] && command -v npm >/dev/null 2>&1 && continue
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "poolwatch: installing ${missing[*]}" >&2
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || {
            echo "poolwatch: need root (or sudo) to apt-get install: ${missing[*]}" >&2
            return 1
        }
        sudo="sudo"
    fi
    # The package lists may be missing or stale on a fresh machine.
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >&2 || return 1
}

# The web dashboard's libraries (uPlot, Tabulator; playwright-core for its
# test) come from npm, pinned by dashboards/web/package-lock.json. Node.js
# and npm are needed to fetch them, not to run poolwatch.
PW_WEB_PACKAGES="nodejs npm"

# pw_web_deps : npm ci in dashboards/web when node_modules is missing or older
# than the lockfile. The build copies the files the page loads next to it.
pw_web_deps() {
    local d=dashboards/web
    [ -d "$d/node_modules" ] && [ ! "$d/package-lock.json" -nt "$d/node_modules" ] && return 0
    command -v npm >/dev/null 2>&1 || {
        echo "poolwatch: no npm: the web dashboard cannot be built (apt-get install nodejs npm)" >&2
        return 1
    }
    echo "poolwatch: npm ci --prefix $d" >&2
    npm ci --prefix "$d" --no-audit --no-fund >&2 && touch "$d/node_modules"
}
