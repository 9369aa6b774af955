#!/usr/bin/env bash
# The pages' message catalogs (server/web/translations): extract the English message ids from the
# code and templates, merge them into the vi and en catalogs, and compile the .mo files the server
# loads. Run after changing any visible string; translate the new entries in vi/…/messages.po
# (tests/web/test_translations.py fails while one is missing or a .mo is older than its .po).
#   scripts/translations.sh            extract + update + compile
#   scripts/translations.sh compile    compile only
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL=".venv/bin/pybabel"
[ -x "$PYBABEL" ] || PYBABEL="pybabel"
DIR=server/web/translations
if [ "${1:-}" != "compile" ]; then
  "$PYBABEL" extract -F server/web/babel.cfg -k N_ --no-location --sort-output --width 100 \
    --project Hamlet --copyright-holder "Hamlet contributors" -o "$DIR/messages.pot" server/web
  for lang in vi en; do
    if [ -f "$DIR/$lang/LC_MESSAGES/messages.po" ]; then
      "$PYBABEL" update --width 100 --no-fuzzy-matching --ignore-obsolete -i "$DIR/messages.pot" -d "$DIR" -l "$lang"
    else
      "$PYBABEL" init -i "$DIR/messages.pot" -d "$DIR" -l "$lang"
    fi
  done
fi
"$PYBABEL" compile -d "$DIR"
