"""The area registry over REST: PUT a CSV or XLSX, GET it back as JSON or CSV."""
from __future__ import annotations

from flask import Blueprint, Response

from server import problems
from server.access import project_or_404
from server.api.common import commit, read_body_limited
from server.context import blobs, db, settings
from server.models import areas as registry

bp = Blueprint("areas", __name__, url_prefix="/v1/projects/<int:project_id>")


def load(project_id: int, data: bytes) -> dict:
    try:
        rows = registry.parse_registry(data)
    except registry.RegistryInvalid as exc:
        first = exc.errors[0]
        where = f"row {first['row']}, column '{first['column']}': " if first.get("row") else ""
        raise problems.AreaRegistryInvalid(
            f"The area registry has {len(exc.errors)} problem(s); nothing was changed. First: {where}{first['message']}",
            details={"errors": exc.errors}) from None
    count = registry.replace_registry(db(), project_id, rows)
    forms = registry.sync_form_media(db(), blobs(), project_id)
    return {"success": True, "areas": count, "formsUpdated": forms}


@bp.put("/areas")
def put_areas(project_id: int):
    project_or_404(project_id, "project.update")
    result = load(project_id, read_body_limited(settings().max_form_bytes))
    commit()
    return result


@bp.get("/areas")
def get_areas(project_id: int):
    project_or_404(project_id, "project.read")
    areas = registry.areas_of(db(), project_id)
    return [{"code": a.code, "name": a.name, "level": a.level, "parent": a.parent_code,
             "expectedHouseholds": a.expected_households, "expectedResidents": a.expected_residents} for a in areas]


@bp.get("/areas.csv")
def get_areas_csv(project_id: int):
    project_or_404(project_id, "project.read")
    return Response(registry.as_media_csv(registry.areas_of(db(), project_id)), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="areas.csv"'})
