"""A form's webhooks by REST (docs/webhooks.md): configure them, read their delivery log, resend.
Only those who may change the form (managers of the whole project, administrators) may: a webhook
receives every submission of the form, whatever area it is in."""
from __future__ import annotations

from flask import Blueprint, g, request
from marshmallow import fields, validate

from server import problems
from server.api.common import commit, form_or_404, json_body, success
from server.api.schemas import In
from server.context import audit, db, jobs, settings
from server.db import isoformat
from server.models.forms import Form
from server.params import non_negative_int
from server.webhooks import delivery
from server.webhooks.models import Webhook, WebhookDelivery, deliveries_of, hooks_of, receiver_changed

bp = Blueprint("webhooks", __name__, url_prefix="/v1/projects/<int:project_id>/forms/<xml_form_id>/webhooks")


class WebhookIn(In):
    url = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    includeXml = fields.Boolean(load_default=False)
    active = fields.Boolean(load_default=True)


class WebhookPatch(In):
    url = fields.String(validate=validate.Length(min=1, max=2000))
    includeXml = fields.Boolean()
    active = fields.Boolean()


def hook_json(hook: Webhook, with_secret: bool = False) -> dict:
    body = {"id": hook.id, "url": hook.url, "includeXml": hook.include_xml, "active": hook.active,
            "createdAt": isoformat(hook.created_at),
            # the receiver's health: attempts failed in a row, and until when it is left alone (docs/webhooks.md)
            "failures": hook.failures, "resumeAt": isoformat(hook.resume_at) if hook.resume_at else None}
    if with_secret:
        body["secret"] = hook.secret
    return body


def delivery_json(d: WebhookDelivery) -> dict:
    return {"id": d.id, "event": d.event, "status": d.status, "attempts": d.attempts,
            "lastStatusCode": d.last_status_code, "lastError": d.last_error, "createdAt": isoformat(d.created_at),
            "updatedAt": isoformat(d.updated_at), "deliveredAt": isoformat(d.delivered_at),
            "submissionDefId": d.submission_def_id}


def checked_url(url: str) -> str:
    try:
        return delivery.check_url(url.strip(), settings().webhook_allow_private)
    except delivery.UnsafeUrl as exc:
        raise problems.UnexpectedValue(f"This webhook URL cannot be used: {exc}.",
                                       details={"field": "url", "value": url}) from None


def _hook(project_id: int, xml_form_id: str, hook_id: int) -> Webhook:
    form = form_or_404(project_id, xml_form_id, "form.update")
    hook = db().get(Webhook, hook_id)
    if hook is None or hook.form_id != form.id:
        raise problems.NotFound(f"There is no webhook {hook_id} on form '{xml_form_id}'.")
    return hook


@bp.get("")
def list_hooks(project_id: int, xml_form_id: str):
    form = form_or_404(project_id, xml_form_id, "form.update")
    return [hook_json(h) for h in hooks_of(db(), form.id)]


@bp.post("")
def create_hook(project_id: int, xml_form_id: str):
    form = form_or_404(project_id, xml_form_id, "form.update")
    body = json_body(WebhookIn())
    hook = Webhook(form_id=form.id, url=checked_url(body["url"]), include_xml=body["includeXml"],
                   active=body["active"], created_by=g.actor.id if g.actor else None)
    db().add(hook)
    db().flush()
    audit("webhook.create", form, {"data": {"webhookId": hook.id, "url": hook.url}})
    commit()
    return hook_json(hook, with_secret=True)


@bp.get("/<int:hook_id>")
def get_hook(project_id: int, xml_form_id: str, hook_id: int):
    return hook_json(_hook(project_id, xml_form_id, hook_id))


@bp.patch("/<int:hook_id>")
def patch_hook(project_id: int, xml_form_id: str, hook_id: int):
    hook = _hook(project_id, xml_form_id, hook_id)
    body = json_body(WebhookPatch())
    if "url" in body:
        hook.url = checked_url(body["url"])
        receiver_changed(hook)
        audit("webhook.update", db().get(Form, hook.form_id), {"data": {"webhookId": hook.id, "url": hook.url}})
    if "includeXml" in body:
        hook.include_xml = body["includeXml"]
    if "active" in body:
        if body["active"] and not hook.active:
            receiver_changed(hook)
        hook.active = body["active"]
    commit()
    return hook_json(hook)


@bp.delete("/<int:hook_id>")
def delete_hook(project_id: int, xml_form_id: str, hook_id: int):
    hook = _hook(project_id, xml_form_id, hook_id)
    audit("webhook.delete", db().get(Form, hook.form_id), {"data": {"webhookId": hook.id, "url": hook.url}})
    db().delete(hook)
    commit()
    return success()


@bp.get("/<int:hook_id>/deliveries")
def list_deliveries(project_id: int, xml_form_id: str, hook_id: int):
    hook = _hook(project_id, xml_form_id, hook_id)
    limit = min(non_negative_int("limit", request.args.get("limit")) or 50, 1000)
    offset = non_negative_int("offset", request.args.get("offset")) or 0
    return [delivery_json(d) for d in deliveries_of(db(), hook.id, limit, offset)]


@bp.post("/<int:hook_id>/deliveries/<int:delivery_id>/resend")
def resend(project_id: int, xml_form_id: str, hook_id: int, delivery_id: int):
    hook = _hook(project_id, xml_form_id, hook_id)
    found = db().get(WebhookDelivery, delivery_id)
    if found is None or found.webhook_id != hook.id:
        raise problems.NotFound(f"There is no delivery {delivery_id} of webhook {hook_id}.")
    delivery.resend(db(), jobs(), found, settings().webhook_per_hook)
    return delivery_json(found)
