#!/usr/bin/env bash
# Developer tasks. Usage: ./build.sh <command> [args]
#   test [pytest args]  install what is missing, then ruff, mypy and pytest
#   check               ruff and mypy only
#   pyz [FILE]          build dist/b3scale (or FILE), one executable file (shiv); smoke-run it
#   run                 build the pyz and start `serve` (embedded database unless B3SCALE_DB_URL)
#   bench [--quick]     run the benchmarks in bench/ (a few minutes; --quick: seconds)
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv

say() { printf '==> %s\n' "$*" >&2; }

have_postgres() {
    command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

system_packages() {
    local missing=()
    have_postgres || missing+=(postgresql)
    command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
    if [ "${1:-}" = "browser" ]; then
        # Web pages are tested in a real headless browser (Debian's, nothing downloaded).
        command -v chromium >/dev/null 2>&1 || missing+=(chromium)
        command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
        # contrib/nginx's configs are checked with `nginx -t` and served through in the tests.
        command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
    fi
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing ${missing[*]} with apt-get"
        apt-get update -qq
        # Installed, not started: the tests run their own servers (nginx would take port 80).
        local no_start=""
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            no_start=/usr/sbin/policy-rc.d
            printf '#!/bin/sh\nexit 101\n' >"$no_start"
            chmod 0755 "$no_start"
        fi
        local installed=0
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || installed=$?
        [ -z "$no_start" ] || rm -f "$no_start"
        [ "$installed" -eq 0 ] || exit "$installed"
    else
        say "please install: ${missing[*]} (PostgreSQL server binaries, redis-server; for the tests chromium, chromium-driver and nginx-light)"
        exit 1
    fi
}

venv() {
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        say "b3scale needs Python 3.11 or newer ($PYTHON is $("$PYTHON" --version 2>&1))"
        exit 1
    fi
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[test,build]'
}

check() {
    say "ruff"
    "$VENV/bin/ruff" check .
    "$VENV/bin/ruff" format --check .
    say "mypy"
    "$VENV/bin/mypy"
}

cmd_test() {
    system_packages browser
    venv
    check
    say "pytest"
    local rc=0
    "$VENV/bin/pytest" "$@" || rc=$?
    if [ "$rc" -eq 5 ]; then
        say "pytest collected no tests: that is a failure"
        exit 1
    fi
    exit "$rc"
}

cmd_pyz() {
    local out=${1:-dist/b3scale}
    venv
    mkdir -p "$(dirname "$out")"
    say "building $out"
    "$VENV/bin/shiv" -q -c b3scale -o "$out" -p '/usr/bin/env python3' --compressed . \
        --disable-pip-version-check
    local elsewhere
    elsewhere=$(mktemp -d)
    cp "$out" "$elsewhere/b3scale"
    (cd "$elsewhere" && ./b3scale --version)
    rm -rf "$elsewhere"
    say "$out: $(du -h "$out" | cut -f1)"
}

cmd_run() {
    system_packages
    cmd_pyz
    exec dist/b3scale serve
}

cmd_bench() {
    system_packages
    if ! command -v wrk >/dev/null 2>&1; then
        if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
            say "installing wrk (the load generator for the GET scenarios)"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null \
                || say "no wrk: the aiohttp client drives every scenario (slower, less exact)"
        else
            say "no wrk: the aiohttp client drives every scenario (install wrk for exact figures)"
        fi
    fi
    venv
    exec "$VENV/bin/python" -m bench.run "$@"
}

case "${1:-}" in
    test) shift; cmd_test "$@" ;;
    check) venv; check ;;
    pyz) shift; cmd_pyz "$@" ;;
    run) cmd_run ;;
    bench) shift; cmd_bench "$@" ;;
    *) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
