"""Area-scoped roles: an actor limited to some areas of a project sees only the households there.

An actor with rows in `area_assignments` for a project holds every one of its project roles there
only for those areas and everything below them in the registry (`Area.path` prefixes); without rows,
for the whole project. Site administrators are never limited.

    scope = area_scope(db, actor, project_id)     # None: unlimited
    limit = form_scope(db, actor, form)           # the same, applied to one form's data (or None)
    stmt = stmt.where(limit.clause(submissions))  # only the households whose area is in scope

A household's area is the value of the indicators workbook's `area_field` in the form's root table
(server/indicators/workbook.py `area_path`), the same value the indicators report groups by. A
limited caller reading a form that has no such field gets 403: nothing can be shown safely.

An entity's area (a household of an Entity List) is the value of the list's area property, the one
its registering form saves from that field (server/models/entities.py `area_property_of`):

    limit = entity_scope(db, actor, dataset)      # an EntityScope; .clause() on `entities`

Nothing is cached between calls: a change of areas shows at the caller's next request in every
worker. Reading a scope costs one indexed query (plus one over the registry when limited)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Table, column, false, or_, select, table
from sqlalchemy.orm import Session

from server import problems
from server.models.accounts import AreaAssignment
from server.models.areas import Area


@dataclass(frozen=True)
class AreaScope:
    """What a limited actor may see in one project: `roots` (the areas assigned) and `codes` (those
    and every area below them). Hashable, so it can be part of a cache key."""

    roots: frozenset[str]
    codes: frozenset[str]

    def __contains__(self, code: object) -> bool:
        return code in self.codes

    def narrow(self, codes: Iterable[str] | None) -> frozenset[str]:
        """The codes of `codes` inside the scope (None: all of the scope)."""
        return self.codes if codes is None else self.codes & frozenset(codes)

    def describe(self) -> str:
        return ", ".join(sorted(self.roots))


def assigned_areas(db: Session, actor_id: int, project_id: int) -> list[str]:
    """The area codes assigned to an actor in a project, sorted; empty: the whole project."""
    return list(db.scalars(select(AreaAssignment.area_code).where(AreaAssignment.actor_id == actor_id,
                                                                  AreaAssignment.project_id == project_id)
                           .order_by(AreaAssignment.area_code)))


def subtree_codes(db: Session, project_id: int, roots: Iterable[str]) -> frozenset[str]:
    """`roots` and the codes of every area below them in the project's registry. A root no longer in
    the registry keeps only its own code (fail closed: never the whole project)."""
    roots = sorted(set(roots))
    if not roots:
        return frozenset()
    paths = list(db.scalars(select(Area.path).where(Area.project_id == project_id, Area.code.in_(roots))))
    codes = set(roots)
    if paths:
        below = or_(*[Area.path.startswith(p + "/", autoescape=True) for p in paths])
        codes.update(db.scalars(select(Area.code).where(Area.project_id == project_id, below)))
    return frozenset(codes)


def area_scope(db: Session, actor, project_id: int) -> AreaScope | None:
    """The areas `actor` is limited to in the project, or None when it is not limited (no rows, a site
    administrator, or no actor at all — who has no rights to be limited)."""
    if actor is None or actor.is_site_admin:
        return None
    roots = assigned_areas(db, actor.id, project_id)
    if not roots:
        return None
    return AreaScope(frozenset(roots), subtree_codes(db, project_id, roots))


class AreaLimited(problems.InsufficientRights):
    """403: the caller's role would allow this, but it holds the role only for some areas (`areas`), and
    the action reaches beyond them. The pages show their own translated sentence for it."""

    def __init__(self, message: str, areas: list[str], details: dict | None = None):
        super().__init__(message, details={"areas": areas, **(details or {})})
        self.areas = areas


# --- assigning areas (the REST API, the CLI and the pages take the same steps) ------------------------

class UnknownAreas(ValueError):
    def __init__(self, codes: list[str]):
        super().__init__(f"Unknown area code(s): {', '.join(codes)}")
        self.codes = codes


def area_assignments_of(db: Session, project_id: int) -> dict[int, list[str]]:
    """Every limited actor of the project and its areas: {actor id: [codes]}."""
    out: dict[int, list[str]] = {}
    for actor_id, code in db.execute(select(AreaAssignment.actor_id, AreaAssignment.area_code)
                                     .where(AreaAssignment.project_id == project_id)
                                     .order_by(AreaAssignment.actor_id, AreaAssignment.area_code)):
        out.setdefault(actor_id, []).append(code)
    return out


def set_areas(db: Session, actor_id: int, project_id: int, codes: Iterable[str]) -> list[str]:
    """Limit the actor to exactly these areas of the project (none: the whole project), in the caller's
    transaction. Every code must be in the registry (UnknownAreas lists those that are not); nothing
    changes otherwise. Returns the codes, sorted and without duplicates."""
    from sqlalchemy import delete

    wanted = sorted({c.strip() for c in codes if c and c.strip()})
    if wanted:
        known = set(db.scalars(select(Area.code).where(Area.project_id == project_id, Area.code.in_(wanted))))
        unknown = [c for c in wanted if c not in known]
        if unknown:
            raise UnknownAreas(unknown)
    db.execute(delete(AreaAssignment).where(AreaAssignment.actor_id == actor_id,
                                            AreaAssignment.project_id == project_id))
    db.add_all([AreaAssignment(actor_id=actor_id, project_id=project_id, area_code=c) for c in wanted])
    db.flush()
    return wanted


def holds_role(db: Session, actor_id: int, project_id: int) -> bool:
    """Whether the actor holds any role in the project: a project role, or a form role (an app user's
    access) on one of its forms."""
    from server.models.accounts import FormAssignment, ProjectAssignment
    from server.models.forms import Form

    project_role = select(ProjectAssignment.role).where(ProjectAssignment.actor_id == actor_id,
                                                        ProjectAssignment.project_id == project_id)
    form_role = (select(FormAssignment.role).join(Form, Form.id == FormAssignment.form_id)
                 .where(FormAssignment.actor_id == actor_id, Form.project_id == project_id))
    return (db.scalar(project_role.limit(1)) is not None) or (db.scalar(form_role.limit(1)) is not None)


def check_hand_out(db: Session, caller, project_id: int, target_id: int, areas: list[str] | None = None) -> None:
    """The one rule for a caller limited to some areas changing someone's roles or areas: it may do so
    only for someone who, before and after the change, is inside its own areas — limited to areas
    inside the caller's, or (before) holding no role in the project — and never for itself. So it may
    give a role, narrow, widen within its areas, or take a role back, from the people of its areas;
    it may never reach someone who sees more than it does, nor hand out more than it holds.

    `areas`: the target's areas after the change (None: unchanged, for giving or removing a role).
    Raises InsufficientRights (403); unlimited callers pass."""
    mine = area_scope(db, caller, project_id)
    if mine is None:
        return
    roots = sorted(mine.roots)
    if target_id == caller.id:
        raise AreaLimited(f"You hold your role only for {mine.describe()}, and you may not change your own areas "
                          "or roles; ask a project manager of the whole project.", roots)
    now = assigned_areas(db, target_id, project_id)
    after = now if areas is None else areas
    if (now or holds_role(db, target_id, project_id)) and (not now or any(code not in mine for code in now)):
        raise AreaLimited(
            f"You hold your role only for {mine.describe()}, and this user "
            + ("sees areas outside yours" if now else "holds a role for the whole project")
            + ", so you may not change its roles or areas; ask a project manager of the whole project.",
            roots, {"userAreas": now})
    if not after or any(code not in mine for code in after):
        raise AreaLimited(
            f"You may see only {mine.describe()}, so you may give others roles and areas inside those only: "
            "give the user areas inside yours first.", roots)


# --- applied to one form's data -----------------------------------------------------------------

@dataclass(frozen=True)
class FormScope:
    """An AreaScope applied to one form: the root table and column holding the household's area code."""

    area: AreaScope
    table_name: str        # the form's root table, d{form}
    column: str            # its column for the workbook's area field

    @property
    def codes(self) -> frozenset[str]:
        return self.area.codes

    def clause(self, submissions: Table, root: Table | None = None) -> ColumnElement:
        """A condition on `submissions` keeping only households in scope. With `root` (the form's
        root table, already joined) it tests the column directly; otherwise it stands alone, as a
        semi-join, so it can be added to any query over `submissions`."""
        codes = sorted(self.area.codes)
        if not codes:
            return false()
        if root is not None and root.name == self.table_name:
            return root.c[self.column].in_(codes)
        t = table(self.table_name, column("submission_id"), column(self.column))
        return submissions.c.id.in_(select(t.c.submission_id).where(t.c[self.column].in_(codes)))


