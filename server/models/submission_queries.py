"""Reading submissions for the REST API: lists, one by instance ID, versions, attachments.

Every function that finds submissions takes the caller's `scope` (server/auth/scope.py `form_scope`):
with one, only the households of the caller's areas are found, so a household elsewhere reads as
absent (404), never as forbidden. None: unlimited. `draft` picks the draft's test submissions
(models/draft_tests.py) instead of the form's real ones; the two never mix."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from server.auth.scope import FormScope
from server.models.accounts import Actor
from server.models.blobs import Blob
from server.models.submissions import Submission, SubmissionAttachment, SubmissionDef


def _in_scope(stmt, scope: FormScope | None):
    return stmt if scope is None else stmt.where(scope.clause(Submission.__table__))


def list_for_form(db: Session, form_id: int, deleted: bool = False, limit: int | None = None, offset: int = 0,
                  scope: FormScope | None = None, draft: bool = False):
    """(Submission, current SubmissionDef) pairs, newest first, as Central lists them."""
    stmt = (select(Submission, SubmissionDef).join(SubmissionDef, SubmissionDef.id == Submission.current_def_id)
            .where(Submission.form_id == form_id, Submission.draft.is_(draft))
            .where(Submission.deleted_at.is_not(None) if deleted else Submission.deleted_at.is_(None))
            .order_by(Submission.created_at.desc(), Submission.id.desc()).offset(offset))
    if limit is not None:
        stmt = stmt.limit(limit)
    return db.execute(_in_scope(stmt, scope)).all()


def count_for_form(db: Session, form_id: int, scope: FormScope | None = None, draft: bool = False) -> int:
    return db.scalar(_in_scope(select(func.count()).select_from(Submission).where(
        Submission.form_id == form_id, Submission.deleted_at.is_(None), Submission.draft.is_(draft)), scope))


def counts_by_form(db: Session, form_ids: list[int], actor=None) -> dict[int, int | None]:
    """Live submissions per form, in one GROUP BY (a project page lists every form's count).

    With `actor`, as that caller may see them: an actor limited to some areas gets the count of its
    areas' households per form, or None for a form that has no area field (nothing can be shown)."""
    if not form_ids:
        return {}
    if actor is not None and not actor.is_site_admin:
        limited = _scoped_counts(db, form_ids, actor)
        if limited is not None:
            return limited
    rows = db.execute(select(Submission.form_id, func.count()).where(
        Submission.form_id.in_(form_ids), Submission.deleted_at.is_(None), Submission.draft.is_(False))
        .group_by(Submission.form_id))
    return dict(rows.all())


def _scoped_counts(db: Session, form_ids: list[int], actor) -> dict[int, int | None] | None:
    """Per-form counts for an actor limited in the forms' project; None when it is not limited.
    (form_scope's steps, with the actor's areas read once per project rather than once per form.)"""
    from server.auth.scope import area_column, area_scope
    from server.models.forms import Form

    scopes: dict = {}
    out: dict[int, int | None] = {}
    for form_id, project_id in db.execute(select(Form.id, Form.project_id).where(Form.id.in_(form_ids))):
        if project_id not in scopes:
            scopes[project_id] = area_scope(db, actor, project_id)
        scope = scopes[project_id]
        if scope is None:
            return None      # not limited in this project: one GROUP BY for all
        found = area_column(db, form_id)
        out[form_id] = None if found is None else count_for_form(db, form_id, FormScope(scope, *found))
    return out


def in_scope(db: Session, submission_id: int, scope: FormScope) -> bool:
    """Whether a submission already found is one of the scope's households."""
    return db.scalar(_in_scope(select(Submission.id).where(Submission.id == submission_id), scope)) is not None


def by_instance(db: Session, form_id: int, instance_id: str, include_deleted: bool = False,
                scope: FormScope | None = None, draft: bool = False):
    """The logical submission whose first instanceID is `instance_id`, with its current version."""
    stmt = (select(Submission, SubmissionDef).join(SubmissionDef, SubmissionDef.id == Submission.current_def_id)
            .where(Submission.form_id == form_id, Submission.instance_id == instance_id,
                   Submission.draft.is_(draft)))
    if not include_deleted:
        stmt = stmt.where(Submission.deleted_at.is_(None))
    return db.execute(_in_scope(stmt, scope)).first()


def root_of_version(db: Session, form_id: int, instance_id: str, scope: FormScope | None = None,
                    draft: bool = False) -> str | None:
    """The logical instanceID that a later version's instanceID belongs to."""
    return db.scalar(_in_scope(select(Submission.instance_id)
                               .join(SubmissionDef, SubmissionDef.submission_id == Submission.id)
                               .where(SubmissionDef.form_id == form_id, SubmissionDef.instance_id == instance_id,
                                      Submission.draft.is_(draft)),
                               scope))


def review_state_counts(db: Session, form_id: int, scope: FormScope | None = None
                        ) -> Sequence[Row[str | None, int, datetime | None]]:
    """(review state, live submissions, latest created_at) per review state: a form's extended metadata."""
    return db.execute(_in_scope(select(Submission.review_state, func.count(), func.max(Submission.created_at))
                                .where(Submission.form_id == form_id, Submission.deleted_at.is_(None),
                                       Submission.draft.is_(False)), scope)
                      .group_by(Submission.review_state)).all()


def versions(db: Session, submission_id: int) -> list[SubmissionDef]:
    return list(db.scalars(select(SubmissionDef).where(SubmissionDef.submission_id == submission_id)
                           .order_by(SubmissionDef.id.desc())))


def attachments(db: Session, submission_def_id: int) -> list[tuple[SubmissionAttachment, Blob | None]]:
    rows = db.execute(select(SubmissionAttachment, Blob).outerjoin(Blob, Blob.id == SubmissionAttachment.blob_id)
                      .where(SubmissionAttachment.submission_def_id == submission_def_id)
                      .order_by(SubmissionAttachment.name))
    return [(a, b) for a, b in rows]


def display_names(db: Session, actor_ids: set[int]) -> dict[int, str]:
    if not actor_ids:
        return {}
    return dict(db.execute(select(Actor.id, Actor.display_name).where(Actor.id.in_(actor_ids))).all())
