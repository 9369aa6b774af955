"""Bulk loader for benchmarks: N households in an Entity List, as the shipped survey's registrations make them,
but fast.

    from _bulk_entities import load_entities
    info = load_entities("postgresql://postgres@127.0.0.1:5432/hamlet_bench_1", project_id=1, count=100_000)

The project must already have the list: publishing `xlsforms/household_digital_survey.xlsx` makes
`households` and its properties. Household i is `server.synthetic.random_household` (~4 people), its
registration the XML Collect sends for the survey (`registration_xml`: the answers, the register's
calculates, the `<entity create="1">` block); the server's own `read_declaration` + `read_submitted`, as
intake calls them, give the entity's label and properties. Each becomes one `entities` row and its
version 1 in `entity_versions`, as an entity made by the API (no source submission). PostgreSQL gets
COPY, SQLite executemany, in chunks; the rows are built in worker processes. Household i and its UUID
depend only on (seed, i). tests/test_bench_bulk_entities.py checks that entities loaded this way and
the same households registered through OpenRosa give the same list and the same households.csv."""
from __future__ import annotations

import json
import random
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bulk import _copy_text, _pg, _sqlite, chunk_results, village_codes  # noqa: E402

DEFAULT_SEED = 20261205
USER_AGENT = "ODK-Client/v2024.3.4 Dalvik/2.1.0 (Linux; U; Android 13) org.odk.collect.android/v2024.3.4"
ENTITY_COLUMNS = ["id", "uuid", "dataset_id", "version", "creator_id", "conflict", "created_at", "updated_at",
                  "deleted_at"]
VERSION_COLUMNS = ["id", "entity_id", "version", "base_version", "current", "label", "data", "data_received",
                   "conflicting_properties", "submission_id", "submission_def_id", "branch_id", "trunk_version",
                   "branch_base_version", "creator_id", "user_agent", "created_at"]


def registration_xml(h, entity_id: str | None, form_id: str | None = None) -> bytes:
    """The shipped survey's submission for household `h` as Collect sends it: the answers, the register's
    calculates (`reg_*`, what the entities sheet saves) and, unless `entity_id` is None, the entity block.
    `form_id` publishes the same answers to a copy of the survey under another ID."""
    from server.synthetic import FORM_ID, to_xml

    def who(test) -> str:
        return " ".join(str(i) for i, m in enumerate(h.members, 1) if test(m))

    def has(key: str) -> str:
        return who(lambda m: m.answers.get(key) == "yes")

    head = next((m for m in h.members if m.relation == "head"), None)
    reg = {"reg_head_name": head.name if head else h.respondent,
           "reg_roster": "; ".join(f"{i}. {m.name} ({m.age})" for i, m in enumerate(h.members, 1)),
           "reg_aged_14": who(lambda m: m.age >= 14), "reg_aged_15": who(lambda m: m.age >= 15),
           "reg_vneid": has("vneid_level2"), "reg_smartphone": has("smartphone"), "reg_bank": has("bank_account"),
           "reg_ewallet": who(lambda m: m.answers.get("ewallets", "none") != "none"),
           "reg_public_services": has("public_services_account"), "reg_signature": has("digital_signature")}
    xml = to_xml(h).decode()
    if form_id:
        xml = xml.replace(f'id="{FORM_ID}"', f'id="{form_id}"', 1)
    entity = ""
    if entity_id is not None:
        label = f"{reg['reg_head_name']} – Số {len(h.respondent)} đường Lê Duẩn"
        entity = f'<entity dataset="households" create="1" id="{entity_id}"><label>{escape(label)}</label></entity>'
    return xml.replace("<meta>", "".join(f"<{k}>{escape(v)}</{k}>" for k, v in reg.items()) + "<meta>" + entity,
                       1).encode("utf-8")


def synthetic_household(seed: int, index: int, villages: list[str]):
    """Household `index` of a load and its entity's UUID."""
    from server.synthetic import random_household

    rng = random.Random(seed * 1_000_000_009 + index)
    village = villages[rng.randrange(len(villages))]
    members = max(1, min(9, round(rng.gauss(4.0, 1.3))))
    h = random_household(rng, village, members=members)
    return h, str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass
class EntityLoadInfo:
    dataset_id: int
    entities: int
    first_entity_id: int
    seconds: float = 0.0


_W: dict = {}


def _init_worker(spec: dict) -> None:
    from server.xforms.entities import read_declaration

    _W.clear()
    _W.update(spec)
    _W["declaration"] = read_declaration(spec["form_xml"])


