"""OData v4 feeds of a form's submissions, as ODK Central serves them (odk-protocol §7.3): what
pyodk's `submissions.get_table()` reads, and what Excel and Power BI open with "From OData Feed".

    GET /v1/projects/{p}/forms/{f}.svc                               service document
    GET /v1/projects/{p}/forms/{f}.svc/$metadata                     EDMX
    GET /v1/projects/{p}/forms/{f}.svc/Submissions[.group.repeat]    data documents
    GET /v1/projects/{p}/forms/{f}.svc/Submissions('uuid:…')[/group/repeat[('id')/…]]
    GET /v1/projects/{p}/datasets/{name}.svc[/$metadata|/Entities]  an Entity List (odata/entities.py)
    GET /v1/projects/{p}/forms/{f}/draft.svc[…]                      the draft's test submissions, alike

Readable by whoever may read the form's submissions (`submission.read`: project managers and
viewers, site administrators), with a session token or, over https, Basic email and password. A
caller limited to some areas reads only their households (server/auth/scope.py)."""
from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from urllib.parse import parse_qsl, quote

from flask import Blueprint, Response, current_app, g, request
from sqlalchemy.orm import Session

from server import finite_json, problems
from server.access import entities_scope, form_or_404, readable_form, submission_scope
from server.auth.permissions import require
from server.context import audit, cache, db
from server.models.datasets import properties_of
from server.odata import entities as odata_entities
from server.odata import rows as odata_rows
from server.odata.documents import edmx, service_document
from server.odata.query import check_options, parse_query
from server.openrosa.routes import public_base

bp = Blueprint("odata", __name__, url_prefix="/v1/projects/<int:project_id>/forms/<xml_form_id>.svc")
# The same routes once more for the draft's test submissions (models/draft_tests.py), as Central has them.
DRAFT_BLUEPRINT = "odata_draft"
DRAFT_PREFIX = "/v1/projects/<int:project_id>/forms/<xml_form_id>/draft.svc"


def _draft() -> bool:
    return request.blueprint == DRAFT_BLUEPRINT

JSON_TYPE = "application/json; charset=utf-8; odata.metadata=minimal"
_ENTITY_SEGMENT = re.compile(r"^([^(]+)\('(.*)'\)$", re.S)
_JSON_FORMAT = re.compile(r"(^|,)(application/json|json)($|;|,)", re.I)
_XML_FORMAT = re.compile(r"(^|,)(application/(atom(svc)?\+)?xml|atom|xml)($|;|,)", re.I)


def _dumps(value) -> str:
    return finite_json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _json(body: dict) -> Response:
    return Response(_dumps(body), content_type=JSON_TYPE)


def _preflight(fmt: str) -> None:
    """Central's OData preprocessor: the response format, OData-MaxVersion, the query options."""
    asked = request.args.get("$format")
    accept = asked if asked else request.headers.get("Accept", "")
    wants_json, wants_xml = bool(_JSON_FORMAT.search(accept)), bool(_XML_FORMAT.search(accept))
    # Only a request for the other format alone is refused (clients such as Power BI accept both).
    if (fmt == "json" and wants_xml and not wants_json) or (fmt == "xml" and wants_json and not wants_xml):
        raise problems.NotAcceptable(f"Requested format not acceptable: {accept}",
                                     details={"allowed": ["application/json", "json"] if fmt == "json"
                                              else ["application/xml", "atom"], "got": accept})
    max_version = request.headers.get("OData-MaxVersion")
    if max_version:
        try:
            too_old = float(max_version) < 4.0
        except ValueError:
            too_old = False
        if too_old:
            raise problems.NotFound("This server speaks OData 4.0 only.")
    check_options(request.args)


def _form(project_id: int, xml_form_id: str):
    if _draft():   # who may read the form's submissions may read its test submissions
        form = form_or_404(project_id, xml_form_id, "submission.read")
        if form.draft_def_id is None:
            raise problems.NotFound(f"Form '{xml_form_id}' has no draft.")
        return form
    form, _ = readable_form(project_id, xml_form_id)
    require(db(), g.actor, project_id, "submission.read", form_id=form.id)
    return form


def _raw_path() -> str | None:
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    return raw.split("?", 1)[0] if raw else None


def _service_root(project_id: int, xml_form_id: str) -> str:
    """The absolute URL of `….svc` as the client wrote it (Central echoes the request's own path)."""
    raw = _raw_path()
    base = public_base() + request.script_root
    if raw:
        at = raw.find(".svc/")
        if at < 0 and raw.endswith(".svc"):
            at = len(raw) - 4
        if at >= 0:
            return base + raw[:at + 4]
    prefix = request.environ.get("hamlet.prefix", "/v1")
    return f"{base}{prefix}/projects/{project_id}/forms/{quote(xml_form_id, safe='')}{'/draft' if _draft() else ''}.svc"


