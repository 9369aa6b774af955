"""The progress dashboard: coverage and indicators against targets per area, drill-down from the
province to the village, progress per day and per enumerator, a map, and the follow-up lists.

The filters are the REST API's (`targetSet`, `level`, `area`, `from`, `to`, `includeRejected`,
`lowCoverage`, as `GET …/indicators` reads them) plus `indicator` (the one the areas, the map and the
follow-up list show) and the page numbers of the three paged lists. The permission is the API's too:
`submission.read` on the form (project managers and viewers). Figures come from
server/indicators/dashboard.py; charts are SVG placed by charts.py and drawn in templates/charts.html."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from flask import Blueprint, Response, g, redirect, render_template, request, url_for
from sqlalchemy import select

from server import problems
from server.access import caller_area_scope, form_or_404, project_or_404
from server.auth.permissions import can, verbs_for
from server.auth.scope import subtree_codes
from server.context import db, settings
from server.indicators import progress
from server.indicators.dashboard import DashboardQuery, child_level, dashboard, default_target_set, listed_level
from server.indicators.household import household_card
from server.indicators.results import ReportQuery, follow_up_list, report, up_to_date
from server.indicators.tables import follow_up_csv, report_csv
from server.indicators.workbook import Workbook
from server.models.areas import LEVELS, Area, areas_of
from server.models.forms import Form, FormDef, project_forms
from server.models.indicators import IndicatorSet, chosen_target_set, indicator_set, remember_target_set
from server.models.projects import Project
from server.params import parse_moment
from server.web.charts import Place, bar, centroid, columns, crowded, map_view, running
from server.web.i18n import N_, TIMEZONE, _, current_locale
from server.web.paging import page_number, paginate

bp = Blueprint("dashboard", __name__, url_prefix="/projects/<int:project_id>")

AREAS_PER_PAGE, ENUMERATORS_PER_PAGE, FOLLOW_UP_PER_PAGE = 25, 10, 25
MAP_POINTS = 1500


LEVEL_NAMES = {"province": N_("province"), "district": N_("district"), "commune": N_("commune"),
               "village": N_("village")}
LEVELS_PLURAL = {"province": N_("Provinces"), "district": N_("Districts"), "commune": N_("Communes"),
                 "village": N_("Villages")}
# What may be said of a criterion, and of an area against its target set (server/indicators/report.py).
VERDICT_NAMES = {"met": N_("met"), "not_met": N_("not met"), "uncertain": N_("uncertain"),
                 "insufficient_data": N_("not enough data"), "achieved": N_("achieved"),
                 "not_achieved": N_("not achieved")}
STATUS_NAMES = {progress.MEETS: N_("meets it"), progress.PARTLY: N_("some of its people"),
                progress.LACKS: N_("lacks it"), progress.NOT_CONCERNED: N_("not concerned")}


def label(labels: dict | None, fallback: str = "") -> str:
    """A workbook label in the page's language, else Vietnamese, else any, else the name."""
    labels = labels or {}
    return labels.get(current_locale()) or labels.get("vi") or next(iter(labels.values()), None) or fallback


@bp.get("/dashboard")
def index(project_id: int):
    """The forms of the project that have indicators; straight to the dashboard when there is one."""
    project = project_or_404(project_id, "submission.read")
    verbs = verbs_for(db(), g.actor, project.id)
    forms = project_forms(db(), project.id, include_unlisted=True)
    ids = [f.id for f, _def in forms]
    with_indicators = set(db().scalars(select(IndicatorSet.form_id).where(IndicatorSet.form_id.in_(ids)))) if ids else set()
    ready = [(f, d) for f, d in forms if f.id in with_indicators and f.current_def_id]
    if len(ready) == 1:
        return redirect(url_for(".show", project_id=project.id, xml_form_id=ready[0][0].xml_form_id,
                                area=request.args.get("area") or None))
    return render_template("dashboard_index.html", project=project, forms=forms, ready={f.id for f, _d in ready},
                           verbs=verbs, can=can)


