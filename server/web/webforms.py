"""Filling and editing a form in the browser with ODK Web Forms (docs/web-forms.md).

The engine (`@getodk/web-forms`, built into static/webforms/ by scripts/build_webforms.sh) renders
the XForm in the page; the page hands it the form's XML and media from here, and posts what it
produces — the instance XML and its files — as ODK Collect's multipart body to the submission
route below, which gives it to the same intake as Collect's (server/models/intake.py), so it is
stored byte for byte as one.

Who fills: a signed-in user whose role may submit (/projects/{p}/forms/{f}/fill); an app user
through the link on its QR page and anyone with a public link (/f/{token}[/{f}]), the token being
the credential — no cookie is involved there, so no CSRF token either. A manager edits a
submission at …/submissions/{instanceID}/edit: the engine loads the current version and its files
and sends a new version with `deprecatedID`, which intake stores as a Collect edit."""
from __future__ import annotations

import csv
import io
import json
import secrets
from typing import BinaryIO, cast

from flask import Blueprint, Response, abort, flash, g, jsonify, redirect, render_template, request, url_for

from server import problems
from server.access import entities_scope, form_or_404, readable_form
from server.api.files import send_blob
from server.auth.permissions import can, verbs_for
from server.context import blobs, cache, db, settings
from server.models import audits
from server.models import datasets as ds
from server.models import entities as en
from server.models import form_versions as fv
from server.models import public_links as pl
from server.models import submission_queries as q
from server.models.accounts import APP_USER, actor_for_token, is_wellformed_token
from server.models.forms import Form
from server.models.intake import Upload, identify, published_version, receive
from server.web.i18n import N_, _, size_text
from server.web.limits import takes_file
from server.xforms.xform import unsafe_file_name

bp = Blueprint("webforms", __name__)

# Endpoints a person reaches with a link's token instead of a signed-in session.
TOKEN_ENDPOINTS = {"web.webforms.link_page", "web.webforms.link_form_page", "web.webforms.link_xml",
                   "web.webforms.link_media", "web.webforms.link_submission",
                   # a draft tried in the browser: the draft's token is the credential, as for Collect
                   "web.webforms.draft_page", "web.webforms.draft_xml", "web.webforms.draft_media",
                   "web.webforms.draft_submission"}


def _submission_limit(s) -> int:
    return s.max_submission_bytes


def _too_large(limit: int) -> str:
    return _("The answers and photos together are larger than %(size)s, the most this server accepts. "
             "Take the photo again at a lower resolution and send again.", size=size_text(limit))


# --- who is filling ----------------------------------------------------------------------------------

def _link_caller(token: str):
    """The app user or public link a /f/{token} URL names, made the caller of this request; None when
    the token is unknown or revoked."""
    found = actor_for_token(db(), token) if is_wellformed_token(token) else None
    if found is None or found[0].type not in (APP_USER, pl.PUBLIC_LINK):
        return None
    g.actor = found[0]
    return found[0]


def _refusal(status: int, message: str):
    return render_template("webform.html", refusal=message, public=True), status


def _closed(form: Form) -> str | None:
    """Why the form cannot be filled in the browser now, or None."""
    from server.models.forms import FormDef

    if form.state == "closed":
        return _("This form is closed and takes no more answers. Ask the person who sent you the link.")
    if form.current_def_id is None:
        return _("This form has not been published yet.")
    if db().get_one(FormDef, form.current_def_id).key_id:
        # The engine cannot encrypt: the answers would reach the server readable.
        return _("This form is encrypted, and the browser cannot encrypt answers. Fill it in with ODK Collect.")
    return None


