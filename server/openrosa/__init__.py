"""OpenRosa endpoints that ODK Collect calls: form list, manifest (and submission, later)."""
from server.openrosa import submission  # noqa: F401  (registers the submission routes on bp)
from server.openrosa.routes import bp  # noqa: F401