def _form(project_id: int, xml_form_id: str) -> tuple[Project, Form, Workbook | None]:
    project = project_or_404(project_id)
    form = form_or_404(project_id, xml_form_id, "submission.read")
    found = indicator_set(db(), form.id)
    return project, form, Workbook.from_json(found.definition) if found else None


def _date(name: str, errors: dict[str, str]) -> datetime | None:
    """`from`/`to` as the API reads them (an ISO date-time, UTC unless it says otherwise), except that a
    bare date — what the page's date pickers send — is a day in Vietnam, as every page shows time:
    `from` starts at its midnight (UTC+7), `to` ends at the next one (the day is included)."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return parse_moment(raw, TIMEZONE, end=name == "to")
    except ValueError:
        errors[name] = _("“%(value)s” is not a date. Use the date picker, or type it as 2026-11-30.", value=raw[:40])
        return None


def _filters(workbook: Workbook, registry: list[Area], scope, form_id: int,
             remember: bool = False) -> tuple[DashboardQuery, dict[str, str], dict[str, str], str]:
    """(the query, the filter values to carry in links, the mistakes to show, where the target set came
    from: "asked", "remembered" or "applicable") from the query string. Without `targetSet`, the page
    judges by the user's last choice for this area, else by the set that applies to it; a `targetSet`
    given is remembered when `remember`. A mistaken filter is left out and said so; another project's
    area code, or one outside the caller's areas (`scope`, server/auth/scope.py), is a 404, as over the API."""
    args = request.args
    errors: dict[str, str] = {}   # filter name: what is wrong with it
    keep: dict[str, str | None] = {}   # filter name: value for links (None: left out of them)
    sets = workbook.target_sets()
    # An official limited to one area sees it as their whole project: its page, titled with its name.
    area = args.get("area") or (next(iter(scope.roots)) if scope is not None and len(scope.roots) == 1 else None)
    _check_visible(area, {a.code for a in registry}, scope)
    origin = "asked"
    target_set = args.get("targetSet") or None
    if "targetSet" in args and (target_set is None or target_set in sets):
        keep["targetSet"] = target_set or ""
        if remember and g.actor is not None and len(target_set or "") <= 128:
            remember_target_set(db(), g.actor.id, form_id, area, target_set or "")
    else:
        if target_set is not None:
            errors["targetSet"] = _("This form has no target set “%(name)s”. Choose one from the list.",
                                    name=target_set)
        saved = chosen_target_set(db(), g.actor.id, form_id, area) if g.actor is not None else None
        if saved is not None and (saved == "" or saved in sets):
            target_set, origin = saved or None, "remembered"
        else:
            target_set = default_target_set(workbook, registry, area, scope.roots if scope is not None else None)
            origin = "applicable"
    level = args.get("level") or None
    if level is not None and level not in LEVELS:
        errors["level"] = _("Choose a level from the list.")
        level = None
    since, until = _date("from", errors), _date("to", errors)
    low = 30.0
    if args.get("lowCoverage"):
        try:
            low = float(args["lowCoverage"].replace(",", "."))
            if not 0 <= low <= 100:
                raise ValueError
        except ValueError:
            errors["lowCoverage"] = _("The low-coverage threshold is a percentage between 0 and 100.")
            low = 30.0
    rejected = _checked(args.get("includeRejected"))
    names = [i.name for i in workbook.indicators]
    indicator = args.get("indicator") or None
    if indicator is not None and indicator not in names:
        errors["indicator"] = _("This form has no indicator “%(name)s”.", name=indicator)
        indicator = None
    keep.update({"level": level, "area": area, "from": None if "from" in errors else args.get("from"),
                 "to": None if "to" in errors else args.get("to"), "indicator": indicator,
                 "includeRejected": "true" if rejected else None,
                 "lowCoverage": args.get("lowCoverage") if args.get("lowCoverage") and "lowCoverage" not in errors else None})
    query = ReportQuery(target_set=target_set, level=level, area=area, since=since, until=until,
                        include_rejected=rejected, low_coverage=low / 100, scope=scope)
    return DashboardQuery(query, indicator, MAP_POINTS), {k: v for k, v in keep.items() if v is not None}, errors, \
        origin


