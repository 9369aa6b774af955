"""What one household's page shows, gathered in one place: its properties labelled as the forms that
write them label the saved questions (in the page's language), and its versions, newest first, each
with what changed against the version before it, who made it, and the submission that did."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from server.models.datasets import Dataset, properties_of
from server.models.entities import (
    Entity,
    EntityVersion,
    declaration_for,
    property_writers,
    version_sources,
    versions_of,
)
from server.models.entity_backlog import held_about
from server.models.forms import FormDef
from server.models.submission_list import area_names
from server.models.submission_queries import display_names
from server.web.i18n import _
from server.web.submission_view import labels_for

LABEL = "label"   # the entity's label, compared like a property in the history


@dataclass(frozen=True)
class Property:
    name: str
    label: str | None      # the question's label in the form that saves it, if it has one
    value: str | None
    area_name: str | None = None


@dataclass(frozen=True)
class Change:
    name: str              # a property's name, or LABEL
    label: str | None
    before: str | None
    after: str | None


@dataclass
class Version:
    version: EntityVersion
    author: str | None
    changes: list[Change]
    source: tuple[str, str] | None = None    # (xmlFormId, instanceId) of the submission that made it

    @property
    def made_from_older(self) -> bool:
        """Made from a version older than the one before it: the change that may conflict."""
        return self.version.base_version is not None and self.version.base_version != self.version.version - 1


@dataclass
class EntityPage:
    entity: Entity
    current: EntityVersion
    created_at: datetime
    area_property: str | None
    properties: list[Property] = field(default_factory=list)
    versions: list[Version] = field(default_factory=list)   # newest first
    labels: dict[str, str] = field(default_factory=dict)     # property -> its question's label
    waiting: int = 0    # offline updates held in the backlog for an earlier update of their branch

    def labelled(self, names: list[str]) -> list[str]:
        """Property names as the page shows them: their labels where the form has one."""
        return [_("Name") if n == LABEL else self.labels.get(n, n) for n in names]


def property_labels(db: Session, dataset: Dataset, locale: str, cache: object | None = None) -> dict[str, str]:
    """{property: label} from the first form (oldest) whose saved question has a label in `locale`
    (or the form's default language)."""
    out: dict[str, str] = {}
    xml_of: dict[int, str] = {}
    for name, def_id in property_writers(db, dataset):
        if name in out:
            continue
        prop = next((p for d in declaration_for(db, def_id, cache) if d.dataset == dataset.name
                     for p in d.properties if p.name == name), None)
        if prop is None:
            continue
        if def_id not in xml_of:
            xml_of[def_id] = db.get_one(FormDef, def_id).xml
        label = labels_for(xml_of[def_id], locale).questions.get("/".join(prop.path))
        if label:
            out[name] = label
    return out


def _changes(before: EntityVersion | None, after: EntityVersion, order: list[str],
             labels: dict[str, str]) -> list[Change]:
    if before is None:
        return []
    out = []
    if before.label != after.label:
        out.append(Change(LABEL, None, before.label, after.label))
    old, new = before.data or {}, after.data or {}
    for name in order + sorted(set(new) - set(order)):
        if old.get(name) != new.get(name):
            out.append(Change(name, labels.get(name), old.get(name), new.get(name)))
    return out


def gather(db: Session, project_id: int, dataset: Dataset, entity: Entity, area_property: str | None,
           locale: str, cache: object | None = None) -> EntityPage:
    versions = versions_of(db, entity)
    current = versions[-1]
    order = [p.name for p in properties_of(db, dataset.id)]
    labels = property_labels(db, dataset, locale, cache)
    page = EntityPage(entity, current, entity.created_at, area_property, labels=labels,
                      waiting=len(held_about(db, entity.uuid)))
    area = (current.data or {}).get(area_property) if area_property else None
    names = area_names(db, project_id, {area}) if area else {}
    for name in order + sorted(set(current.data or {}) - set(order)):
        value = (current.data or {}).get(name)
        page.properties.append(Property(name, labels.get(name), value,
                                        names.get(value) if name == area_property and value else None))
    authors = display_names(db, {v.creator_id for v in versions if v.creator_id})
    sources = version_sources(db, versions)
    for i, v in enumerate(versions):
        page.versions.append(Version(v, authors.get(v.creator_id) if v.creator_id else None,
                                     _changes(versions[i - 1] if i else None, v, order, labels),
                                     sources.get(v.submission_id) if v.submission_id else None))
    page.versions.reverse()
    return page
