"""Reading submissions for the REST API: lists, one by instance ID, versions, attachments."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models.accounts import Actor
from server.models.blobs import Blob
from server.models.submissions import Submission, SubmissionAttachment, SubmissionDef


def list_for_form(db: Session, form_id: int, deleted: bool = False, limit: int | None = None, offset: int = 0):
    """(Submission, current SubmissionDef) pairs, newest first, as Central lists them."""
    stmt = (select(Submission, SubmissionDef).join(SubmissionDef, SubmissionDef.id == Submission.current_def_id)
            .where(Submission.form_id == form_id, Submission.draft.is_(False))
            .where(Submission.deleted_at.is_not(None) if deleted else Submission.deleted_at.is_(None))
            .order_by(Submission.created_at.desc(), Submission.id.desc()).offset(offset))
    if limit is not None:
        stmt = stmt.limit(limit)
    return db.execute(stmt).all()


def count_for_form(db: Session, form_id: int) -> int:
    return db.scalar(select(func.count()).select_from(Submission).where(
        Submission.form_id == form_id, Submission.deleted_at.is_(None), Submission.draft.is_(False)))


def counts_by_form(db: Session, form_ids: list[int]) -> dict[int, int]:
    """Live submissions per form, in one GROUP BY (a project page lists every form's count)."""
    if not form_ids:
        return {}
    rows = db.execute(select(Submission.form_id, func.count()).where(
        Submission.form_id.in_(form_ids), Submission.deleted_at.is_(None), Submission.draft.is_(False))
        .group_by(Submission.form_id))
    return {form_id: n for form_id, n in rows}


def by_instance(db: Session, form_id: int, instance_id: str, include_deleted: bool = False):
    """The logical submission whose first instanceID is `instance_id`, with its current version."""
    stmt = (select(Submission, SubmissionDef).join(SubmissionDef, SubmissionDef.id == Submission.current_def_id)
            .where(Submission.form_id == form_id, Submission.instance_id == instance_id))
    if not include_deleted:
        stmt = stmt.where(Submission.deleted_at.is_(None))
    return db.execute(stmt).first()


def root_of_version(db: Session, form_id: int, instance_id: str) -> str | None:
    """The logical instanceID that a later version's instanceID belongs to."""
    return db.scalar(select(Submission.instance_id).join(SubmissionDef, SubmissionDef.submission_id == Submission.id)
                     .where(SubmissionDef.form_id == form_id, SubmissionDef.instance_id == instance_id))


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