def _check_visible(area: str | None, codes: set[str], scope) -> None:
    """404 for an area that is not in the registry or not among the caller's areas."""
    if area is not None and (area not in codes or (scope is not None and area not in scope)):
        raise problems.NotFound()


def _checked(value: str | None) -> bool:
    """A checkbox or flag in the query string."""
    return value in ("true", "1", "on")


@bp.get("/forms/<xml_form_id>/dashboard")
def show(project_id: int, xml_form_id: str):
    project, form, workbook = _form(project_id, xml_form_id)
    verbs = verbs_for(db(), g.actor, project.id, form.id)
    title = db().scalar(select(FormDef.name).where(FormDef.id == form.current_def_id)) if form.current_def_id else None
    if workbook is None:
        return render_template("dashboard.html", project=project, form=form, title=title, verbs=verbs, can=can,
                               d=None)
    registry = areas_of(db(), project.id)
    level_of = {a.code: a.level for a in registry}
    scope = caller_area_scope(project.id)
    query, keep, errors, origin = _filters(workbook, registry, scope, form.id, remember=True)
    db().commit()     # the target set chosen, if any
    # A limited official's "whole project" is their areas: the page is titled with their names.
    whole = ", ".join(a.name for a in registry if a.code in scope.roots) if scope is not None else project.name
    d = dashboard(db(), form, workbook, query, whole or project.name)

    pages = {k: request.args[k] for k in ("page", "epage", "fpage") if request.args.get(k)}
    rejected = 0 if query.report.include_rejected else _rejected(form, workbook, query.report, scope)
    as_of = progress.latest_received(db(), form.id, workbook, _codes(form, query.report, scope),
                                     query.report.include_rejected, query.report.since, query.report.until)

    def here(**changes) -> str:
        """This page's URL with some filters or page numbers changed (None removes one)."""
        args = {**keep, **pages, **changes}
        return url_for(".show", project_id=project.id, xml_form_id=form.xml_form_id,
                       **{k: v for k, v in args.items() if v is not None and (v != "" or k == "targetSet")})

    def drill(code: str) -> str:
        """An area's own dashboard, listing the level below it (its villages' follow-up lists below those)."""
        return here(area=code, level=child_level(level_of.get(code)) if code in d.has_children else None,
                    page=None, epage=None, fpage=None)

    rows = paginate(d.rows, page_number(request.args.get("page")), AREAS_PER_PAGE)
    enumerators = paginate(d.progress["byEnumerator"], page_number(request.args.get("epage")), ENUMERATORS_PER_PAGE)
    follow = paginate(d.follow_up["households"], page_number(request.args.get("fpage")), FOLLOW_UP_PER_PAGE) \
        if d.follow_up is not None else None
    names = {i["name"]: i for i in d.indicators}
    status_counts: dict[str, int] = {}
    for p in d.points.points:
        status_counts[p.status] = status_counts.get(p.status, 0) + 1
    end = last_day(query.report.until)
    marks, labels, marked = map_places(d.points.points, registry, d.area, d.progress["byArea"])
    last_visits = last_visit_of(d.rows, registry, d.progress["lastByArea"])
    return render_template(
        "dashboard.html", project=project, form=form, title=title, verbs=verbs, can=can, d=d, workbook=workbook,
        errors=errors, keep=keep, here=here, drill=drill, rows=rows, enumerators=enumerators, follow=follow,
        indicator_names=names, label=label, bar=bar, days=columns(d.progress["byDay"], end=end),
        so_far=running(d.progress["byDay"], d.area.get("expectedHouseholds"), end=end), today=end,
        now_day=datetime.now(TIMEZONE).date(), mark_level=marked,
        last_visit=date.fromisoformat(d.progress["byDay"][-1]["date"]) if d.progress["byDay"] else None,
        last_visits=last_visits, submissions_of=submissions_of(project.id, form.xml_form_id, query.report.area),
        view=map_view(d.points.points, settings().map_tiles, marks=marks, labels=labels),
        map_attribution=settings().map_attribution,
        status_counts=status_counts, status_names=STATUS_NAMES, level_names=LEVEL_NAMES,
        levels_plural=LEVELS_PLURAL, levels=LEVELS, target_sets=workbook.target_sets(), target_origin=origin,
        verdict_names=VERDICT_NAMES, chosen=names.get(d.indicator), rejected=rejected,
        own_area=scope is not None and len(scope.roots) == 1, as_of=as_of), 400 if errors else 200