def _chunk(task: tuple[int, int]) -> tuple[int, list[tuple[str, list[str], object]]]:
    """The rows of entities [start, start + count): [(table, columns, COPY text or list of tuples)]."""
    from server.xforms.entities import read_submitted
    from server.xforms.safexml import parse

    start, count = task
    w = _W
    sqlite = w["dialect"] == "sqlite"
    conv = _sqlite if sqlite else _pg
    entities, versions = [], []
    for i in range(start, start + count):
        h, entity_id = synthetic_household(w["seed"], i, w["villages"])
        submitted = read_submitted(parse(registration_xml(h, entity_id)), w["declaration"])
        row_id = w["first_id"] + i
        created = w["t0"] + timedelta(seconds=i * w["step"])
        data = json.dumps(submitted.data, ensure_ascii=False)
        received = json.dumps({"label": submitted.label, **submitted.data}, ensure_ascii=False)
        entities.append((row_id, entity_id, w["dataset_id"], 1, w["creator"], None, created, None, None))
        versions.append((row_id, row_id, 1, None, True, submitted.label, data, received, None, None, None, None,
                         None, None, w["creator"], USER_AGENT, created))
    out = [("entities", ENTITY_COLUMNS, [tuple(map(conv, r)) for r in entities]),
           ("entity_versions", VERSION_COLUMNS, [tuple(map(conv, r)) for r in versions])]
    if not sqlite:
        out = [(t, cols, _copy_text(rows)) for t, cols, rows in out]
    return count, out


def load_entities(database_url: str, project_id: int, count: int, seed: int = DEFAULT_SEED, villages: int = 500,
                  dataset: str = "households", creator_id: int | None = None, workers: int | None = None,
                  chunk: int = 5000, days: float = 30.0, progress: Callable[[str], None] | None = print,
                  analyze: bool = True) -> EntityLoadInfo:
    """Add `count` synthetic households to the project's Entity List `dataset` (see the module doc)."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from server.config import normalise_database_url
    from server.db import make_engine
    from server.models.datasets import DatasetForm, dataset_by_name
    from server.models.entities import Entity, EntityVersion
    from server.models.forms import Form, FormDef

    say = progress or (lambda _m: None)
    t_start = time.perf_counter()
    engine = make_engine(normalise_database_url(database_url))
    try:
        with Session(engine) as s:
            found = dataset_by_name(s, project_id, dataset)
            if found is None:
                raise RuntimeError(f"project {project_id} has no Entity List '{dataset}': publish the survey first")
            form_xml = s.scalar(select(FormDef.xml).join(Form, Form.current_def_id == FormDef.id)
                                .join(DatasetForm, DatasetForm.form_id == Form.id)
                                .where(DatasetForm.dataset_id == found.id, DatasetForm.property_id.is_(None))
                                .order_by(Form.id).limit(1))
            if form_xml is None:
                raise RuntimeError(f"no published form writes the Entity List '{dataset}'")
            first_id = max(s.scalar(select(func.max(Entity.id))) or 0,
                           s.scalar(select(func.max(EntityVersion.id))) or 0) + 1
            dataset_id = found.id
        dialect = engine.dialect.name
        now = datetime.now(UTC).replace(microsecond=0)
        spec = dict(form_xml=form_xml, seed=seed, villages=village_codes(villages), dialect=dialect,
                    first_id=first_id, dataset_id=dataset_id, creator=creator_id, t0=now - timedelta(days=days),
                    step=days * 86400 / max(1, count))
        tasks = [(s, min(chunk, count - s)) for s in range(0, count, chunk)]
        raw = engine.raw_connection()
        try:
            conn = raw.driver_connection
            with chunk_results(_chunk, _init_worker, spec, tasks, workers) as results:
                done = 0
                for n, out in results:
                    _write(conn, dialect, out)
                    conn.commit()
                    done += n
                    if done % 50_000 < chunk or done == count:
                        say(f"  {done:,}/{count:,} entities, {done / (time.perf_counter() - t_start):,.0f}/s")
            _finish(conn, dialect, analyze)
        finally:
            raw.close()
    finally:
        engine.dispose()
    info = EntityLoadInfo(dataset_id, count, first_id, time.perf_counter() - t_start)
    say(f"entities loaded: {count:,} in {info.seconds:.1f} s ({count / max(info.seconds, 1e-9):,.0f}/s)")
    return info


def _write(conn, dialect: str, out) -> None:
    if dialect == "postgresql":
        with conn.cursor() as cur:
            for table, cols, data in out:
                with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                    copy.write(data)
    else:
        for table, cols, rows in out:
            conn.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)


def _finish(conn, dialect: str, analyze: bool) -> None:
    if dialect != "postgresql":
        return
    with conn.cursor() as cur:
        for table in ("entities", "entity_versions"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))")
    conn.commit()
    if analyze:   # as autovacuum would shortly after a bulk insert
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                for table in ("entities", "entity_versions"):
                    cur.execute(f"VACUUM (ANALYZE) {table}")
        finally:
            conn.autocommit = False
