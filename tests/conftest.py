"""pytest's entry to the suite: the shared fixtures come in as a plugin, the helpers are plain modules.

Test modules import plain code from helpers.py, collect.py, central.py and entity_forms.py, never
from conftest or from another test module; tests/test_suite_layout.py checks that. The plugin is not named `fixtures`:
pytest would take that name for its own built-in plugin `_pytest.fixtures` and load nothing."""
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