def _codes(form: Form, query: ReportQuery, scope) -> set[str] | None:
    """The area codes of the area shown, within the caller's areas (None: the whole project)."""
    codes = subtree_codes(db(), form.project_id, [query.area]) if query.area else None
    if scope is not None:
        codes = scope.narrow(codes)
    return set(codes) if codes is not None else None


def last_day(until: datetime | None) -> date:
    """The last day progress is drawn to: today in Vietnam, or the last day asked for when earlier."""
    today = datetime.now(TIMEZONE).date()
    if until is None:
        return today
    return min(today, (until.astimezone(TIMEZONE) - timedelta(microseconds=1)).date())


def _lineage(registry: list[Area]) -> dict[str, dict[str, str]]:
    """Each area's code at every level above it, itself included: {code: {level: code}}."""
    by_code = {a.code: a for a in registry}
    return {a.code: {by_code[c].level: c for c in a.path.split("/") if c in by_code} for a in registry}


def map_places(points: list, registry: list[Area], area: dict, households: dict[str, int]) \
        -> tuple[list[Place] | None, list[Place], str | None]:
    """(marks, labels, the marks' level) for the map. A village shows its households' dots with its
    name; above it, one mark per area where its households are (the centroid of the points drawn),
    sized by all its households counted (`households`: per area code, `byArea`) — per village when
    they can be told apart, else per commune, district or province: the finest level whose marks do
    not pile up, so a project spread over provinces is a few readable marks, not specks in a wide box."""
    if not points:
        return None, [], None
    lineage, names = _lineage(registry), {a.code: a.name for a in registry}
    if area.get("level") == "village":
        return None, [Place(area["code"], area["name"], *centroid(points))], None
    below = LEVELS[LEVELS.index(area["level"]) + 1:] if area.get("level") in LEVELS else LEVELS
    marks: list[Place] = []
    for level in reversed(below):
        groups: dict[str, list] = {}
        for p in points:
            code = lineage.get(p.area, {}).get(level)
            if code is not None:
                groups.setdefault(code, []).append(p)
        counts: dict[str, int] = {}
        for code, n in households.items():
            up = lineage.get(code, {}).get(level)
            if up is not None:
                counts[up] = counts.get(up, 0) + n
        marks = [Place(code, names[code], *centroid(found), households=counts.get(code, len(found)))
                 for code, found in groups.items()]
        if not crowded(marks):
            return marks or None, [], level
    return marks or None, [], below[0] if below else None


def last_visit_of(rows: list[dict], registry: list[Area], last: dict[str, str]) -> dict[str, date]:
    """The last day with a visit of each area listed (of its villages, for a commune)."""
    lineage = _lineage(registry)
    listed = {r["code"] for r in rows}
    out: dict[str, date] = {}
    for code, day in last.items():
        for up in lineage.get(code, {}).values():
            if up in listed:
                d = date.fromisoformat(day)
                if up not in out or d > out[up]:
                    out[up] = d
    return out


def submissions_of(project_id: int, xml_form_id: str, area: str | None):
    """The submissions page filtered to one enumerator (and the area shown), for their row's link."""
    def link(submitter_id: int | None) -> str | None:
        if submitter_id is None:
            return None
        return url_for("web.submissions.table", project_id=project_id, xml_form_id=xml_form_id,
                       submitter=submitter_id, area=area or None)
    return link


def _rejected(form: Form, workbook: Workbook, query: ReportQuery, scope) -> int:
    """The rejected households of the area shown (within the caller's areas), which the counts leave out."""
    return progress.rejected_households(db(), form.id, workbook, _codes(form, query, scope), query.since, query.until)


