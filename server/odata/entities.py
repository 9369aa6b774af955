"""The OData service of an Entity List, as Central serves it (odk-protocol §11; central-backend
lib/resources/odata-entities.js): what pyodk's `entities.get_table()` and `merge()` read.

    GET /v1/projects/{p}/datasets/{name}.svc                 service document (one set, `Entities`)
    GET /v1/projects/{p}/datasets/{name}.svc/$metadata       EDMX: `__id`, `__system`, `label`, properties
    GET /v1/projects/{p}/datasets/{name}.svc/Entities        rows, newest first

Rows carry `__id`, `label`, `__system {createdAt, creatorId, creatorName, updates, updatedAt,
deletedAt, version, conflict}` and every property as a string ('' when unset). `$filter` reads the
`__system` fields Central maps (plus `__system/version`, Hamlet's); the parser, its refusals and
its codes are server/odata/filter.py's. `$top` pages with `@odata.nextLink`, whose `$skiptoken`
carries the last row's UUID, as Central's does."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from server import problems
from server.db import isoformat
from server.models.accounts import Actor
from server.models.datasets import Dataset, properties_of
from server.models.entities import UNLIMITED, Entity, EntityScope, EntityVersion
from server.odata import filter as odata_filter
from server.odata.query import ODataQuery, make_skiptoken
from server.odata.schema import sanitize

ENTITIES = Entity.__table__
ROOT_PREFIX = "$root/Entities/"
# OData name → (column, kind), Central's odataToColumnMap for entities, and `__system/version`.
FIELDS = {
    "__id": (ENTITIES.c.uuid, "string"),
    "__system/createdAt": (ENTITIES.c.created_at, "datetime"),
    "__system/updatedAt": (ENTITIES.c.updated_at, "datetime"),
    "__system/deletedAt": (ENTITIES.c.deleted_at, "datetime"),
    "__system/creatorId": (ENTITIES.c.creator_id, "int"),
    "__system/conflict": (ENTITIES.c.conflict, "string"),
    "__system/version": (ENTITIES.c.version, "int"),
}
_DELETED_AT = ("__system/deletedAt", ROOT_PREFIX + "__system/deletedAt")
SYSTEM = ("createdAt", "creatorId", "creatorName", "updates", "updatedAt", "deletedAt", "version", "conflict")


def service_document(service_root: str) -> dict:
    return {"@odata.context": f"{service_root}/$metadata",
            "value": [{"name": "Entities", "kind": "EntitySet", "url": "Entities"}]}


def edmx(dataset_name: str, property_names: list[str]) -> str:
    """The EDMX of the list: every property is an Edm.String, as in Central."""
    fqdn = f"org.opendatakit.user.{sanitize(dataset_name)}"
    props = [sanitize(n) for n in property_names]
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n',
           '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">\n',
           "  <edmx:DataServices>\n",
           '    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="org.opendatakit.entity">\n',
           '      <ComplexType Name="metadata">\n']
    types = {"createdAt": "Edm.DateTimeOffset", "updates": "Edm.Int64", "updatedAt": "Edm.DateTimeOffset",
             "deletedAt": "Edm.DateTimeOffset", "version": "Edm.Int64"}
    out += [f'        <Property Name="{n}" Type="{types.get(n, "Edm.String")}"/>\n' for n in SYSTEM]
    out += ["      </ComplexType>\n", "    </Schema>\n",
            f'    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="{fqdn}">\n',
            '      <EntityType Name="Entities">\n',
            '        <Key><PropertyRef Name="__id"/></Key>\n',
            '        <Property Name="__id" Type="Edm.String"/>\n',
            '        <Property Name="__system" Type="org.opendatakit.entity.metadata"/>\n',
            '        <Property Name="label" Type="Edm.String"/>\n']
    out += [f'        <Property Name="{escape(p)}" Type="Edm.String"/>\n' for p in props]
    out += ["      </EntityType>\n", f"      <EntityContainer Name={quoteattr(dataset_name)}>\n",
            f'        <EntitySet Name="Entities" EntityType="{fqdn}.Entities">\n',
            '          <Annotation Term="Org.OData.Capabilities.V1.ConformanceLevel" '
            'EnumMember="Org.OData.Capabilities.V1.ConformanceLevelType/Minimal"/>\n',
            '          <Annotation Term="Org.OData.Capabilities.V1.BatchSupported" Bool="false"/>\n',
            '          <Annotation Term="Org.OData.Capabilities.V1.CountRestrictions">\n'
            '            <Record><PropertyValue Property="Countable" Bool="true"/></Record>\n'
            "          </Annotation>\n",
            '          <Annotation Term="Org.OData.Capabilities.V1.FilterFunctions">\n'
            "            <Record>\n"
            '              <PropertyValue Property="Filterable" Bool="true"/>\n'
            '              <PropertyValue Property="RequiresFilter" Bool="false"/>\n'
            '              <PropertyValue Property="NonFilterableProperties">\n'
            "                <Collection>\n"]
    out += [f"                  <PropertyPath>{escape(p)}</PropertyPath>\n" for p in props]
    out += ["                </Collection>\n              </PropertyValue>\n            </Record>\n          </Annotation>\n",
            '          <Annotation Term="Org.OData.Capabilities.V1.SortRestrictions">\n'
            '            <Record><PropertyValue Property="Sortable" Bool="false"/></Record>\n'
            "          </Annotation>\n",
            '          <Annotation Term="Org.OData.Capabilities.V1.ExpandRestrictions">\n'
            '            <Record><PropertyValue Property="Expandable" Bool="false"/></Record>\n'
            "          </Annotation>\n",
            "        </EntitySet>\n      </EntityContainer>\n    </Schema>\n  </edmx:DataServices>\n</edmx:Edmx>"]
    return "".join(out)


# --- the rows --------------------------------------------------------------------------------------

def entity_filter(text: str | None):
    """`$filter` over entities, with Central's rule that deleted entities are left out unless the
    filter itself speaks of `__system/deletedAt`."""
    clause = odata_filter.compile_filter(text, FIELDS, ROOT_PREFIX)
    if not odata_filter.references(text, _DELETED_AT):
        clause = clause & ENTITIES.c.deleted_at.is_(None)
    return clause


def _selection(query: ODataQuery, names: list[str]) -> set[str] | None:
    """The `$select`ed names (None: all); 400.23 for a name the list does not have, as Central."""
    if query.select is None:
        return None
    known = set(names) | set(FIELDS) | {"__id", "__system", "label"}
    known |= {f"__system/{n}" for n in SYSTEM}
    for name in query.select:
        if name not in known:
            raise problems.ODataPropertyNotFound(f"Could not find a property named '{name}'",
                                                 details={"property": name})
    return set(query.select)


@dataclass
class EntityPlan:
    dataset: Dataset
    properties: list[str]
    query: ODataQuery
    selected: set[str] | None
    stmt: Select
    base: Select     # filtered, without paging (for $count and what remains)


def make_plan(db: Session, dataset: Dataset, query: ODataQuery, scope: EntityScope = UNLIMITED) -> EntityPlan:
    """The rows `query` asks for, among the entities in the caller's `scope` only (server/auth/scope.py):
    pages, `@odata.count` and skiptokens alike."""
    if query.orderby is not None and query.skiptoken is not None:
        raise problems.NotImplementedYet("The requested feature using $orderby and $skiptoken together is not "
                                         "supported by this server.",
                                         details={"feature": "using $orderby and $skiptoken together"})
    names = [p.name for p in properties_of(db, dataset.id)]
    selected = _selection(query, names)
    where = (Entity.dataset_id == dataset.id) & entity_filter(query.filter) & scope.clause(joined=True)
    base = (select(Entity, EntityVersion, Actor.display_name)
            .join(EntityVersion, (EntityVersion.entity_id == Entity.id) & (EntityVersion.version == Entity.version))
            .outerjoin(Actor, Actor.id == Entity.creator_id).where(where))
    stmt = base
    if query.skiptoken is not None:
        uuid = query.skiptoken.get("uuid")
        cursor = db.scalar(select(Entity.id).where(Entity.dataset_id == dataset.id, Entity.uuid == uuid,
                                                   scope.clause())) \
            if isinstance(uuid, str) else None
        if cursor is None:
            raise problems.ODataSkiptokenNotFound()
        stmt = stmt.where(Entity.id < cursor)
    if query.orderby:
        spec = odata_filter.order_spec(query.orderby, FIELDS, ROOT_PREFIX, tiebreak=ENTITIES.c.id)
        stmt = stmt.order_by(*(odata_filter.order_clause(col, desc) for col, desc in spec))
    else:
        stmt = stmt.order_by(Entity.id.desc())  # newest first (Central: createdAt desc, id desc)
    if query.skiptoken is None and query.skip:
        stmt = stmt.offset(query.skip)
    if query.top is not None:
        stmt = stmt.limit(query.top)
    return EntityPlan(dataset, names, query, selected, stmt, base)


def row(entity: Entity, version: EntityVersion, creator_name: str | None, properties: list[str],
        selected: set[str] | None) -> dict[str, Any]:
    """One entity as Central's OData row (selectFields in lib/data/entity.js)."""
    out: dict[str, Any] = {}
    if selected is None or "__id" in selected:
        out["__id"] = entity.uuid
    if selected is None or "label" in selected:
        out["label"] = version.label
    system = {"createdAt": isoformat(entity.created_at),
              "creatorId": None if entity.creator_id is None else str(entity.creator_id),
              "creatorName": creator_name, "updates": entity.version - 1, "updatedAt": isoformat(entity.updated_at),
              "deletedAt": isoformat(entity.deleted_at), "version": version.version, "conflict": entity.conflict}
    if selected is None or "__system" in selected:
        out["__system"] = system
    else:
        chosen = {n: system[n] for n in SYSTEM if f"__system/{n}" in selected}
        if chosen:
            out["__system"] = chosen
    for name in properties:
        if selected is None or name in selected:
            out[sanitize(name)] = version.data.get(name, "") or ""
    return out