def _page(form: Form, base: str, public: bool, edit: dict | None = None):
    """The page that mounts the engine: everything the script needs is on #hamlet-webform."""
    nonce = secrets.token_urlsafe(18)
    config = {
        "nonce": nonce,
        "form-url": f"{base}/form.xml",
        "attachments-url": f"{base}/media/",
        "submit-url": f"{base}/submission",
        "max-bytes": str(settings().max_submission_bytes),
        "msg-sending": _("Sending…"),
        "msg-sent": _("Sent. Thank you! The form is empty again for the next household."),
        "msg-failed": _("The answers could not be sent. Check them and try again."),
        "msg-failed-load": _("The form could not be opened. Reload the page; if it keeps happening, tell "
                             "the person who sent you the link."),
        "msg-offline": _("No connection to the server: nothing was sent. Keep this page open and try "
                         "again when the phone is online."),
        "msg-too-large": _("The file %(name)s is too large: the most this server accepts is %(size)s. Take the "
                           "photo again at a lower resolution.", name="{name}",
                           size=size_text(settings().max_submission_bytes)),
    }
    if not public:
        config["csrf"] = _csrf_token()
    if edit:
        config.update(edit)
    html = render_template("webform.html", form=form, engine=config, public=public, editing=bool(edit),
                           title=_form_title(form))
    resp = Response(html, content_type="text/html; charset=utf-8")
    resp.headers["Content-Security-Policy"] = engine_policy(nonce)
    return resp


def _csrf_token() -> str:
    from server.web.sessions import csrf_token

    return csrf_token()


def _form_title(form: Form) -> str:
    from server.models.forms import FormDef

    form_def = db().get(FormDef, form.current_def_id) if form.current_def_id else None
    return (form_def.name if form_def is not None else None) or form.xml_form_id


def engine_policy(nonce: str) -> str:
    """The pages' policy (server/web/__init__.py page_policy) with two additions the engine needs:
    its XPath parser is tree-sitter compiled to WebAssembly ('wasm-unsafe-eval' lets the page compile
    WebAssembly; JavaScript eval stays refused), and it writes its styles as <style> elements at
    run time, admitted by this response's nonce. Its components also set a few style="" attributes
    (positions of menus and dialogs): `style-src-attr 'unsafe-inline'` admits those attributes only
    — an attribute cannot hold a selector or load anything img-src does not allow — while <style>
    elements still need the nonce. Its fonts are data: URLs; form images and the camera's photo
    preview are blob: URLs."""
    return ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; "
            f"style-src 'self' 'nonce-{nonce}'; style-src-elem 'self' 'nonce-{nonce}'; "
            "style-src-attr 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
            "media-src 'self' blob:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'")


# --- the form's XML and media --------------------------------------------------------------------------

def _form_xml(project_id: int, xml_form_id: str):
    _form, form_def = readable_form(project_id, xml_form_id)
    return Response(form_def.xml, content_type="text/xml; charset=utf-8")


def _media(project_id: int, xml_form_id: str, name: str):
    if unsafe_file_name(name):
        abort(404)
    form, form_def = readable_form(project_id, xml_form_id)
    slot, blob = fv.attachment(db(), form_def.id, name)
    if blob is not None:
        return send_blob(blobs(), blob.sha256, blob.size, slot.content_type or "application/octet-stream", name,
                         blob.md5, as_attachment=False)
    dataset = ds.list_for_attachment(db(), form.project_id, name, slot.dataset_link)
    if dataset is None:
        raise problems.NotFound(f"The media file '{name}' has not been uploaded for this form version.")
    props = [p.name for p in ds.properties_of(db(), dataset.id)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "label", "__version", *props])
    # A public link is anyone: it never receives the households an Entity List holds.
    if g.actor is not None and g.actor.type != pl.PUBLIC_LINK:
        owner = None
        if dataset.owner_only and not can(verbs_for(db(), g.actor, form.project_id), "entity.list"):
            owner = g.actor.id
        writer.writerows(en.list_rows(db(), dataset, props, entities_scope(dataset), owner))
    return Response(out.getvalue(), content_type="text/csv; charset=utf-8")


# --- receiving -------------------------------------------------------------------------------------------

def _answer(status: int, message: str, **extra):
    return jsonify({"message": message, **extra}), status


_NO_ANSWERS = N_("The answers were not in the request. Reload the page and try again.")


def _posted_answers(form: Form):
    """The browser's multipart body, as Collect's: the XML part read and identified as this form's, and
    the other parts as attachments. The caller has checked that the XML part is there."""
    xml = request.files["xml_submission_file"].read()
    uploads = {name: Upload(name=name, stream=cast(BinaryIO, part.stream), content_type=part.mimetype or None)
               for name, part in request.files.items() if name != "xml_submission_file"}
    root, parsed = identify(xml)
    if parsed.xml_form_id != form.xml_form_id:
        raise problems.UnexpectedValue("The answers are for another form.")
    return xml, uploads, root, parsed