@bp.get("/forms/<xml_form_id>/dashboard/households/<int:submission_id>")
def household(project_id: int, xml_form_id: str, submission_id: int):
    """A household of the map: its head, phone, address, what it lacks of the target set, and a link to
    its submission. `part=1`: the card alone, which dashboard.js shows under the map when a dot is
    tapped; otherwise a small page of its own (without JavaScript the dot's link leads here).
    `targetSet` as on the dashboard (empty: every indicator); without it, the one the household's
    village page would judge by. A household outside the caller's areas is a 404, as its submission is."""
    project, form, workbook = _form(project_id, xml_form_id)
    if workbook is None:
        raise problems.NotFound()
    workbook = up_to_date(db(), form)
    scope = caller_area_scope(project.id)
    asked = request.args.get("targetSet")
    sets = workbook.target_sets()
    target_set = asked if asked in sets else None
    card = household_card(db(), form.id, workbook, submission_id, target_set)
    if card is None or (scope is not None and card.area not in scope):
        raise problems.NotFound()
    registry = areas_of(db(), project.id)
    if asked is None:
        saved = chosen_target_set(db(), g.actor.id, form.id, card.area) if g.actor is not None else None
        target_set = (saved or None) if saved is not None and (saved == "" or saved in sets) else \
            default_target_set(workbook, registry, card.area)
        card = household_card(db(), form.id, workbook, submission_id, target_set)
        assert card is not None
    village = next((a for a in registry if a.code == card.area), None)
    context = dict(project=project, form=form, card=card, village=village, label=label,
                   target_set=label(sets[target_set], target_set) if target_set else None,
                   back=url_for(".show", project_id=project.id, xml_form_id=form.xml_form_id,
                                area=village.code if village is not None and (scope is None or village.code in scope)
                                else None))
    if request.args.get("part") == "1":
        return render_template("dashboard_household_card.html", **context)
    return render_template("dashboard_household.html", **context)


def _csv(body: str, filename: str) -> Response:
    # Excel opens UTF-8 CSV correctly only with a BOM (Hòa Phước, not HÃ²a PhÆ°á»›c).
    return Response("\ufeff" + body, content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/forms/<xml_form_id>/dashboard/follow-up.csv")
def follow_up_download(project_id: int, xml_form_id: str):
    """The API's …/follow-up.csv?bom=true, for the page's signed-in user (the API takes no cookie)."""
    project, form, workbook = _form(project_id, xml_form_id)
    if workbook is None:
        raise problems.NotFound()
    area = request.args.get("area") or None
    scope = caller_area_scope(project.id)
    _check_visible(area, {a.code for a in areas_of(db(), project.id)}, scope)
    indicator = request.args.get("indicator") or ""
    if indicator not in {i.name for i in workbook.indicators}:
        raise problems.NotFound()
    result = follow_up_list(db(), form, indicator, area, _checked(request.args.get("includeRejected")), scope=scope)
    return _csv(follow_up_csv(result), f"{form.xml_form_id}-{area or 'all'}-{indicator}-follow-up.csv")


@bp.get("/forms/<xml_form_id>/dashboard/indicators.csv")
def indicators_download(project_id: int, xml_form_id: str):
    """The API's …/indicators.csv?bom=true for the dashboard's filters: the areas it lists."""
    project, form, workbook = _form(project_id, xml_form_id)
    if workbook is None:
        raise problems.NotFound()
    registry = areas_of(db(), project.id)
    level_of = {a.code: a.level for a in registry}
    query, _keep, errors, _origin = _filters(workbook, registry, caller_area_scope(project.id), form.id)
    if errors:
        raise problems.UnexpectedValue()
    area_level = level_of.get(query.report.area) if query.report.area is not None else None
    result = report(db(), form, replace(query.report, level=None))
    level = query.report.level or listed_level(result["areas"], area_level)
    result = {**result, "level": level, "areas": [a for a in result["areas"] if a["level"] == level]}
    return _csv(report_csv(result), f"{form.xml_form_id}-{query.report.area or 'all'}-indicators.csv")
