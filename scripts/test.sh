#!/usr/bin/env bash
# Install qodlab with everything its tests need, then run the whole suite (notebooks included).
#   bash scripts/test.sh [pytest arguments]      (-n 0: in one process)
# Needs Python 3.11+. The browser tests use Debian's chromium: installed here when missing and
# running as root with apt-get (otherwise install it yourself: sudo apt-get install chromium).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing Debian's chromium for the browser tests" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
    else
        echo "warning: chromium is missing and cannot be installed here; browser tests will be skipped" >&2
    fi
fi

python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
# Three pytest-xdist workers (on 2 cores: most tests wait on servers, kernels and browsers rather
# than on a core). --dist loadfile keeps each file in one worker, in order: a notebook's nbval
# cells, a module's fixtures and the browser tests' artifacts stay together.
exec python3 -m pytest -n 3 --dist loadfile "$@"