class AreaScopeUnavailable(problems.Problem):
    code = "403.91"
    message = ("You may see only some areas of this project, and this form has no field that says where a "
               "household is, so none of its submissions can be shown to you.")


def area_column(db: Session, form_id: int) -> tuple[str, str] | None:
    """(root table, column) of the form's area field (the indicators workbook's), or None when the form
    has none — no workbook, or a field that is not a question of the household itself."""
    from server.indicators.workbook import Workbook
    from server.models.form_data import FormColumn, FormTable
    from server.models.indicators import indicator_set

    found = indicator_set(db, form_id)
    if found is None:
        return None
    path = Workbook.from_json(found.definition).area_path
    name = db.scalar(select(FormTable.table_name).where(FormTable.form_id == form_id, FormTable.repeat_path == ""))
    col = db.scalar(select(FormColumn.column_name).where(FormColumn.form_id == form_id, FormColumn.path == path,
                                                         FormColumn.repeat_path == ""))
    if not path or name is None or col is None:
        return None
    return name, col


def form_scope(db: Session, actor, form) -> FormScope | None:
    """The caller's scope over one form's submissions: None when unlimited; raises AreaScopeUnavailable
    (403) when the caller is limited and the form has no known area field."""
    scope = area_scope(db, actor, form.project_id)
    if scope is None:
        return None
    found = area_column(db, form.id)
    if found is None:
        raise AreaScopeUnavailable(
            f"You may see only the households of {scope.describe()} in this project, and form "
            f"'{form.xml_form_id}' has no indicators workbook naming the field that holds a household's area "
            "(its area_field), so none of its submissions can be shown to you. Ask a project manager to upload "
            "the form's indicators workbook.", details={"areas": sorted(scope.roots)})
    return FormScope(scope, *found)


