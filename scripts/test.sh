#!/usr/bin/env bash
# Install with the test extras and run the suite. HAMLET_TEST_DATABASE_URL selects PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
exec .venv/bin/python -m pytest "$@"
