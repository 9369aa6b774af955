"""OpenRosa submission (odk-protocol §3): HEAD for the size limit, POST multipart from ODK Collect."""
from __future__ import annotations

from flask import Response, g, request
from sqlalchemy import select

from server import problems
from server.auth.permissions import can, require, verbs_for
from server.context import blobs, cache, db, settings
from server.models.forms import Form, FormDef
from server.models.intake import FormRef, Upload, VersionRef, identify, published_version, receive, resolve
from server.models.projects import project_exists
from server.models.public_links import PUBLIC_LINK, link_for_actor, used
from server.openrosa.multipart import BodyTooLarge, MultipartInvalid, read_parts
from server.openrosa.routes import bp, openrosa
from server.problems import openrosa_envelope

# Collect shows this text as it is (only Central's exact English text becomes its own "Success").
RECEIVED = "Đã nhận phiếu khảo sát đầy đủ. / Submission received in full."
RESENT = "Phiếu này đã được nhận trước đó; tệp đính kèm đã được cập nhật. / Already received; attachments updated."


def _created(message: str) -> Response:
    return Response(openrosa_envelope(message), status=201, content_type="text/xml; charset=utf-8")


def _require_caller() -> None:
    if g.actor is None:
        raise problems.AuthenticationFailed("Sign in to send submissions.")


@bp.route("/v1/projects/<int:project_id>/submission", methods=["HEAD", "GET"])
@openrosa
def submission_head(project_id: int):
    """Collect sends HEAD first and needs 204 with the size limit; a 200 would stop it (§3.1)."""
    _require_caller()
    if not project_exists(db(), project_id):
        raise problems.NotFound(f"There is no project {project_id}.")
    return Response(status=204)


@bp.route("/submission", methods=["HEAD", "GET"])
@bp.route("/v1/submission", methods=["HEAD", "GET"])
@openrosa
def root_submission_head():
    _require_caller()
    return Response(status=204)


def _read_post() -> tuple[bytes, dict[str, Upload]]:
    return read_post(request.stream, request.headers.get("Content-Type", ""), settings().max_submission_bytes)


def read_post(stream, content_type: str, limit: int) -> tuple[bytes, dict[str, Upload]]:
    """The XML and the file parts of Collect's multipart POST (§3.2); the typed Problem for a bad body."""
    try:
        parts = read_parts(stream, content_type, limit)
    except BodyTooLarge:
        raise problems.PayloadTooLarge(f"The submission is larger than the {limit:,} bytes this server accepts.") from None
    except MultipartInvalid as exc:
        raise problems.MultipartFailed(f"The multipart body could not be read ({exc}); send it again.") from None
    xml = None
    uploads: dict[str, Upload] = {}
    for part in parts:
        if part.name == "xml_submission_file":
            if xml is None:
                xml = part.read()
        elif part.filename is not None:
            uploads[part.name] = Upload(name=part.name, stream=part.file, content_type=_mimetype(part.content_type))
    if xml is None:
        raise problems.MissingMultipartField("Required multipart POST field xml_submission_file missing.",
                                             details={"field": "xml_submission_file"})
    return xml, uploads


def _mimetype(content_type: str | None) -> str | None:
    return content_type.split(";", 1)[0].strip().lower() or None if content_type else None


def _accept(project_id: int | None) -> Response:
    if request.content_length is not None and request.content_length > settings().max_submission_bytes:
        raise problems.PayloadTooLarge(
            f"The submission is {request.content_length:,} bytes; this server accepts at most "
            f"{settings().max_submission_bytes:,}. Send large attachments in several uploads.")
    xml, uploads = _read_post()
    root, parsed = identify(xml)
    if g.actor is None:
        raise problems.AuthenticationFailed("Sign in to send submissions.")
    form: Form | FormRef
    form_def: FormDef | VersionRef
    if project_id is not None:
        form, form_def = resolve(db(), project_id, parsed.xml_form_id, parsed.version, g.actor)
    else:
        form = _find_form(parsed.xml_form_id)
        form_def = published_version(db(), form, parsed.version)
        require(db(), g.actor, form.project_id, "submission.create", form_id=form.id)
    if g.actor.type == PUBLIC_LINK:
        _public_link_may_send(g.actor.id, parsed.deprecated_id)
    received = receive(db(), blobs(), cache(), form, form_def, root, parsed, xml, uploads,
                       submitter_id=g.actor.id if g.actor else None, device_id=request.args.get("deviceID"),
                       user_agent=_user_agent(), limit=settings().max_submission_bytes,
                       max_repeats=settings().max_repeat_instances)
    db().commit()
    return _created(RECEIVED if received.created else RESENT)


def _public_link_may_send(actor_id: int, deprecated_id: str | None) -> None:
    """A public link sends new submissions only, and a `once` link one of them (docs/web-forms.md)."""
    if deprecated_id:
        raise problems.InsufficientRights("A public link may not change a submission.")
    link = link_for_actor(db(), actor_id, lock=True)
    if link is not None and link.once and used(db(), actor_id):
        raise problems.InsufficientRights("This public link was for one submission only, and it has been used.")


def _user_agent() -> str | None:
    return user_agent(request.headers)


def user_agent(headers) -> str | None:
    """What the submission version records as its user agent: Collect's ODK-Client before its User-Agent."""
    ua = headers.get("User-Agent")
    client = headers.get("ODK-Client")
    if client:
        ua = f"{client} {ua}" if ua else client
    return ua[:255] if ua else None


def _find_form(xml_form_id: str) -> Form:
    """At the server root (Collect set up with a plain URL and a username): the caller's projects."""
    candidates = [f for f in db().scalars(select(Form).where(Form.xml_form_id == xml_form_id, Form.deleted_at.is_(None)))
                  if can(verbs_for(db(), g.actor, f.project_id, f.id), "submission.create")]
    if not candidates:
        raise problems.NotFound(f"There is no form '{xml_form_id}' you can submit to on this server.")
    if len(candidates) > 1:
        raise problems.UnexpectedValue(f"Form '{xml_form_id}' exists in several of your projects; set the server URL "
                                       "to the project's address (…/v1/projects/<id>).")
    return candidates[0]


@bp.post("/v1/projects/<int:project_id>/submission")
@openrosa
def submit(project_id: int):
    return _accept(project_id)


@bp.post("/submission")
@bp.post("/v1/submission")
@openrosa
def root_submit():
    return _accept(None)