def _request_url(service_root: str, rest: str) -> str:
    raw = _raw_path()
    if raw:
        at = raw.find(".svc/")
        if at >= 0:
            return service_root + raw[at + 4:]
    return f"{service_root}/{quote(rest, safe=chr(39) + '()/$,:')}"


def _query_pairs() -> list[tuple[str, str]]:
    return parse_qsl(request.query_string.decode("latin-1"), keep_blank_values=True)


@bp.after_request
def _odata_headers(resp: Response) -> Response:
    resp.headers["OData-Version"] = "4.0"
    if resp.status_code == 401 and request.is_secure:
        # Excel and Power BI then ask for the account's email and password.
        resp.headers.setdefault("WWW-Authenticate", 'Basic realm="Hamlet", charset="UTF-8"')
    return resp


@bp.errorhandler(problems.Problem)
def _odata_problem(prob: problems.Problem):
    if request.endpoint in ("odata.metadata", f"{DRAFT_BLUEPRINT}.metadata"):
        from xml.sax.saxutils import escape

        details = "" if prob.details is None else escape(_dumps(prob.details))
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<error code="{escape(prob.code)}">\n'
                f"  <message>{escape(prob.message)}</message>\n  <details>{details}</details>\n</error>")
        return Response(body, status=prob.status, content_type="text/xml; charset=utf-8")
    return problems.render(prob)


@bp.get("")
def service(project_id: int, xml_form_id: str):
    _preflight("json")
    form = _form(project_id, xml_form_id)
    view, _ = odata_rows.form_view_of(db(), form, cache(), _draft())
    return _json(service_document(view, _service_root(project_id, xml_form_id)))


@bp.get("/$metadata", endpoint="metadata")
def metadata(project_id: int, xml_form_id: str):
    _preflight("xml")
    form = _form(project_id, xml_form_id)
    view, _ = odata_rows.form_view_of(db(), form, cache(), _draft())
    return Response(edmx(view), content_type="application/xml; charset=utf-8")


@bp.get("/<path:rest>")
def data(project_id: int, xml_form_id: str, rest: str):
    _preflight("json")
    form = _form(project_id, xml_form_id)
    scope = submission_scope(form)
    root = _service_root(project_id, xml_form_id)
    url, args = _request_url(root, rest), _query_pairs()
    if "(" in rest or "/" in rest:
        segments = []
        for part in rest.split("/"):
            m = _ENTITY_SEGMENT.match(part)
            segments.append((m.group(1), m.group(2)) if m else (part, None))
        found = _json(odata_rows.entity_document(db(), form, segments, request.args, cache=cache(),
                                                 service_root=root, url=url, args=args, scope=scope,
                                                 draft=_draft()))
    else:
        query = parse_query(request.args)
        if query.top is not None:
            plan = odata_rows.make_plan(db(), form, rest, query, cache=cache(), service_root=root, scope=scope,
                                        draft=_draft())
            found = _json(odata_rows.document(plan, url, args))
        else:
            found = _stream(form, rest, query, root, scope)
    # One entry per data request (pyodk's get_table is one; Excel's paging one per page), written once the
    # query was accepted; the service document and $metadata hold no answers and are not recorded.
    audit("form.submission.export", form, {"format": "odata", "table": rest.split("(", 1)[0]})
    db().commit()
    return found


def _own_session() -> tuple[Session, Callable[[], None]]:
    """A session on a connection of its own (one snapshot on PostgreSQL), for a response streamed after
    the request's session is gone, and how to close both."""
    engine = current_app.extensions["hamlet.engine"]
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    session = Session(bind=conn)

    def close() -> None:
        session.close()
        conn.close()

    return session, close


def _stream(form, table: str, query, root: str, scope=None) -> Response:
    """A whole table (no `$top`): written as it is read, a batch of submissions at a time, so a
    100,000-household table never sits in memory. The read has its own connection (one snapshot
    on PostgreSQL), which lives as long as the response does."""
    session, close = _own_session()
    try:
        plan = odata_rows.make_plan(session, form, table, query, cache=cache(), service_root=root, scope=scope,
                                    draft=_draft())
        total = odata_rows.count(plan) if query.count else None
        found = odata_rows.rows(plan)
        first = next(found, None)  # errors (a stale $skiptoken…) surface before the 200 is sent
    except Exception:
        close()
        raise
    objects = itertools.chain([first[0]] if first is not None else [], (obj for obj, _ in found))
    return Response(_value_document(objects, odata_rows.context_url(plan), total, close), content_type=JSON_TYPE)


