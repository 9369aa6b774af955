"""Trying a draft before publishing it, as ODK Central does (docs/odk-compatibility.md#draft-testing).

A draft carries a token (`form_defs.draft_token`, Central's draftToken): whoever holds it may fetch
the draft and send test submissions under /v1/test/{token}/projects/{p}/forms/{f}/draft/…, with no
other credential, the way a designer's phone does after scanning the draft's QR code. Test
submissions are stored like any other, in the form's own tables, flagged `submissions.draft`; every
list, export, OData feed, indicator and dashboard of the published form leaves them out, they never
create entities, and they are deleted when the draft is replaced, published or abandoned."""
from __future__ import annotations

import hmac

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from server import problems
from server.models.forms import Form, FormDef, live_form
from server.models.submissions import Submission

# Central's words for a token that no longer (or never did) open a draft; always a 404, so a
# revoked token tells nothing about what is there.
GONE = ("You tried to access a draft testing endpoint, but it does not exist anymore or your access is no "
        "longer valid.")


def draft_for_token(db: Session, project_id: int, xml_form_id: str, token: str) -> tuple[Form, FormDef]:
    """The form and its current draft when `token` is that draft's token; 404 otherwise."""
    from server.models.projects import live_project

    form = live_form(db, project_id, xml_form_id) if live_project(db, project_id) is not None else None
    draft = db.get(FormDef, form.draft_def_id) if form is not None and form.draft_def_id else None
    if form is None or draft is None or not draft.draft_token or not hmac.compare_digest(draft.draft_token.encode(), token.encode()):
        raise problems.NotFound(GONE)
    return form, draft


def discard_test_submissions(db: Session, form_id: int) -> int:
    """Delete the form's test submissions with their answers, versions, attachments and comments,
    row by row rather than by the foreign keys' cascades (which SQLite applies only when told to).
    Returns how many there were."""
    from server.models.form_data import FormTable, data_tables
    from server.models.submissions import Comment, SubmissionAttachment, SubmissionDef

    db.flush()   # the caller's pending changes are written before the session is expired below
    s, d = Submission.__table__, SubmissionDef.__table__
    # The ids read once: a test submission arriving meanwhile is left whole, not half deleted.
    all_ids = list(db.scalars(select(s.c.id).where(s.c.form_id == form_id, s.c.draft.is_(True))))
    if not all_ids:
        return 0
    tables = []
    if db.scalar(select(FormTable.id).where(FormTable.form_id == form_id).limit(1)) is not None:
        found = data_tables(db, form_id)
        tables = [*found.repeats.values(), found.root]   # rosters before their households
    for start in range(0, len(all_ids), 5000):
        ids = all_ids[start:start + 5000]
        for table in tables:
            db.execute(delete(table).where(table.c.submission_id.in_(ids)))
        versions = select(d.c.id).where(d.c.submission_id.in_(ids))
        db.execute(delete(SubmissionAttachment.__table__).where(SubmissionAttachment.submission_def_id.in_(versions)))
        db.execute(delete(Comment.__table__).where(Comment.submission_id.in_(ids)))
        db.execute(update(s).where(s.c.id.in_(ids)).values(current_def_id=None))
        db.execute(delete(d).where(d.c.submission_id.in_(ids)))
        db.execute(delete(s).where(s.c.id.in_(ids)))
    db.expire_all()
    return len(all_ids)
