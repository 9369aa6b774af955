"""Small helpers shared by the REST resources: request parsing, lookups that 404, commits."""
from __future__ import annotations

import json
from typing import Any

from flask import request
from marshmallow import Schema, ValidationError

from server import problems
from server.access import form_or_404, project_or_404  # noqa: F401  (re-exported for the resources)
from server.context import db


def is_true(value: str | None) -> bool:
    """Central's isTrue: case-insensitive, so pyodk's `True` counts (odk-protocol §0.7)."""
    return value is not None and value.strip().lower() == "true"


# Every JSON body of the API is a few fields (a session, a user, a role, a filter); 1 MiB is far past them.
JSON_BODY_LIMIT = 1024 * 1024


def json_body(schema: Schema) -> dict[str, Any]:
    """The request's JSON, loaded by `schema`; a body over JSON_BODY_LIMIT is refused (413) before it is read."""
    length = request.content_length
    if length is not None and length > JSON_BODY_LIMIT:
        raise problems.PayloadTooLarge(f"The request body is {length:,} bytes; a JSON request takes at most "
                                       f"{JSON_BODY_LIMIT:,} bytes.", details={"limit": JSON_BODY_LIMIT})
    raw = read_body_limited(JSON_BODY_LIMIT)  # a chunked body stops being read at the limit
    if not raw.strip():
        data: Any = {}
    else:
        try:
            data = json.loads(raw)
        except Exception:  # noqa: BLE001 - whatever the decoder raises, the body is not JSON
            raise problems.Unparseable(f"Could not parse the given data ({len(raw)} chars) as JSON.",
                                       details={"format": "json", "rawLength": len(raw)}) from None
    try:
        return schema.load(data)
    except ValidationError as exc:
        field, messages = next(iter(exc.normalized_messages().items()))
        text = "; ".join(messages) if isinstance(messages, list) else str(messages)
        code = problems.MissingParameter if "required" in text.lower() else problems.UnexpectedValue
        raise code(f"Invalid value for '{field}': {text}", details={"field": field}) from None


def commit() -> None:
    db().commit()


def success() -> dict:
    return {"success": True}


def read_body_limited(limit: int) -> bytes:
    """The request body, refusing (413) anything past `limit` bytes, chunked uploads included."""
    length = request.content_length
    if length is not None and length > limit:
        raise problems.PayloadTooLarge(f"The upload is {length:,} bytes; this server accepts at most {limit:,} bytes here.")
    chunks, size = [], 0
    while size <= limit:
        chunk = request.stream.read(min(1024 * 1024, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    data = b"".join(chunks)
    if len(data) > limit:
        raise problems.PayloadTooLarge(f"The upload is larger than the {limit:,} bytes this server accepts here.")
    return data