def _receive(form: Form):
    """The browser's multipart body through Collect's intake; a refusal is JSON in the page's language."""
    if _closed(form):
        return _answer(409, _closed(form) or "")
    limit = settings().max_submission_bytes
    if "xml_submission_file" not in request.files:
        return _answer(400, _(_NO_ANSWERS))
    try:
        xml, uploads, root, parsed = _posted_answers(form)
        verbs = verbs_for(db(), g.actor, form.project_id, form.id)
        if parsed.deprecated_id and not can(verbs, "submission.update"):
            return _answer(403, _("You may not change a submission that has been sent."))
        if g.actor.type == pl.PUBLIC_LINK:
            refusal = _link_refusal(g.actor.id)
            if refusal:
                return _answer(403, refusal)
        if not can(verbs, "submission.create"):
            return _answer(403, _("You may not send answers to this form."))
        form_def = published_version(db(), form, parsed.version)
        received = receive(db(), blobs(), cache(), form, form_def, root, parsed, xml, uploads,
                           submitter_id=g.actor.id, device_id=None, user_agent=_user_agent(), limit=limit,
                           max_repeats=settings().max_repeat_instances)
    except problems.PayloadTooLarge:
        db().rollback()
        return _answer(413, _too_large(limit))
    except problems.NotAcceptingSubmissions:
        db().rollback()
        return _answer(409, _("This form is closed and takes no more answers. Ask the person who sent you the link."))
    except problems.FormVersionNotFound:
        db().rollback()
        return _answer(409, _("The form has changed since this page was opened. Reload the page and fill it in again."))
    except problems.Problem as exc:
        db().rollback()
        return _answer(exc.status,
                       _("The server refused the answers: %(reason)s", reason=exc.message))
    db().commit()
    if parsed.deprecated_id:
        return _answer(200, _("The changes are saved as a new version."),
                       next=url_for("web.submissions.detail", project_id=form.project_id,
                                    xml_form_id=form.xml_form_id, instance_id=_root_instance(form, received)))
    return _answer(201, _("Sent. Thank you! The form is empty again for the next household."))


def _link_refusal(actor_id: int) -> str | None:
    link = pl.link_for_actor(db(), actor_id, lock=True)
    if link is not None and link.once and pl.used(db(), actor_id):
        return _("This link was for one response only, and it has been used. Ask for a new link.")
    return None


def _root_instance(form: Form, received) -> str:
    from server.models.submissions import Submission

    return db().get_one(Submission, received.submission_id).instance_id


def _user_agent() -> str | None:
    ua = request.headers.get("User-Agent")
    return f"Hamlet Web Forms {ua}"[:255] if ua else "Hamlet Web Forms"


# --- signed-in routes --------------------------------------------------------------------------------------

_BASE = "/projects/<int:project_id>/forms/<xml_form_id>/fill"


def _fillable(project_id: int, xml_form_id: str) -> Form:
    return form_or_404(project_id, xml_form_id, "submission.create")


@bp.get(_BASE)
def fill_page(project_id: int, xml_form_id: str):
    form = _fillable(project_id, xml_form_id)
    closed = _closed(form)
    if closed:
        return render_template("webform.html", refusal=closed, form=form, public=False), 409
    return _page(form, url_for(".fill_page", project_id=project_id, xml_form_id=xml_form_id), public=False)


@bp.get(_BASE + "/form.xml")
def fill_xml(project_id: int, xml_form_id: str):
    return _form_xml(project_id, xml_form_id)


@bp.get(_BASE + "/media/<path:name>")
def fill_media(project_id: int, xml_form_id: str, name: str):
    return _media(project_id, xml_form_id, name)


