"""Indicators of a form over REST: upload the workbook, read results per area as JSON or CSV.

A caller limited to some areas (server/auth/scope.py) gets only those areas and the ones below them;
naming another area is 404."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, jsonify, request

from server import problems
from server.access import caller_area_scope, form_or_404
from server.api.common import commit, is_true, read_body_limited
from server.context import blobs, db, settings
from server.indicators.results import (
    AreaNotVisible,
    ReportError,
    ReportQuery,
    coverage_report,
    follow_up_list,
    report,
    report_body,
)
from server.indicators.tables import follow_up_csv, report_csv
from server.models.areas import registry_codes
from server.models.indicators import indicator_set, upload_workbook
from server.params import EARLIEST_DAY, LATEST_DAY, parse_moment

bp = Blueprint("indicators", __name__, url_prefix="/v1/projects/<int:project_id>/forms/<xml_form_id>")


@bp.put("/indicators")
def put_indicators(project_id: int, xml_form_id: str):
    form = form_or_404(project_id, xml_form_id, "form.update")
    workbook, saved = upload_workbook(db(), blobs(), form, read_body_limited(settings().max_form_bytes))
    commit()
    return {"success": True, "indicators": len(workbook.indicators), "targetSets": sorted(workbook.target_sets()),
            # sets whose `areas` are all outside this project's registry: they apply to none of its areas
            "targetSetsApplyingNowhere": workbook.unplaced_sets(registry_codes(db(), form.project_id) or set()),
            "criteria": len(workbook.criteria), "areaField": workbook.area_field, "generation": saved.generation}


@bp.get("/indicators/definition")
def get_definition(project_id: int, xml_form_id: str):
    form = form_or_404(project_id, xml_form_id, "form.read")
    found = indicator_set(db(), form.id)
    if found is None:
        raise problems.NotFound("This form has no indicators yet.")
    return found.definition


def _date(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return parse_moment(raw)
    except ValueError:
        raise problems.UnexpectedValue(f"'{raw[:40]}' is not a date between {EARLIEST_DAY} and {LATEST_DAY} "
                                       "(use YYYY-MM-DD).", details={"field": name}) from None


def _problem(exc: ReportError) -> problems.Problem:
    if isinstance(exc, AreaNotVisible):
        return problems.NotFound(str(exc), details={"area": request.args.get("area")})
    return problems.UnexpectedValue(str(exc))


def _query(project_id: int) -> ReportQuery:
    try:
        low = float(request.args.get("lowCoverage", "30")) / 100
    except ValueError:
        raise problems.UnexpectedValue("lowCoverage is a percentage, e.g. 30.") from None
    # No targetSet: each area against the set that applies to it; targetSet= (empty): no targets.
    return ReportQuery(target_set=request.args.get("targetSet") or None, level=request.args.get("level") or None,
                       area=request.args.get("area") or None, since=_date("from"), until=_date("to"),
                       include_rejected=is_true(request.args.get("includeRejected")), low_coverage=low,
                       scope=caller_area_scope(project_id), applicable="targetSet" not in request.args)


def _report(project_id: int, xml_form_id: str) -> dict:
    form = form_or_404(project_id, xml_form_id, "submission.read")
    try:
        return report(db(), form, _query(project_id))
    except ReportError as exc:
        raise _problem(exc) from None


@bp.get("/indicators")
def get_indicators(project_id: int, xml_form_id: str):
    form = form_or_404(project_id, xml_form_id, "submission.read")
    try:
        body = report_body(db(), form, _query(project_id), lambda result: jsonify(result).get_data())
    except ReportError as exc:
        raise _problem(exc) from None
    return Response(body, mimetype="application/json")


@bp.get("/indicators.csv")
def get_indicators_csv(project_id: int, xml_form_id: str):
    return _csv_download(report_csv(_report(project_id, xml_form_id)), f"{xml_form_id}-indicators.csv")


@bp.get("/coverage")
def get_coverage(project_id: int, xml_form_id: str):
    form = form_or_404(project_id, xml_form_id, "submission.read")
    q = _query(project_id)
    try:
        return coverage_report(db(), form, q.level, q.area, q.low_coverage, q.include_rejected, scope=q.scope)
    except ReportError as exc:
        raise _problem(exc) from None


def _follow_up(project_id: int, xml_form_id: str) -> dict:
    form = form_or_404(project_id, xml_form_id, "submission.read")
    name = request.args.get("indicator")
    if not name:
        raise problems.MissingParameter("Say which indicator: ?indicator=…", details={"field": "indicator"})
    try:
        return follow_up_list(db(), form, name, request.args.get("area") or None,
                              is_true(request.args.get("includeRejected")), scope=caller_area_scope(project_id))
    except ReportError as exc:
        raise _problem(exc) from None


@bp.get("/follow-up")
def get_follow_up(project_id: int, xml_form_id: str):
    return _follow_up(project_id, xml_form_id)


@bp.get("/follow-up.csv")
def get_follow_up_csv(project_id: int, xml_form_id: str):
    return _csv_download(follow_up_csv(_follow_up(project_id, xml_form_id)), f"{xml_form_id}-follow-up.csv")


def _csv_download(body: str, filename: str) -> Response:
    """A CSV attachment; ?bom=true puts the byte-order mark Excel needs to read it as UTF-8."""
    bom = "\ufeff" if is_true(request.args.get("bom")) else ""
    return Response(bom + body, content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