def rows(db: Session, plan: EntityPlan) -> Iterator[tuple[dict[str, Any], str]]:
    """(row, uuid) in order, read a thousand at a time."""
    for entity, version, creator in db.execute(plan.stmt.execution_options(yield_per=1000)):
        yield row(entity, version, creator, plan.properties, plan.selected), entity.uuid


def count(db: Session, plan: EntityPlan) -> int:
    return db.scalar(select(func.count()).select_from(plan.base.subquery())) or 0


def next_link(db: Session, plan: EntityPlan, last_uuid: str | None, url: str) -> str | None:
    """`@odata.nextLink` after a page that `$top` cut short: the request's URL without `$skip`, with
    a `$skiptoken` naming the last row (Central's nextUrlFor). Under `$orderby`, which a skiptoken
    cannot follow, the next page is `$skip` further on instead."""
    query = plan.query
    if query.top is None or last_uuid is None:
        return None
    path, _, qs = url.partition("?")
    pairs = [(k, v) for k, v in parse_qsl(qs, keep_blank_values=True) if k not in ("$skip", "$skiptoken")]
    if query.orderby is not None:
        if count(db, plan) <= query.skip + query.top:
            return None
        pairs.append(("$skip", str(query.skip + query.top)))
    else:
        cursor = db.scalar(select(Entity.id).where(Entity.dataset_id == plan.dataset.id, Entity.uuid == last_uuid))
        if not db.scalar(select(func.count()).select_from(plan.base.where(Entity.id < cursor).limit(1).subquery())):
            return None
        pairs.append(("$skiptoken", make_skiptoken({"uuid": last_uuid})))
    return f"{path}?{urlencode(pairs, safe='$,/:()')}"
