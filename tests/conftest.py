"""pytest's entry to the suite: the shared fixtures come in as a plugin, the helpers are plain modules.

Test modules import plain code from helpers.py, collect.py, central.py and entity_forms.py, never
from conftest or from another test module; tests/test_suite_layout.py checks that. The plugin is not named `fixtures`:
pytest would take that name for its own built-in plugin `_pytest.fixtures` and load nothing."""
import os
from pathlib import Path

from helpers import database_url_for

pytest_plugins = ["hamlet_fixtures"]


def pytest_report_header(config):
    return f"hamlet database: {database_url_for(Path('/tmp'))}"


def pytest_configure(config):
    config.addinivalue_line("markers", "behind_proxy: serve as behind one proxy (HAMLET_TRUSTED_PROXIES=1), "
                            "so X-Forwarded-* headers are believed")
    config.addinivalue_line("markers", "s3: keep blobs in a bucket of an S3 emulator on loopback (moto's server) "
                            "instead of the data directory")
    config.addinivalue_line("markers", "postgresql_only: checks what only PostgreSQL does (compiled SQL, its locks); "
                            "deselected, and said so, when the suite runs on SQLite")


def pytest_collection_modifyitems(config, items):
    """On SQLite, PostgreSQL's own tests are not collected as skips: they are deselected here and counted in
    the summary. CI runs the same suite on PostgreSQL next, where they run."""
    if (os.environ.get("HAMLET_TEST_DATABASE_URL") or "").startswith("postgresql"):
        return
    left = [item for item in items if item.get_closest_marker("postgresql_only")]
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = [item for item in items if not item.get_closest_marker("postgresql_only")]
        config._hamlet_postgresql_only = len(left)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    left = getattr(config, "_hamlet_postgresql_only", 0)
    if left:
        terminalreporter.write_line(f"{left} PostgreSQL-only tests were not run on SQLite (deselected); the run "
                                    "with HAMLET_TEST_DATABASE_URL=postgresql://… runs them")
