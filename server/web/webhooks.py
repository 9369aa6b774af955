"""A form's webhooks on the web: add a receiver's URL, pause or delete it, read each delivery's status,
attempts and last error, and send one again. The same rules as the REST routes (server/api/webhooks.py)."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from server.access import form_or_404, project_or_404
from server.auth.permissions import can, verbs_for
from server.context import audit, db, jobs, settings
from server.models.forms import Form
from server.problems import DeliveryUnderWay
from server.web.i18n import N_, _
from server.webhooks import delivery
from server.webhooks.models import Webhook, WebhookDelivery, deliveries_of, hooks_of, receiver_changed

bp = Blueprint("webhooks", __name__, url_prefix="/projects/<int:project_id>/forms/<xml_form_id>/webhooks")

# Why an address is refused, in the page's language (server/webhooks/delivery.py check_url).
UNSAFE_REASONS = {
    "scheme": N_("it must start with http:// or https:// and name a server"),
    "length": N_("it is longer than 2,000 characters"),
    "host": N_("no server by that name can be found"),
    "private": N_("it is on this server's own network; the administrator must allow that first"),
}
STATUS_LABELS = {"pending": N_("Waiting"), "retrying": N_("Will try again"), "delivered": N_("Delivered"),
                 "failed": N_("Given up after a day")}


def _page(project_id: int, xml_form_id: str, status: int = 200, error: str | None = None, url: str = "",
          new_secret: str | None = None):
    project = project_or_404(project_id)
    form = form_or_404(project_id, xml_form_id, "form.update")
    hooks = hooks_of(db(), form.id)
    return render_template("webhooks.html", project=project, form=form, hooks=hooks,
                           deliveries={h.id: deliveries_of(db(), h.id, 20) for h in hooks},
                           labels=STATUS_LABELS, verbs=verbs_for(db(), g.actor, project_id, form.id), can=can,
                           error=error, url=url, new_secret=new_secret,
                           queued=not jobs().in_process), status


def _hook(project_id: int, xml_form_id: str, hook_id: int) -> Webhook:
    form = form_or_404(project_id, xml_form_id, "form.update")
    hook = db().get(Webhook, hook_id)
    if hook is None or hook.form_id != form.id:
        from flask import abort

        abort(404)
    return hook


@bp.get("")
def page(project_id: int, xml_form_id: str):
    return _page(project_id, xml_form_id)


@bp.post("")
def create(project_id: int, xml_form_id: str):
    form = form_or_404(project_id, xml_form_id, "form.update")
    url = (request.form.get("url") or "").strip()
    try:
        delivery.check_url(url, settings().webhook_allow_private)
    except delivery.UnsafeUrl as exc:
        return _page(project_id, xml_form_id, 400,
                     _("This address cannot be used: %(reason)s.", reason=_(UNSAFE_REASONS[exc.kind])), url)
    hook = Webhook(form_id=form.id, url=url, include_xml=request.form.get("include_xml") == "1",
                   created_by=g.actor.id)
    db().add(hook)
    db().flush()
    audit("webhook.create", form, {"data": {"webhookId": hook.id, "url": url}})
    db().commit()
    flash(_("Added. Every new or corrected submission will be sent to %(url)s.", url=url), "ok")
    return _page(project_id, xml_form_id, new_secret=hook.secret)


@bp.post("/<int:hook_id>/active")
def toggle(project_id: int, xml_form_id: str, hook_id: int):
    hook = _hook(project_id, xml_form_id, hook_id)
    hook.active = request.form.get("active") == "1"
    if hook.active:
        receiver_changed(hook)
    db().commit()
    flash(_("Sending resumed.") if hook.active else _("Sending paused."), "ok")
    return redirect(url_for(".page", project_id=project_id, xml_form_id=xml_form_id))


@bp.post("/<int:hook_id>/delete")
def delete(project_id: int, xml_form_id: str, hook_id: int):
    hook = _hook(project_id, xml_form_id, hook_id)
    audit("webhook.delete", db().get(Form, hook.form_id), {"data": {"webhookId": hook.id, "url": hook.url}})
    db().delete(hook)
    db().commit()
    flash(_("Deleted. Nothing more will be sent to that address."), "ok")
    return redirect(url_for(".page", project_id=project_id, xml_form_id=xml_form_id))


@bp.post("/<int:hook_id>/deliveries/<int:delivery_id>/resend")
def resend(project_id: int, xml_form_id: str, hook_id: int, delivery_id: int):
    hook = _hook(project_id, xml_form_id, hook_id)
    found = db().get(WebhookDelivery, delivery_id)
    if found is None or found.webhook_id != hook.id:
        from flask import abort

        abort(404)
    try:
        delivery.resend(db(), jobs(), found, settings().webhook_per_hook)
    except DeliveryUnderWay:
        flash(_("It is being sent right now. Send it again once the result shows below."), "error")
    else:
        flash(_("Sending again."), "ok")
    return redirect(url_for(".page", project_id=project_id, xml_form_id=xml_form_id))
