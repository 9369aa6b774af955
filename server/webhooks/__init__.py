"""Webhooks (KoboToolbox's "REST services"): each new or edited submission of a form is POSTed as
JSON to the URLs its managers configured, signed, retried with backoff for a day, and logged
(docs/webhooks.md)."""