@bp.post(_BASE + "/submission")
@takes_file(_submission_limit, _too_large)
def fill_submission(project_id: int, xml_form_id: str):
    form = form_or_404(project_id, xml_form_id)
    return _receive(form)


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/submissions/<instance_id>/edit")
def edit_page(project_id: int, xml_form_id: str, instance_id: str):
    """The engine with the submission's current version loaded; sending stores a new version."""
    from server.web.submissions import _submission

    form = form_or_404(project_id, xml_form_id, "submission.update")
    sub, sdef = _submission(form, instance_id)
    closed = _closed(form) if form.current_def_id is None else None
    if closed:
        return render_template("webform.html", refusal=closed, form=form, public=False), 409
    base = url_for(".fill_page", project_id=project_id, xml_form_id=xml_form_id)
    names = [a.name for a, b in q.attachments(db(), sdef.id) if b is not None]
    here = url_for(".edit_page", project_id=project_id, xml_form_id=xml_form_id, instance_id=sub.instance_id)
    edit = {"instance-url": f"{here}/instance.xml", "instance-attachments": json.dumps(names),
            "instance-attachment-url": url_for("web.submissions.detail", project_id=project_id,
                                               xml_form_id=xml_form_id, instance_id=sub.instance_id) + "/attachments/",
            "done-url": url_for("web.submissions.detail", project_id=project_id, xml_form_id=xml_form_id,
                                instance_id=sub.instance_id)}
    return _page(form, base, public=False, edit=edit)


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/submissions/<instance_id>/edit/instance.xml")
def edit_instance(project_id: int, xml_form_id: str, instance_id: str):
    from server.web.submissions import _submission

    form = form_or_404(project_id, xml_form_id, "submission.update")
    _sub, sdef = _submission(form, instance_id)
    return Response(sdef.xml, content_type="text/xml; charset=utf-8")


# --- link routes (app users and public links) -----------------------------------------------------------------

def _link_form(token: str, xml_form_id: str | None) -> Form | None:
    caller = _link_caller(token)
    if caller is None:
        return None
    if xml_form_id is None:
        link = pl.link_for_actor(db(), caller.id)
        if link is None:
            return None
        form = db().get(Form, link.form_id)
        if form is None or form.deleted_at is not None:
            return None
        xml_form_id = form.xml_form_id
    if caller.project_id is None:
        return None
    try:
        return form_or_404(caller.project_id, xml_form_id, "submission.create")
    except problems.Problem:
        return None


def _link_page(token: str, xml_form_id: str | None):
    form = _link_form(token, xml_form_id)
    if form is None:
        return _refusal(403, _("This link no longer works: it has been revoked, or it was never valid. Ask the "
                               "person who sent it for a new one."))
    closed = _closed(form)
    if closed:
        return _refusal(409, closed)
    if g.actor.type == pl.PUBLIC_LINK:
        refusal = _link_refusal(g.actor.id)
        if refusal:
            return _refusal(403, refusal)
    return _page(form, f"/f/{token}/{form.xml_form_id}", public=True)


@bp.get("/f/<token>")
def link_page(token: str):
    return _link_page(token, None)


@bp.get("/f/<token>/<xml_form_id>")
def link_form_page(token: str, xml_form_id: str):
    return _link_page(token, xml_form_id)


@bp.get("/f/<token>/<xml_form_id>/form.xml")
def link_xml(token: str, xml_form_id: str):
    form = _link_form(token, xml_form_id)
    if form is None:
        abort(403)
    return _form_xml(form.project_id, form.xml_form_id)


@bp.get("/f/<token>/<xml_form_id>/media/<path:name>")
def link_media(token: str, xml_form_id: str, name: str):
    form = _link_form(token, xml_form_id)
    if form is None:
        abort(403)
    return _media(form.project_id, form.xml_form_id, name)


@bp.post("/f/<token>/<xml_form_id>/submission")
@takes_file(_submission_limit, _too_large)
def link_submission(token: str, xml_form_id: str):
    form = _link_form(token, xml_form_id)
    if form is None:
        return _answer(403, _("This link no longer works: it has been revoked, or it was never valid. Ask the "
                              "person who sent it for a new one."))
    return _receive(form)


# --- trying a draft in the browser (the draft's token is the credential, as for Collect) --------------------

_DRAFT = "/projects/<int:project_id>/forms/<xml_form_id>/draft/try/<token>"


def _draft_of(project_id: int, xml_form_id: str, token: str):
    """The draft the token opens (404 once it is published, abandoned or replaced); nobody is signed in."""
    from server.models.draft_tests import draft_for_token

    g.actor = None
    return draft_for_token(db(), project_id, xml_form_id, token)


