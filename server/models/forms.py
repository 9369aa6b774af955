"""Forms, their versions (definitions) and their media attachments."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.db import Base, UTCDateTime, utcnow

FORM_STATES = ("open", "closing", "closed")


class Form(Base):
    """A form ID within a project; points at its published definition and its draft, if any."""

    __tablename__ = "forms"
    __table_args__ = (
        # A deleted form's ID may be used again, so uniqueness holds only among live forms.
        Index("uq_forms_live_xml_form_id", "project_id", "xml_form_id", unique=True,
              sqlite_where=text("deleted_at IS NULL"), postgresql_where=text("deleted_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    xml_form_id: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default="open")
    current_def_id: Mapped[int | None] = mapped_column(ForeignKey("form_defs.id", use_alter=True))
    draft_def_id: Mapped[int | None] = mapped_column(ForeignKey("form_defs.id", use_alter=True))
    enketo_id: Mapped[str | None] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FormDef(Base):
    """One version of a form: the exact XForm bytes served to Collect and their hashes.

    Published versions stay for good, so late submissions made with them are still accepted."""

    __tablename__ = "form_defs"
    __table_args__ = (
        Index("uq_form_defs_published_version", "form_id", "version", unique=True,
              sqlite_where=text("published_at IS NOT NULL"), postgresql_where=text("published_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"), index=True)
    version: Mapped[str] = mapped_column(String(255), default="")
    name: Mapped[str | None] = mapped_column(String(1024))
    xml: Mapped[str] = mapped_column(Text)
    hash: Mapped[str] = mapped_column(String(32))
    sha: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(Text)  # base64RsaPublicKey of an encrypted form
    xls_blob_id: Mapped[int | None] = mapped_column(ForeignKey("blobs.id"))
    xls_content_type: Mapped[str | None] = mapped_column(String(128))
    warnings: Mapped[list | None] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The credential of /v1/test/{token}/… while this is the form's draft (Central's draftToken):
    # new for each new draft, kept when the draft is replaced, cleared when it is published.
    draft_token: Mapped[str | None] = mapped_column(String(64))


class FormAttachment(Base):
    """A media file a form version declares (jr://images/…, jr://file-csv/…); blob is None until uploaded."""

    __tablename__ = "form_attachments"
    __table_args__ = (UniqueConstraint("form_def_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_def_id: Mapped[int] = mapped_column(ForeignKey("form_defs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16))  # image, audio, video, file
    blob_id: Mapped[int | None] = mapped_column(ForeignKey("blobs.id"))
    content_type: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Served from the Entity List of the same name: None decides by name (docs/entities.md), True
    # and False are PATCH …/draft/attachments/{name} {"dataset": …}.
    dataset_link: Mapped[bool | None] = mapped_column(Boolean)


def live_form(db: Session, project_id: int, xml_form_id: str) -> Form | None:
    return db.scalars(select(Form).where(
        Form.project_id == project_id, Form.xml_form_id == xml_form_id, Form.deleted_at.is_(None))).first()


def project_forms(db: Session, project_id: int, include_unlisted: bool = True) -> list[tuple[Form, FormDef]]:
    """A project's live forms with the definition to show (published, else the draft), by form ID.

    Without `include_unlisted`, only what a data collector may list: published and not closed."""
    from sqlalchemy import func

    stmt = (select(Form, FormDef).join(FormDef, FormDef.id == func.coalesce(Form.current_def_id, Form.draft_def_id))
            .where(Form.project_id == project_id, Form.deleted_at.is_(None)).order_by(Form.xml_form_id))
    if not include_unlisted:
        stmt = stmt.where(Form.state != "closed", Form.current_def_id.is_not(None))
    return [(f, d) for f, d in db.execute(stmt)]