# --- applied to one Entity List's entities --------------------------------------------------------

def entity_scope(db: Session, actor, dataset, cache: object | None = None, strict: bool = True):
    """The caller's scope over an Entity List's entities (server/models/entities.py EntityScope): every
    entity when it is not limited (without computing the area property); only those whose area property
    lies in its areas when it is. A limited caller and a list without an area property: 403 saying why
    (AreaScopeUnavailable), or, with `strict` False, a scope that reaches no entity (the manifest's
    hash, which must not fail the whole manifest)."""
    from server.models.entities import UNLIMITED, EntityScope, area_property_of

    scope = area_scope(db, actor, dataset.project_id)
    if scope is None:
        return UNLIMITED
    prop = area_property_of(db, dataset, cache)
    if prop is None:
        if not strict:
            return EntityScope(None, frozenset())
        raise AreaScopeUnavailable(
            f"You may see only the households of {scope.describe()} in this project, and the Entity List "
            f"'{dataset.name}' has no property holding a household's area (the indicators workbook's area_field), "
            "so none of its entities can be shown to you or changed by you. Ask a project manager to save the area "
            "code to the list and upload the registering form's indicators workbook.",
            details={"areas": sorted(scope.roots), "datasetName": dataset.name})
    return EntityScope(prop, scope.codes)