@bp.get(_DRAFT)
def draft_page(project_id: int, xml_form_id: str, token: str):
    form, _draft = _draft_of(project_id, xml_form_id, token)
    return _page(form, url_for(".draft_page", project_id=project_id, xml_form_id=xml_form_id, token=token),
                 public=True)


@bp.get(_DRAFT + "/form.xml")
def draft_xml(project_id: int, xml_form_id: str, token: str):
    _form, draft = _draft_of(project_id, xml_form_id, token)
    return Response(draft.xml, content_type="text/xml; charset=utf-8")


@bp.get(_DRAFT + "/media/<path:name>")
def draft_media(project_id: int, xml_form_id: str, token: str, name: str):
    from server.api.forms import attachment_file

    if unsafe_file_name(name):
        abort(404)
    _form, draft = _draft_of(project_id, xml_form_id, token)
    return attachment_file(draft, name)


@bp.post(_DRAFT + "/submission")
@takes_file(_submission_limit, _too_large)
def draft_submission(project_id: int, xml_form_id: str, token: str):
    """A test submission from the browser: stored as the draft's, as Collect's through /v1/test/{token}."""
    form, draft = _draft_of(project_id, xml_form_id, token)
    limit = settings().max_submission_bytes
    if "xml_submission_file" not in request.files:
        return _answer(400, _(_NO_ANSWERS))
    try:
        xml, uploads, root, parsed = _posted_answers(form)
        receive(db(), blobs(), cache(), form, draft, root, parsed, xml, uploads, submitter_id=None, device_id=None,
                user_agent=_user_agent(), limit=limit, max_repeats=settings().max_repeat_instances, draft=True)
    except problems.PayloadTooLarge:
        db().rollback()
        return _answer(413, _too_large(limit))
    except problems.Problem as exc:
        db().rollback()
        return _answer(exc.status, _("The server refused the answers: %(reason)s", reason=exc.message))
    db().commit()
    return _answer(201, _("Test answers sent. They are kept apart from real ones and deleted when the draft is "
                          "published or abandoned."))


# --- a manager's public links page ------------------------------------------------------------------------------

_LINKS = "/projects/<int:project_id>/forms/<xml_form_id>/public-links"


def _links_page(form: Form, status: int = 200, error: str | None = None, name: str | None = None):
    from server.access import project_or_404

    project = project_or_404(form.project_id)
    base = settings().base_url or request.url_root.rstrip("/")
    links = [(a, link, f"{base}/f/{token}" if token else None) for a, link, token in pl.links_of(db(), form.id)]
    verbs = verbs_for(db(), g.actor, form.project_id, form.id)
    return render_template("public_links.html", project=project, form=form, links=links, verbs=verbs, can=can,
                           error=error, name=name), status


@bp.get(_LINKS)
def public_links(project_id: int, xml_form_id: str):
    return _links_page(form_or_404(project_id, xml_form_id, "public_link.list"))


@bp.post(_LINKS)
def create_public_link(project_id: int, xml_form_id: str):
    form = form_or_404(project_id, xml_form_id, "public_link.create")
    name = (request.form.get("display_name") or "").strip()
    if not name or len(name) > 255:
        return _links_page(form, 400, _("Give the link a name of 1 to 255 characters."), name[:255])
    link_actor, _link, _token = pl.create_link(db(), form, name, request.form.get("once") == "1", g.actor.id)
    audits.public_link_created(db(), g.actor, link_actor, {"displayName": name, "once": request.form.get("once") == "1"})
    db().commit()
    flash(_("The link is ready. Send it to the people who should answer."), "ok")
    return redirect(url_for(".public_links", project_id=project_id, xml_form_id=xml_form_id))


@bp.post(_LINKS + "/<int:link_id>/revoke")
def revoke_public_link(project_id: int, xml_form_id: str, link_id: int):
    form = form_or_404(project_id, xml_form_id, "public_link.delete")
    found = pl.link_of(db(), form.id, link_id)
    if found is None:
        abort(404)
    pl.revoke(db(), found[0])
    audits.public_link_revoked(db(), g.actor, found[0], deleted=False)
    db().commit()
    flash(_("The link is revoked: it no longer opens the form."), "ok")
    return redirect(url_for(".public_links", project_id=project_id, xml_form_id=xml_form_id))
