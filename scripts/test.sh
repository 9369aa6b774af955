#!/usr/bin/env bash
# Install with the test extras and run the suite. HAMLET_TEST_DATABASE_URL selects PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
exec .venv/bin/python -m pytest "$@"
