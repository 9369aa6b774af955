"""What the submission page shows, gathered in one place: labelled answers, photos, the point on the
map, the edit history with the answers each edit changed, and the comments.

The answers are read from the stored XML of each version (one submission's worth, parsed with the
same parser intake uses) rather than from the column tables: the page also needs older versions,
which only the XML keeps."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.orm import Session

from server.models import submission_queries as q
from server.models.blobs import Blob
from server.models.forms import FormDef
from server.models.submission_list import area_names
from server.models.submissions import Comment, Submission, SubmissionAttachment, SubmissionDef, comments_of
from server.web import i18n
from server.web.pointmap import Point, parse_geopoint
from server.xforms.answers import Answer, Change, Section, changes, read_answers
from server.xforms.labels import FormLabels, UnknownLanguage, fields_choosing_from, read_labels
from server.xforms.submission import ParsedSubmission, SubmissionRejected, read_identity, read_rows

# Edits are few; a submission edited more often than this shows the changes of its latest edits only.
MAX_DIFFED_VERSIONS = 20
IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}


@dataclass
class Version:
    sdef: SubmissionDef
    submitter: str | None
    changes: list[Change] | None = None   # against the version before it; None for the first


@dataclass
class SubmissionPage:
    submission: Submission
    current: SubmissionDef
    form_def: FormDef
    submitter: str | None
    sections: list[Section] = field(default_factory=list)
    files: dict[str, tuple[SubmissionAttachment, Blob | None]] = field(default_factory=dict)
    point: Point | None = None
    point_label: str | None = None
    versions: list[Version] = field(default_factory=list)
    comments: list[tuple[Comment, str | None]] = field(default_factory=list)
    unreadable: bool = False

    def moment(self, answer: Answer) -> str:
        """A date or date-time answer in the page's format (Collect's own offset kept for dates)."""
        try:
            if answer.type == "date":
                return i18n.day(date.fromisoformat(answer.value.strip()[:10]))
            return i18n.when(datetime.fromisoformat(answer.value.strip().replace("Z", "+00:00")))
        except ValueError:
            return answer.value

    def is_image(self, name: str) -> bool:
        found = self.files.get(name)
        return bool(found and found[1] is not None and (found[0].content_type or "").split(";")[0] in IMAGE_TYPES)


def labels_for(xml: str | bytes, locale: str) -> FormLabels:
    """The form's labels in the page's language, or its default language when it has none in it."""
    try:
        return read_labels(xml, locale)
    except UnknownLanguage:
        return read_labels(xml, None)


def _parse(cache, db: Session, sdef: SubmissionDef) -> ParsedSubmission | None:
    try:
        root, parsed = read_identity(bytes(sdef.xml))
        return read_rows(root, parsed, cache.schema(db, sdef.form_def_id))
    except SubmissionRejected:
        return None


def _area_choices(db: Session, project_id: int, xml: str, parsed: list[ParsedSubmission]) -> dict[str, dict[str, str]]:
    """Area codes chosen from the registry (select_one_from_file areas.csv) shown with their names."""
    paths = fields_choosing_from(xml, "areas.csv")
    if not paths:
        return {}
    codes = {p.root.get(path) or "" for p in parsed for path in paths}
    codes |= {r.values.get(path) or "" for p in parsed for r in p.repeats for path in paths}
    names = area_names(db, project_id, {c.strip() for c in codes})
    shown = {code: f"{name} ({code})" for code, name in names.items()}
    return dict.fromkeys(paths, shown)


def _name_of(names: dict[int, str], actor_id: int | None) -> str | None:
    return names.get(actor_id) if actor_id is not None else None


def gather(db: Session, cache, project_id: int, sub: Submission, sdef: SubmissionDef, locale: str) -> SubmissionPage:
    form_def = db.get_one(FormDef, sdef.form_def_id)
    versions = q.versions(db, sub.id)[:MAX_DIFFED_VERSIONS + 1]   # newest first
    submitters = {v.submitter_id for v in versions if v.submitter_id}
    if sub.submitter_id is not None:
        submitters.add(sub.submitter_id)
    names = q.display_names(db, submitters)
    page = SubmissionPage(sub, sdef, form_def, _name_of(names, sub.submitter_id))
    page.files = {a.name: (a, b) for a, b in q.attachments(db, sdef.id)}
    labels = labels_for(form_def.xml, locale)
    schema = cache.schema(db, sdef.form_def_id)
    parsed = {v.id: _parse(cache, db, v) for v in versions if not v.encrypted}
    choices = _area_choices(db, project_id, form_def.xml, [p for p in parsed.values() if p])
    current = parsed.get(sdef.id)
    if current is not None:
        page.sections = read_answers(schema, labels, current, choices)
        page.point, page.point_label = _first_point(page.sections)
    else:
        page.unreadable = not sdef.encrypted
    for i, v in enumerate(versions):
        version = Version(v, _name_of(names, v.submitter_id))
        older = versions[i + 1] if i + 1 < len(versions) else None
        if older is not None and (new := parsed.get(v.id)) and (old := parsed.get(older.id)):
            version.changes = changes(cache.schema(db, v.form_def_id), labels, old, new, choices)
        page.versions.append(version)
    comments = comments_of(db, sub.id)
    authors = q.display_names(db, {c.actor_id for c in comments})
    page.comments = [(c, authors.get(c.actor_id)) for c in comments]
    return page


def _first_point(sections: list[Section]) -> tuple[Point | None, str | None]:
    """The household's point: the first GPS answer outside the roster."""
    for s in sections:
        for item in s.items:
            if isinstance(item, Answer) and item.type == "geopoint":
                point = parse_geopoint(item.value)
                if point is not None:
                    return point, item.label or item.name
    return None, None
