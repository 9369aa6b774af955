"""Submissions: the logical record, its versions (the original XML of each, byte for byte),
attachments and comments."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.db import Base, UTCDateTime, utcnow

REVIEW_STATES = ("hasIssues", "edited", "approved", "rejected")
# What a reviewer may choose (`edited` is set by an edit, never by hand in the pages).
REVIEW_CHOICES = ("approved", "hasIssues", "rejected")
MAX_COMMENT = 10000


class Submission(Base):
    """One household visit as the world sees it: keeps its first instanceID across edits (§5.3)."""

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("form_id", "instance_id"),
        Index("ix_submissions_form_created", "form_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"))
    instance_id: Mapped[str] = mapped_column(String(255))
    current_def_id: Mapped[int | None] = mapped_column(ForeignKey("submission_defs.id", use_alter=True))
    submitter_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    device_id: Mapped[str | None] = mapped_column(String(255))
    review_state: Mapped[str | None] = mapped_column(String(16))
    edits: Mapped[int] = mapped_column(Integer, default=0)
    draft: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SubmissionDef(Base):
    """One version of a submission: the XML exactly as received, and who sent it from where."""

    __tablename__ = "submission_defs"
    __table_args__ = (
        # Two identical POSTs at the same moment store one version: the database decides, not a check.
        UniqueConstraint("form_id", "instance_id"),
        # Racing edits leave one current version per submission (models/intake.py _edit; migration 0009).
        Index("uq_submission_defs_one_current", "submission_id", unique=True,
              postgresql_where=text("current"), sqlite_where=text("current")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"))
    form_def_id: Mapped[int] = mapped_column(ForeignKey("form_defs.id"))
    instance_id: Mapped[str] = mapped_column(String(255))
    deprecated_id: Mapped[str | None] = mapped_column(String(255))
    instance_name: Mapped[str | None] = mapped_column(Text)
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    xml_sha256: Mapped[str] = mapped_column(String(64))
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    submitter_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    device_id: Mapped[str | None] = mapped_column(String(255))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SubmissionAttachment(Base):
    """A file the submission's XML names; blob is None until a POST brings it (split uploads)."""

    __tablename__ = "submission_attachments"

    submission_def_id: Mapped[int] = mapped_column(ForeignKey("submission_defs.id", ondelete="CASCADE"),
                                                   primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    blob_id: Mapped[int | None] = mapped_column(ForeignKey("blobs.id"))
    content_type: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Comment(Base):
    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def def_by_instance(db: Session, form_id: int, instance_id: str) -> tuple[SubmissionDef, Submission] | None:
    row = db.execute(select(SubmissionDef, Submission).join(Submission, Submission.id == SubmissionDef.submission_id)
                     .where(SubmissionDef.form_id == form_id, SubmissionDef.instance_id == instance_id)).first()
    return (row[0], row[1]) if row else None


def set_review_state(sub: Submission, state: str) -> None:
    """Central's PATCH reviewState: the same step for the REST API and the pages."""
    if state not in REVIEW_STATES:
        raise ValueError(f"unknown review state {state!r}")
    sub.review_state = state
    sub.updated_at = utcnow()
    from sqlalchemy.orm import object_session

    from server.models.entities import on_review

    db = object_session(sub)
    if db is not None:  # a submission read from the database always has its session
        on_review(db, sub, state)  # approval may create the submission's entity


def add_comment(db: Session, sub: Submission, actor_id: int, body: str) -> Comment:
    comment = Comment(submission_id=sub.id, actor_id=actor_id, body=body, created_at=utcnow())
    db.add(comment)
    db.flush()
    return comment


def comments_of(db: Session, submission_id: int) -> list[Comment]:
    """Newest first, as Central lists them."""
    return list(db.scalars(select(Comment).where(Comment.submission_id == submission_id).order_by(Comment.id.desc())))
