"""OpenRosa endpoints that ODK Collect calls: form list, manifest (and submission, later)."""
from server.openrosa import (
    draft_tests,  # noqa: F401  (registers the draft-testing routes on bp)
    submission,  # noqa: F401  (registers the submission routes on bp)
)
from server.openrosa.routes import bp  # noqa: F401
