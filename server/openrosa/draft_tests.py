"""Draft testing at Central's paths (models/draft_tests.py): ODK Collect set up with
`…/v1/test/{token}/projects/{p}` as its server URL lists, downloads and submits to the form's draft,
the token its only credential. A token that is not the draft's current one is 404 on every route."""
from __future__ import annotations

from urllib.parse import quote

from flask import Response, g, request

from server import problems
from server.api.common import read_body_limited
from server.context import blobs, cache, db, settings
from server.models.draft_tests import draft_for_token
from server.models.forms import Form, FormDef
from server.models.intake import identify, receive
from server.openrosa.render import ListedForm, ManifestFile, form_list, manifest
from server.openrosa.routes import _manifest_files, _xml, bp, openrosa, public_base
from server.openrosa.submission import RECEIVED, RESENT, _created, _read_post, _user_agent

PREFIX = "/v1/test/<token>/projects/<int:project_id>/forms/<xml_form_id>/draft"


def test_base(token: str, project_id: int) -> str:
    """Collect's server URL for a draft: what its QR code holds, and where its lists point."""
    return f"{public_base()}{request.script_root}/v1/test/{token}/projects/{project_id}"


def _draft(token: str, project_id: int, xml_form_id: str) -> tuple[Form, FormDef]:
    # Nobody is signed in here: the token decides, and a caller's own rights play no part.
    g.actor = None
    return draft_for_token(db(), project_id, xml_form_id, token)


def _test_manifest_files(form_def: FormDef, project_id: int) -> list[ManifestFile]:
    """The draft's media. An Entity List is served as the plain CSV it is at this moment (no
    integrity URL: that route needs an account, and a test has no entities of its own to track)."""
    return [ManifestFile(f.name, f.md5) for f in _manifest_files(form_def.id, project_id)]


@bp.get(f"{PREFIX}/formList")
@openrosa
def draft_form_list(token: str, project_id: int, xml_form_id: str):
    """The draft alone, its download and manifest under the same /v1/test/{token} prefix (Central)."""
    form, draft = _draft(token, project_id, xml_form_id)
    listed = ListedForm(form.xml_form_id, draft.name, draft.version, draft.hash,
                        bool(_test_manifest_files(draft, project_id)))
    return _xml(form_list([listed], test_base(token, project_id), draft=True))


@bp.get(f"{PREFIX}/manifest")
@openrosa
def draft_test_manifest(token: str, project_id: int, xml_form_id: str):
    form, draft = _draft(token, project_id, xml_form_id)
    return _xml(manifest(_test_manifest_files(draft, project_id),
                         f"{test_base(token, project_id)}/forms/{quote(form.xml_form_id, safe='')}/draft"))


@bp.get("/v1/test/<token>/projects/<int:project_id>/forms/<xml_form_id>/draft.xml")
def draft_test_xml(token: str, project_id: int, xml_form_id: str):
    _, draft = _draft(token, project_id, xml_form_id)
    from server.api.forms import xml_response

    return xml_response(draft)


@bp.get(f"{PREFIX}/attachments/<path:name>")
def draft_test_attachment(token: str, project_id: int, xml_form_id: str, name: str):
    from server.api.forms import attachment_file
    from server.models.form_versions import check_attachment_name

    check_attachment_name(name)
    _, draft = _draft(token, project_id, xml_form_id)
    return attachment_file(draft, name)


@bp.route(f"{PREFIX}/submission", methods=["HEAD", "GET"])
@openrosa
def draft_test_submission_head(token: str, project_id: int, xml_form_id: str):
    """Collect's HEAD before it sends: 204 while the token opens the draft, 404 once it does not."""
    _draft(token, project_id, xml_form_id)
    return Response(status=204)


def _check_form_id(form: Form, xml_form_id: str) -> None:
    if xml_form_id != form.xml_form_id:
        raise problems.UnexpectedValue(
            f"The submission is for form '{xml_form_id}', but this draft is of form '{form.xml_form_id}'.",
            details={"field": "form id", "value": xml_form_id, "reason": "did not match the form ID in the URL"})


@bp.post(f"{PREFIX}/submission")
@openrosa
def draft_test_submit(token: str, project_id: int, xml_form_id: str):
    """A test submission from Collect, stored as the draft's (whatever version it names, as Central)."""
    form, draft = _draft(token, project_id, xml_form_id)
    return _accept_test(form, draft, None)


SIGNED_IN = "/v1/projects/<int:project_id>/forms/<xml_form_id>/draft/submission"


def _signed_in_draft(project_id: int, xml_form_id: str) -> tuple[Form, FormDef]:
    """Central's draft submission path for a caller with an account or key: who may submit to the form."""
    from server.access import form_or_404

    if g.actor is None:
        raise problems.AuthenticationFailed("Sign in to send test submissions.")
    form = form_or_404(project_id, xml_form_id, "submission.create")
    if form.draft_def_id is None:
        raise problems.NotFound(f"Form '{xml_form_id}' has no draft.")
    return form, db().get_one(FormDef, form.draft_def_id)


@bp.route(SIGNED_IN, methods=["HEAD", "GET"])
@openrosa
def draft_submission_head(project_id: int, xml_form_id: str):
    _signed_in_draft(project_id, xml_form_id)
    return Response(status=204)


@bp.post(SIGNED_IN)
@openrosa
def draft_submit(project_id: int, xml_form_id: str):
    form, draft = _signed_in_draft(project_id, xml_form_id)
    return _accept_test(form, draft, g.actor.id)


def _accept_test(form: Form, draft: FormDef, submitter_id: int | None) -> Response:
    limit = settings().max_submission_bytes
    if request.content_length is not None and request.content_length > limit:
        raise problems.PayloadTooLarge(f"The submission is {request.content_length:,} bytes; this server accepts at "
                                       f"most {limit:,}.")
    xml, uploads = _read_post()
    root, parsed = identify(xml)
    _check_form_id(form, parsed.xml_form_id)
    received = receive(db(), blobs(), cache(), form, draft, root, parsed, xml, uploads, submitter_id=submitter_id,
                       device_id=request.args.get("deviceID"), user_agent=_user_agent(), limit=limit,
                       max_repeats=settings().max_repeat_instances, draft=True)
    db().commit()
    return _created(RECEIVED if received.created else RESENT)


@bp.post(f"{PREFIX}/submissions")
def draft_test_create(token: str, project_id: int, xml_form_id: str):
    """Central's REST create with the token (what a browser form engine posts): 200 with the Submission."""
    from server.api.submissions import submission_json
    from server.models.submissions import Submission, SubmissionDef

    form, draft = _draft(token, project_id, xml_form_id)
    xml = read_body_limited(settings().max_submission_bytes)
    root, parsed = identify(xml)
    _check_form_id(form, parsed.xml_form_id)
    received = receive(db(), blobs(), cache(), form, draft, root, parsed, xml, {}, None, request.args.get("deviceID"),
                       request.headers.get("User-Agent"), settings().max_submission_bytes, openrosa=False,
                       max_repeats=settings().max_repeat_instances, draft=True)
    db().commit()
    sub = db().get_one(Submission, received.submission_id)
    return submission_json(sub, db().get_one(SubmissionDef, sub.current_def_id))
