#!/usr/bin/env bash
# Make .venv and install Hamlet into it with the test extras (pytest, the clients, ruff, mypy).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
