#!/usr/bin/env bash
# ruff over the whole tree and mypy over server/ (both configured in pyproject.toml); any finding fails.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
echo "=== ruff check ==="
.venv/bin/ruff check .
echo "=== mypy (server/) ==="
.venv/bin/mypy
