"""Encrypted submissions opened at export time with a private key the caller brings.

The key is used for one download and never stored or logged (the server only ever holds the
form's public key). Encrypted submissions have no rows in the column tables — the server cannot
read them — so their rows are made here, from the decrypted XML, with the same parser intake uses,
and slotted into the export in submission order. Memory stays bounded: one submission is open at a
time (each table of an archive opens it again rather than holding every decrypted one)."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, select

from server.exports import source
from server.models.blobs import Blob, BlobStore
from server.models.forms import FormDef
from server.models.submissions import SubmissionAttachment, SubmissionDef
from server.xforms.encryption import DecryptionFailed, decrypt
from server.xforms.schema import Schema, read_schema
from server.xforms.submission import ParsedSubmission, SubmissionRejected, read_identity, read_rows


@dataclass
class Decryptor:
    private_key: object
    store: BlobStore
    schemas: dict[int, Schema] = field(default_factory=dict)
    opened: int = 0
    failed: int = 0
    last_media: dict[str, bytes] = field(default_factory=dict)   # of the submission opened last

    def _schema(self, conn: Connection, form_def_id: int) -> Schema:
        found = self.schemas.get(form_def_id)
        if found is None:
            found = read_schema(conn.execute(select(FormDef.xml).where(FormDef.id == form_def_id)).scalar_one())
            self.schemas[form_def_id] = found
        return found

    def open(self, conn: Connection, submission_id: int) -> tuple[ParsedSubmission | None, str | None]:
        """The submission's current version decrypted and read into rows, or (None, status)."""
        self.last_media = {}
        d, a, b = SubmissionDef.__table__, SubmissionAttachment.__table__, Blob.__table__
        s = source.SUBMISSIONS
        row = conn.execute(select(d.c.id, d.c.xml, d.c.form_def_id).join(s, s.c.current_def_id == d.c.id)
                           .where(s.c.id == submission_id)).one()
        files: dict[str, bytes] = {}
        for name, sha in conn.execute(select(a.c.name, b.c.sha256).join(b, b.c.id == a.c.blob_id)
                                      .where(a.c.submission_def_id == row.id)):
            with self.store.open(sha) as fp:
                files[name] = fp.read()
        try:
            plain = decrypt(bytes(row.xml), files, self.private_key)
            root, parsed = read_identity(plain.xml)
            read_rows(root, parsed, self._schema(conn, row.form_def_id))
        except DecryptionFailed as exc:
            self.failed += 1
            missing = "has not been received" in str(exc)
            return None, "missing encrypted form data" if missing else "not decrypted"
        except SubmissionRejected:
            self.failed += 1
            return None, "not decrypted"
        self.opened += 1
        self.last_media = plain.media
        return parsed, None


def encrypted_in_order(conn: Connection, selection: source.Selection, tables) -> Iterator[tuple[int, str, datetime]]:
    """(submission id, instance id, created at) of the selected encrypted submissions, in export order."""
    s, d = source.SUBMISSIONS, SubmissionDef.__table__
    joined = s.join(d, d.c.id == s.c.current_def_id)
    if selection.needs_root:
        joined = joined.outerjoin(tables.root, tables.root.c.submission_id == s.c.id)
    stmt = (select(s.c.id, s.c.instance_id, s.c.created_at).select_from(joined)
            .where(*selection.where(s, tables.root), d.c.encrypted.is_(True))
            .order_by(s.c.created_at.desc(), s.c.id.desc()))
    yield from conn.execute(stmt)


class WrongKey(ValueError):
    pass


def check_key(conn: Connection, decryptor: Decryptor, selection: source.Selection, tables) -> None:
    """Fail before the download starts when the key does not open the first encrypted submission."""
    first = next(iter(encrypted_in_order(conn, selection, tables)), None)
    if first is None:
        return
    opened, status = decryptor.open(conn, first[0])
    if opened is None and status == "not decrypted":
        raise WrongKey(f"The private key does not open submission {first[1]}: it is not the key of this form's "
                       "public key, or the submission is damaged.")
