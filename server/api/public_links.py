"""Public links as Central has them (`/v1/projects/{p}/forms/{f}/public-links`): anyone with the
link's `url` fills the form in the browser (docs/web-forms.md) and submits as the link."""
from __future__ import annotations

from flask import Blueprint, g, request

from server import problems
from server.api.common import commit, form_or_404, json_body, success
from server.api.schemas import PublicLinkIn, actor_json
from server.context import db, settings
from server.models import audits
from server.models import public_links as pl
from server.models.accounts import Actor

bp = Blueprint("public_links", __name__, url_prefix="/v1/projects/<int:project_id>/forms/<xml_form_id>")


def link_url(token: str | None) -> str | None:
    """The page a person opens: /f/{token} under the server's public address."""
    if token is None:
        return None
    base = settings().base_url or request.url_root.rstrip("/")
    return f"{base}/f/{token}"


def _json(actor: Actor, link: pl.PublicLink, token: str | None) -> dict:
    out = {**actor_json(actor), "once": link.once, "token": token, "url": link_url(token)}
    if request.headers.get("X-Extended-Metadata") == "true":
        creator = db().get(Actor, actor.created_by_id) if actor.created_by_id else None
        out["createdBy"] = actor_json(creator) if creator else None
    return out


@bp.get("/public-links")
def list_links(project_id: int, xml_form_id: str):
    form = form_or_404(project_id, xml_form_id, "public_link.list")
    return [_json(a, link, token) for a, link, token in pl.links_of(db(), form.id)]


@bp.post("/public-links")
def create_link(project_id: int, xml_form_id: str):
    form = form_or_404(project_id, xml_form_id, "public_link.create")
    body = json_body(PublicLinkIn())
    actor, link, token = pl.create_link(db(), form, body["displayName"], body["once"], g.actor.id if g.actor else None)
    audits.public_link_created(db(), g.actor, actor, {"displayName": actor.display_name, "once": body["once"]})
    commit()
    return _json(actor, link, token)


@bp.delete("/public-links/<int:link_id>")
def delete_link(project_id: int, xml_form_id: str, link_id: int):
    form = form_or_404(project_id, xml_form_id, "public_link.delete")
    found = pl.link_of(db(), form.id, link_id)
    if found is None:
        raise problems.NotFound(f"There is no public link {link_id} for form '{xml_form_id}'.")
    pl.delete_link(db(), found[0])
    audits.public_link_revoked(db(), g.actor, found[0], deleted=True)
    commit()
    return success()