def _value_document(objects: Iterator[dict], context: str, total: int | None, close) -> Iterator[str]:
    """`{"value":[…],"@odata.context":…,"@odata.count":…}` written as the objects are read, 500 a chunk;
    `close` ends the connection they are read from, however the response ends."""
    tail = "]," + '"@odata.context":' + _dumps(context)
    if total is not None:
        tail += f',"@odata.count":{total}'
    tail += "}"
    try:
        chunk, first = ['{"value":['], True
        for obj in objects:
            chunk.append(("" if first else ",") + _dumps(obj))
            first = False
            if len(chunk) >= 500:
                yield "".join(chunk)
                chunk = []
        chunk.append(tail)
        yield "".join(chunk)
    finally:
        close()


# --- an Entity List's service (server/odata/entities.py) ---------------------------------------------

entities_bp = Blueprint("odata_entities", __name__, url_prefix="/v1/projects/<int:project_id>/datasets/<name>.svc")
entities_bp.after_request(_odata_headers)


@entities_bp.errorhandler(problems.Problem)
def _entities_problem(prob: problems.Problem):
    return problems.render(prob)


def _dataset(project_id: int, name: str):
    """The list and the caller's scope over its entities, once the caller may read them: 403 for a
    caller limited to areas when the list has no area property (server/auth/scope.py entity_scope), as
    on every entity route."""
    from server.api.common import project_or_404
    from server.models.datasets import dataset_by_name

    project_or_404(project_id, "entity.list")
    dataset = dataset_by_name(db(), project_id, name)
    if dataset is None:
        raise problems.NotFound(f"There is no Entity List '{name}' in project {project_id}.")
    return dataset, entities_scope(dataset)


def _dataset_root(project_id: int, name: str) -> str:
    raw = _raw_path()
    base = public_base() + request.script_root
    if raw and ".svc" in raw:
        return base + raw[:raw.find(".svc") + 4]
    prefix = request.environ.get("hamlet.prefix", "/v1")
    return f"{base}{prefix}/projects/{project_id}/datasets/{quote(name, safe='')}.svc"


@entities_bp.get("")
def entities_service(project_id: int, name: str):
    _preflight("json")
    _dataset(project_id, name)  # the caller may read it
    return _json(odata_entities.service_document(_dataset_root(project_id, name)))


@entities_bp.get("/$metadata")
def entities_metadata(project_id: int, name: str):
    _preflight("xml")
    dataset, _scope = _dataset(project_id, name)
    props = [p.name for p in properties_of(db(), dataset.id)]
    return Response(odata_entities.edmx(dataset.name, props), content_type="application/xml; charset=utf-8")


@entities_bp.get("/Entities")
def entities_rows(project_id: int, name: str):
    _preflight("json")
    dataset, scope = _dataset(project_id, name)
    query = parse_query(request.args)
    if request.args.get("$search") is not None:
        raise problems.NotImplementedYet("The requested feature $search is not supported by this server.",
                                         details={"feature": "$search"})
    root = _dataset_root(project_id, name)
    url = _request_url(root, "Entities")
    if request.query_string and "?" not in url:
        url += "?" + request.query_string.decode("latin-1")
    plan = odata_entities.make_plan(db(), dataset, query, scope)
    total = odata_entities.count(db(), plan) if query.count else None
    found = list(odata_entities.rows(db(), plan)) if query.top is not None else None
    if found is not None:  # one page: small, and its next link needs the last row
        link = odata_entities.next_link(db(), plan, found[-1][1] if found else None, url)
        body: dict = {"value": [r for r, _ in found], "@odata.context": f"{root}/$metadata#Entities"}
        if link:
            body["@odata.nextLink"] = link
        if total is not None:
            body["@odata.count"] = total
        return _json(body)
    return _stream_entities(plan, root, total)


def _stream_entities(plan: odata_entities.EntityPlan, root: str, total: int | None) -> Response:
    """The whole list (no `$top`), written as it is read from its own connection, as `_stream` does;
    the plan's statement is plain SQL, so the request's plan is run there as it is."""
    session, close = _own_session()
    objects = (obj for obj, _ in odata_entities.rows(session, plan))
    return Response(_value_document(objects, f"{root}/$metadata#Entities", total, close), content_type=JSON_TYPE)
