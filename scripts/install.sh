#!/usr/bin/env bash
# Make .venv and install Hamlet into it with the test extras (pytest, the clients, ruff, mypy).
# The install is editable, so a code change needs no reinstall; pip runs again only when pyproject.toml
# or the Python changed since the last install (a stamp in .venv). Reinstalling while another run of
# the suite is starting processes from .venv would pull the package out from under them (.ci/run
# runs the SQLite and PostgreSQL suites side by side).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
stamp="$(.venv/bin/python -c 'import hashlib, sys; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest(), sys.version)')"
if [ -f .venv/.hamlet-installed ] && [ "$(cat .venv/.hamlet-installed)" = "$stamp" ] && [ -x .venv/bin/hamlet ] \
   && .venv/bin/python -c 'import importlib.metadata as m; m.version("hamlet"); m.version("pytest")' 2>/dev/null; then
  exit 0
fi
rm -f .venv/.hamlet-installed  # written again only once pip has succeeded
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
printf '%s' "$stamp" > .venv/.hamlet-installed
