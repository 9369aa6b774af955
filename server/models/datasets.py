"""Entity Lists (Central's datasets) and their properties: made when a form that declares entities is
published, or through the API, and read by the forms that use the list (docs/entities.md)."""
from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from server import problems
from server.db import Base, UTCDateTime, utcnow
from server.models.forms import Form, FormAttachment, FormDef
from server.xforms.entities import EntityDeclaration, read_declarations, valid_dataset_name, valid_property_name


class Dataset(Base):
    """An Entity List of a project, e.g. `households`."""

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    approval_required: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DatasetProperty(Base):
    """A property of an Entity List: a column of its CSV, filled by `save_to` or through the API."""

    __tablename__ = "dataset_properties"
    __table_args__ = (UniqueConstraint("dataset_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DatasetForm(Base):
    """A form whose published versions write the list (property_id None) or one of its properties."""

    __tablename__ = "dataset_forms"
    __table_args__ = (Index("uq_dataset_forms", "dataset_id", "form_id", "property_id", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"))
    property_id: Mapped[int | None] = mapped_column(ForeignKey("dataset_properties.id", ondelete="CASCADE"))


def dataset_by_name(db: Session, project_id: int, name: str) -> Dataset | None:
    return db.scalars(select(Dataset).where(Dataset.project_id == project_id, Dataset.name == name)).first()


def datasets_of(db: Session, project_id: int) -> list[Dataset]:
    return list(db.scalars(select(Dataset).where(Dataset.project_id == project_id).order_by(Dataset.name)))


def properties_of(db: Session, dataset_id: int) -> list[DatasetProperty]:
    """In the order they were published: the order of the CSV columns (Central orders the same way)."""
    return list(db.scalars(select(DatasetProperty).where(DatasetProperty.dataset_id == dataset_id)
                           .order_by(DatasetProperty.published_at, DatasetProperty.id)))


def property_forms(db: Session, dataset_id: int) -> dict[int | None, list[tuple[str, str]]]:
    """(xmlFormId, form name) of the live forms writing each property (None: the list itself)."""
    rows = db.execute(select(DatasetForm.property_id, Form.xml_form_id, FormDef.name)
                      .join(Form, Form.id == DatasetForm.form_id)
                      .outerjoin(FormDef, FormDef.id == Form.current_def_id)
                      .where(DatasetForm.dataset_id == dataset_id, Form.deleted_at.is_(None))
                      .order_by(Form.xml_form_id))
    out: dict[int | None, list[tuple[str, str]]] = {}
    for property_id, xml_form_id, name in rows:
        out.setdefault(property_id, []).append((xml_form_id, name or xml_form_id))
    return out


def create_dataset(db: Session, project_id: int, name: str, approval_required: bool = False) -> Dataset:
    """A new, empty Entity List (POST …/datasets); 409.3 when the name is taken."""
    if not valid_dataset_name(name):
        raise problems.UnexpectedValue(f"'{name}' is not a valid Entity List name: use letters, digits, '_', ':' or "
                                       "'-', starting with a letter, '_' or ':' (not '__').",
                                       details={"field": "name", "value": name})
    _check_name_free(db, project_id, name)
    dataset = Dataset(project_id=project_id, name=name, approval_required=approval_required, created_at=utcnow())
    db.add(dataset)
    db.flush()
    return dataset


def _check_name_free(db: Session, project_id: int, name: str) -> None:
    same = db.scalars(select(Dataset).where(Dataset.project_id == project_id,
                                            func.lower(Dataset.name) == name.lower())).first()
    if same is not None and same.name == name:
        raise problems.UniquenessViolation(f"An Entity List named '{name}' already exists in this project.",
                                           details={"fields": ["name"], "values": [name]})
    if same is not None:
        raise problems.DatasetNameConflict(f"An Entity List named '{same.name}' exists; '{name}' differs only in "
                                           "capitalization. Use the same name.",
                                           details={"current": same.name, "provided": name})


def add_property(db: Session, dataset: Dataset, name: str) -> DatasetProperty:
    """A new property (POST …/properties): 409.3 when it exists."""
    if not valid_property_name(name):
        raise problems.UnexpectedValue(f"'{name}' is not a valid property name: not 'name' or 'label', not starting "
                                       "with '__', starting with a letter or '_'.", details={"field": "name", "value": name})
    if any(p.name == name for p in properties_of(db, dataset.id)):
        raise problems.UniquenessViolation(f"The Entity List '{dataset.name}' already has a property '{name}'.",
                                           details={"fields": ["name"], "values": [name]})
    prop = DatasetProperty(dataset_id=dataset.id, name=name, published_at=utcnow())
    db.add(prop)
    db.flush()
    return prop


def publish_form_entities(db: Session, form: Form, form_def: FormDef) -> Dataset | None:
    """Publishing a version that declares entities makes its Entity Lists, or extends them with the
    properties it saves. A draft makes nothing (Central keeps draft datasets apart; docs/entities.md).
    Returns the first list (the form's only one, most often)."""
    made = [_publish_declaration(db, form, declaration) for declaration in read_declarations(form_def.xml)]
    return made[0] if made else None


def _publish_declaration(db: Session, form: Form, declaration: EntityDeclaration) -> Dataset:
    dataset = dataset_by_name(db, form.project_id, declaration.dataset)
    if dataset is None:
        _check_name_free(db, form.project_id, declaration.dataset)
        dataset = Dataset(project_id=form.project_id, name=declaration.dataset, created_at=utcnow())
        db.add(dataset)
        db.flush()
    existing = {p.name: p for p in properties_of(db, dataset.id)}
    lowered = {n.lower(): n for n in existing}
    now = utcnow()
    links = {(link.property_id) for link in db.scalars(select(DatasetForm).where(
        DatasetForm.dataset_id == dataset.id, DatasetForm.form_id == form.id))}
    wanted: list[int | None] = [None]
    for prop in declaration.properties:
        found = existing.get(prop.name)
        if found is None and prop.name.lower() in lowered:
            raise problems.EntityFormInvalid(
                f"The form saves to the property '{prop.name}', but the Entity List '{dataset.name}' has "
                f"'{lowered[prop.name.lower()]}', which differs only in capitalization. Use the same name.")
        if found is None:
            found = DatasetProperty(dataset_id=dataset.id, name=prop.name, published_at=now)
            db.add(found)
            db.flush()
        wanted.append(found.id)
    for property_id in wanted:
        if property_id not in links:
            db.add(DatasetForm(dataset_id=dataset.id, form_id=form.id, property_id=property_id))
    db.flush()
    return dataset


def list_hash(db: Session, dataset: Dataset, owner_id: int | None = None, scope=None,
              properties: list[str] | None = None) -> str:
    """An opaque hash of what Collect downloads (entities, their versions, deletions, properties): it
    changes exactly when the list's CSV changes (odk-protocol §2), from one pass over the list's entity
    rows and no version: a new entity changes the count and the newest id, an update the sum of the
    version numbers (each update adds one), a deletion the deleted count and time; a restore brings the
    list, and so its hash, back to what it was before the deletion. (Joining
    the versions to find the newest took ~160 ms at 100,000 entities on PostgreSQL, bench/entities.py.)
    `owner_id`: only the entities this actor created (an ownerOnly list, as its app user sees it);
    `scope` (an EntityScope): only the entities of the caller's areas, with a hash of their own."""
    from server.models.entities import UNLIMITED, Entity

    scope = scope or UNLIMITED
    mine = Entity.creator_id == owner_id if owner_id is not None else Entity.id.is_not(None)
    stats = db.execute(select(func.count(Entity.id), func.max(Entity.id), func.sum(Entity.version),
                              func.count(Entity.deleted_at), func.max(Entity.deleted_at))
                       .where(Entity.dataset_id == dataset.id, mine, scope.clause())).one()
    if properties is None:  # the caller that has just read them passes them
        properties = [p.name for p in properties_of(db, dataset.id)]
    names = ",".join(properties)
    text = f"{dataset.id}|{owner_id}|{'|'.join(str(v) for v in stats)}|{names}"
    if scope.limited:
        text += f"|{scope.area_property}|{','.join(sorted(scope.codes or ()))}"
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def list_for_attachment(db: Session, project_id: int, name: str, link: bool | None = None) -> Dataset | None:
    """The Entity List a form attachment `households.csv` (with no file uploaded over it) is served
    from: the project's list of that name, unless the attachment was unlinked (`link` False)."""
    if not name.endswith(".csv") or link is False:
        return None
    return dataset_by_name(db, project_id, name[:-4])


def link_attachment(db: Session, form: Form, name: str, link: bool) -> FormAttachment:
    """PATCH …/draft/attachments/{name} {"dataset": true|false}, as Central: the draft's attachment is
    served from the Entity List of its name (any uploaded file is dropped), or from nothing until a
    file is uploaded. 404 when the draft, the attachment or the list is missing; 400.26 when a
    list is linked to an image or other media."""
    if form.draft_def_id is None:
        raise problems.NotFound("This form has no draft; create one (POST …/draft) before linking its attachments.")
    dataset_name = name[:-4] if name.endswith(".csv") else name
    if dataset_by_name(db, form.project_id, dataset_name) is None:
        raise problems.NotFound(f"There is no Entity List '{dataset_name}' in this project to link '{name}' to.")
    slot = db.scalars(select(FormAttachment).where(FormAttachment.form_def_id == form.draft_def_id,
                                                   FormAttachment.name == name)).first()
    if slot is None:
        raise problems.NotFound(f"The draft declares no media file named '{name}'.")
    if link and slot.type != "file":
        raise problems.DatasetLinkNotAllowed()
    slot.blob_id, slot.content_type, slot.dataset_link, slot.updated_at = None, None, link, utcnow()
    db.flush()
    return slot
