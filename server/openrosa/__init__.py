"""OpenRosa endpoints that ODK Collect calls: form list, manifest (and submission, later)."""
from server.openrosa.routes import bp  # noqa: F401
