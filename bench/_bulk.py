"""Bulk loader for benchmarks: a project with the shipped household survey, a generated area registry
and N synthetic households, stored exactly as intake stores them, but fast.

    from _bulk import bulk_load
    info = bulk_load("postgresql+psycopg://postgres@127.0.0.1:5432/hamlet_bench_1", households=100_000,
                     villages=500, seed=1, data_dir=Path("/tmp/x/data"))

What goes through the server's own functions (so the schema and metadata are exactly intake's):
the migrations (`server.cli.upgrade_database`), the project, publishing
`xlsforms/household_digital_survey.xlsx` (`form_versions.read_definition/create_form/publish_draft`,
which makes the column tables d{form} and d{form}_r{n} and the form_columns mapping), the area
registry (`areas.parse_registry/replace_registry/sync_form_media`, so areas.csv is the form's media),
and an app user with its key (the submitter of every household).

What is bulk-inserted: for household i, `synthetic_submission(seed, i, villages)` builds the XML Collect
would send (`server.synthetic.random_household` + `to_xml`, ~4 members); the server's own parser
(`server.xforms.submission.read_identity` + `read_rows`, as intake calls them) turns it into the root row
and one row per roster member; these are mapped to columns through form_columns as intake's
`_write_rows` does, and written to `submissions`, `submission_defs` (the XML byte for byte, its SHA-256,
instanceName, deviceID, User-Agent) and the column tables. PostgreSQL gets COPY (text format, built in
worker processes; the foreign keys of the loaded tables are dropped during the load and added back,
validated, at the end, then `VACUUM ANALYZE` as autovacuum would after a bulk insert); SQLite gets
executemany in transactions of ~50,000 households. tests/test_bench_bulk.py checks that 50 households
loaded this way and posted through OpenRosa give identical rows and identical indicator reports.

Households are generated in worker processes (`workers`, default: the CPU count; 0 = in this process);
household i depends only on (seed, i), never on the number of workers or the chunk size."""
from __future__ import annotations

import csv
import hashlib
import io
import math
import multiprocessing
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SURVEY = ROOT / "xlsforms" / "household_digital_survey.xlsx"
TARGETS = ROOT / "xlsforms" / "household_digital_targets.xlsx"
FORM_ID = "household_digital_survey"
USER_AGENT = "ODK-Client/v2024.3.4 Dalvik/2.1.0 (Linux; U; Android 13) org.odk.collect.android/v2024.3.4"
DEFAULT_SEED = 20261123
ENUMERATORS = 40


@dataclass
class LoadInfo:
    database_url: str
    dialect: str
    data_dir: Path
    project_id: int
    form_id: int                 # forms.id (the d{form_id} tables)
    xml_form_id: str
    form_def_id: int
    version: str
    app_user_id: int
    app_user_token: str          # OpenRosa: /v1/key/{token}/projects/{project_id}/submission
    households: int
    members: int
    villages: list[str] = field(repr=False)  # village codes, in registry order
    areas: int                   # registry rows (province … village)
    seed: int
    first_submission_id: int
    setup_seconds: float = 0.0   # migrations, project, publish, registry
    insert_seconds: float = 0.0  # households
    finish_seconds: float = 0.0  # foreign keys back, sequences, VACUUM ANALYZE
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.setup_seconds + self.insert_seconds + self.finish_seconds


# --- the registry ----------------------------------------------------------------------------------------

VILLAGES_PER_COMMUNE, COMMUNES_PER_DISTRICT, DISTRICTS_PER_PROVINCE = 5, 5, 4


def registry_rows(villages: int, households: int, seed: int = DEFAULT_SEED) -> list[dict]:
    """Provinces → districts → communes → villages (5 villages a commune, 5 communes a district, 4 districts a
    province), codes P01-D02-C03-V04 (the survey's cascade and server.synthetic split codes on '-').
    Each village expects 1.1–2× its share of `households`, so coverage is 50–90 %."""
    rng = random.Random(seed)
    communes = math.ceil(villages / VILLAGES_PER_COMMUNE)
    districts = math.ceil(communes / COMMUNES_PER_DISTRICT)
    provinces = math.ceil(districts / DISTRICTS_PER_PROVINCE)
    share = max(1, households) / max(1, villages)
    rows: list[dict] = []
    v = c = d = 0
    for p in range(1, provinces + 1):
        pc = f"P{p:02d}"
        rows.append(dict(code=pc, name=f"Tỉnh Thử {p}", level="province", parent="", expected_households=""))
        for _ in range(DISTRICTS_PER_PROVINCE):
            if d >= districts:
                break
            d += 1
            dc = f"{pc}-D{d:02d}"
            rows.append(dict(code=dc, name=f"Huyện {d}", level="district", parent=pc, expected_households=""))
            for _ in range(COMMUNES_PER_DISTRICT):
                if c >= communes:
                    break
                c += 1
                cc = f"{dc}-C{c:03d}"
                rows.append(dict(code=cc, name=f"Xã {c}", level="commune", parent=dc, expected_households=""))
                for k in range(1, VILLAGES_PER_COMMUNE + 1):
                    if v >= villages:
                        break
                    v += 1
                    rows.append(dict(code=f"{cc}-V{k}", name=f"Thôn {v}", level="village", parent=cc,
                                     expected_households=str(max(1, round(share * rng.uniform(1.1, 2.0))))))
    return rows


def registry_csv(villages: int, households: int, seed: int = DEFAULT_SEED) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["code", "name", "level", "parent", "expected_households"], lineterminator="\n")
    w.writeheader()
    w.writerows(registry_rows(villages, households, seed))
    return buf.getvalue().encode("utf-8")


def village_codes(villages: int, households: int = 0, seed: int = DEFAULT_SEED) -> list[str]:
    return [r["code"] for r in registry_rows(villages, households, seed) if r["level"] == "village"]


# --- households ------------------------------------------------------------------------------------------

def synthetic_submission(seed: int, index: int, villages: list[str]) -> tuple[bytes, str]:
    """Household `index` of a load: the XML Collect would send, and the deviceID it would send it with."""
    from server.synthetic import random_household, to_xml

    rng = random.Random(seed * 1_000_000_007 + index)
    village = villages[rng.randrange(len(villages))]
    members = max(1, min(9, round(rng.gauss(4.0, 1.3))))
    h = random_household(rng, village, members=members)
    device = f"collect:bench{h.extra['enumerator_code']}"
    return to_xml(h), device


# COPY text format: backslash, newline, carriage return and tab are escaped, NULL is \N. Rows are joined with
# \x00 between fields, \x01 for NULL and \x02 between rows (none of them can occur in XML 1.0 text, so not in
# any value read from a submission), escaped over the whole chunk at once, then the markers are replaced.


def _copy_text(rows: list[tuple]) -> bytes:
    data = "\x02".join("\x00".join(["\x01" if v is None else v for v in row]) for row in rows).encode("utf-8")
    data = data.replace(b"\\", b"\\\\").replace(b"\n", b"\\n").replace(b"\r", b"\\r").replace(b"\t", b"\\t")
    return data.replace(b"\x00", b"\t").replace(b"\x01", b"\\N").replace(b"\x02", b"\n") + (b"\n" if rows else b"")


def _pg(value):
    """A submissions / submission_defs value as COPY text (before escaping)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (bytes, bytearray)):
        return "\\x" + value.hex()      # bytea hex; the escaping pass doubles the backslash
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _sqlite(value):
    if isinstance(value, datetime):   # as SQLAlchemy stores UTCDateTime on SQLite: naive UTC text
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


_W: dict = {}


@contextmanager
def chunk_results(chunk_fn: Callable, init_worker: Callable[[dict], None], spec: dict, tasks: list,
                  workers: int | None) -> Iterator:
    """`chunk_fn` over `tasks`, in order: in `workers` spawned processes (default: one a CPU), each set up by
    `init_worker(spec)`, or in this process for 0 workers or a single task. The pool ends on leaving."""
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers > 0 and len(tasks) > 1:
        pool = multiprocessing.get_context("spawn").Pool(workers, initializer=init_worker, initargs=(spec,))
        try:
            yield pool.imap(chunk_fn, tasks)
        finally:
            pool.terminate()
            pool.join()
    else:
        init_worker(spec)
        yield map(chunk_fn, tasks)


def _init_worker(spec: dict) -> None:
    from server.xforms.schema import read_schema

    _W.clear()
    _W.update(spec)
    _W["schema"] = read_schema(spec["form_xml"])


def _chunk(task: tuple[int, int]) -> tuple[int, int, list[tuple[str, list[str], object]]]:
    """Rows of households [start, start + count): (households, members, [(table, columns, data)]), data being
    COPY text (PostgreSQL) or a list of tuples (SQLite)."""
    from server.xforms.submission import read_identity, read_rows

    start, count = task
    w = _W
    schema, villages, seed = w["schema"], w["villages"], w["seed"]
    root_cols, repeats = w["root_columns"], w["repeats"]        # [(path, column)], {repeat: (table, [(path, col)])}
    sqlite = w["dialect"] == "sqlite"
    conv = _sqlite if sqlite else _pg
    subs, defs, roots = [], [], []
    reps: dict[str, list] = {r: [] for r in repeats}
    members = 0
    for i in range(start, start + count):
        xml, device = synthetic_submission(seed, i, villages)
        root, parsed = read_identity(xml)
        read_rows(root, parsed, schema)
        sub_id, def_id = w["first_sub"] + i, w["first_def"] + i
        created = w["t0"] + timedelta(seconds=i * w["step"])
        subs.append((sub_id, w["form_id"], parsed.instance_id, def_id, w["submitter"], device, None, 0, False,
                     created, None, None))
        defs.append((def_id, sub_id, w["form_id"], w["form_def_id"], parsed.instance_id, parsed.deprecated_id,
                     parsed.instance_name, xml, hashlib.sha256(xml).hexdigest(), parsed.encrypted, w["submitter"],
                     device, USER_AGENT, True, created))
        values = parsed.root
        sid = sub_id if sqlite else str(sub_id)
        roots.append((sid, *[values.get(p) for p, _ in root_cols]))
        for row in parsed.repeats:
            spec = repeats.get(row.repeat)
            if spec is None:
                continue
            reps[row.repeat].append((sid, row.key, row.parent_key, *[row.values.get(p) for p, _ in spec[1]]))
            members += 1
    out = [("submissions", w["sub_columns"], subs), ("submission_defs", w["def_columns"], defs),
           (w["root_table"], ["submission_id"] + [c for _, c in root_cols], roots)]
    for r, (table, cols) in repeats.items():
        out.append((table, ["submission_id", "row_key", "parent_key"] + [c for _, c in cols], reps[r]))
    # submissions and submission_defs hold ints, booleans, datetimes and bytes; the column tables only text.
    out = [(t, cols, [tuple(map(conv, row)) for row in rows]) if k < 2 else (t, cols, rows)
           for k, (t, cols, rows) in enumerate(out)]
    if not sqlite:
        out = [(t, cols, _copy_text(rows)) for t, cols, rows in out]
    return count, members, out


SUB_COLUMNS = ["id", "form_id", "instance_id", "current_def_id", "submitter_id", "device_id", "review_state", "edits",
               "draft", "created_at", "updated_at", "deleted_at"]
DEF_COLUMNS = ["id", "submission_id", "form_id", "form_def_id", "instance_id", "deprecated_id", "instance_name", "xml",
               "xml_sha256", "encrypted", "submitter_id", "device_id", "user_agent", "current", "created_at"]


# --- setup through the server's functions -----------------------------------------------------------------

def _setup(database_url: str, data_dir: Path, villages: int, households: int, seed: int, project_name: str):
    from sqlalchemy import select

    from server.config import Settings, normalise_database_url
    from server.db import make_engine, make_sessionmaker, utcnow
    from server.models import areas as registry
    from server.models import form_versions as fv
    from server.models.accounts import APP_USER, Actor, create_session
    from server.models.blobs import LocalBlobStore
    from server.models.forms import FormDef
    from server.models.projects import Project

    url = normalise_database_url(database_url)
    settings = Settings(database_url=url, data_dir=data_dir, secret_key="bulk-loader", odk_validate="off")
    engine = make_engine(url)
    store = LocalBlobStore(data_dir)
    with make_sessionmaker(engine)() as s:
        project = Project(name=project_name)
        s.add(project)
        s.flush()
        definition = fv.read_definition(SURVEY.read_bytes(), settings, fallback_id=SURVEY.stem, ignore_warnings=True)
        form = fv.create_form(s, store, project.id, definition, None)
        form_def = fv.publish_draft(s, form)
        rows = registry.parse_registry(registry_csv(villages, households, seed))
        registry.replace_registry(s, project.id, rows)
        registry.sync_form_media(s, store, project.id)
        actor = Actor(type=APP_USER, display_name="Tổ công nghệ số (bulk load)", project_id=project.id,
                      created_at=utcnow())
        s.add(actor)
        s.flush()
        token = create_session(s, actor, hours=None).token
        from server.models.accounts import FormAssignment

        s.add(FormAssignment(actor_id=actor.id, form_id=form.id, role="app-user"))
        s.commit()
        xml = s.scalar(select(FormDef.xml).where(FormDef.id == form_def.id))
        ids = (project.id, form.id, form.xml_form_id, form_def.id, form_def.version, actor.id, token, len(rows))
    return engine, ids, xml


def bulk_load(database_url: str, households: int, villages: int = 500, seed: int = DEFAULT_SEED,
              data_dir: Path | str | None = None, workers: int | None = None, chunk: int = 2000,
              progress: Callable[[str], None] | None = print, project_name: str | None = None,
              days: float = 30.0, analyze: bool = True, migrate: bool = True) -> LoadInfo:
    """Load a project with `households` synthetic households over `villages` villages (see the module doc).

    `database_url` is a SQLAlchemy URL (sqlite:///… or postgresql://…); the schema is brought up to date with
    the migrations first. `data_dir` is the blob store the server will use (HAMLET_DATA_DIR): the XLSForm and
    areas.csv are stored there. Households are created over the `days` before now."""
    say = progress or (lambda _m: None)
    t_start = time.perf_counter()
    data_dir = Path(data_dir) if data_dir else Path(os.environ.get("HAMLET_DATA_DIR", "instance/data"))
    if migrate:
        from server.cli import upgrade_database
        from server.config import normalise_database_url

        upgrade_database(normalise_database_url(database_url))
    engine, ids, form_xml = _setup(database_url, data_dir, villages, households, seed,
                                   project_name or f"bulk {households:,} households")
    project_id, form_id, xml_form_id, form_def_id, version, actor_id, token, area_count = ids
    dialect = engine.dialect.name
    from sqlalchemy import func, select

    from server.models.form_data import data_tables
    from server.models.submissions import Submission, SubmissionDef

    with engine.connect() as conn:
        from sqlalchemy.orm import Session

        with Session(bind=conn) as s:
            tables = data_tables(s, form_id)
            first_sub = (s.scalar(select(func.max(Submission.id))) or 0) + 1
            first_def = (s.scalar(select(func.max(SubmissionDef.id))) or 0) + 1
    root_columns = [(p, c) for p, (rp, c) in tables.columns.items() if rp == ""]
    repeats = {rp: (t.name, [(p, c) for p, (r, c) in tables.columns.items() if r == rp])
               for rp, t in tables.repeats.items()}
    codes = village_codes(villages, households, seed)
    now = datetime.now(UTC).replace(microsecond=0)
    step = days * 86400 / max(1, households)
    spec = dict(form_xml=form_xml, villages=codes, seed=seed, root_columns=root_columns, repeats=repeats,
                root_table=tables.root.name, dialect=dialect, first_sub=first_sub, first_def=first_def,
                form_id=form_id, form_def_id=form_def_id, submitter=actor_id, t0=now - timedelta(days=days),
                step=step, sub_columns=SUB_COLUMNS, def_columns=DEF_COLUMNS)
    info = LoadInfo(database_url=database_url, dialect=dialect, data_dir=data_dir, project_id=project_id,
                    form_id=form_id, xml_form_id=xml_form_id, form_def_id=form_def_id, version=version,
                    app_user_id=actor_id, app_user_token=token, households=households, members=0, villages=codes,
                    areas=area_count, seed=seed, first_submission_id=first_sub)
    info.setup_seconds = time.perf_counter() - t_start
    say(f"bulk load: {dialect}, project {project_id}, form {xml_form_id} (d{form_id}), {len(codes)} villages, "
        f"{households:,} households, setup {info.setup_seconds:.1f} s")
    tasks = [(s, min(chunk, households - s)) for s in range(0, households, chunk)]
    t0 = time.perf_counter()
    raw_conn = engine.raw_connection()
    try:
        driver = raw_conn.driver_connection
        writer = _PgWriter(driver) if dialect == "postgresql" else _SqliteWriter(driver)
        writer.begin(repeats, tables.root.name)
        with chunk_results(_chunk, _init_worker, spec, tasks, workers) as results:
            done, last_report = 0, time.perf_counter()
            for count, members, out in results:
                writer.write(out)
                for t, _, rows in out:
                    info.rows[t] = info.rows.get(t, 0) + (len(rows) if isinstance(rows, list) else rows.count(b"\n"))
                done += count
                info.members += members
                if done % 50_000 < chunk:
                    writer.commit()
                if time.perf_counter() - last_report > 10 or done == households:
                    last_report = time.perf_counter()
                    rate = done / (last_report - t0)
                    say(f"  {done:,}/{households:,} households ({info.members:,} members), {rate:,.0f}/s, "
                        f"ETA {(households - done) / rate:.0f} s")
        writer.commit()
        info.insert_seconds = time.perf_counter() - t0
        t1 = time.perf_counter()
        writer.finish(analyze)
        info.finish_seconds = time.perf_counter() - t1
    finally:
        raw_conn.close()
        engine.dispose()
    say(f"bulk load done: {households:,} households, {info.members:,} members in {info.seconds:.1f} s "
        f"(inserts {info.insert_seconds:.1f} s = {households / max(info.insert_seconds, 1e-9):,.0f} households/s, "
        f"keys/sequences/analyze {info.finish_seconds:.1f} s)")
    return info


class _PgWriter:
    """COPY per table per chunk; the loaded tables' foreign keys are dropped first and added back at the end."""

    def __init__(self, conn):
        self.conn = conn
        self.fks: list[tuple[str, str, str]] = []

    def begin(self, repeats, root_table) -> None:
        self.tables = ["submissions", "submission_defs", root_table] + [t for t, _ in repeats.values()]
        with self.conn.cursor() as cur:
            cur.execute("""SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
                           FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid = ANY(%s::regclass[])
                           ORDER BY c.conname""", (self.tables,))
            self.fks = cur.fetchall()
            for table, name, _ in self.fks:
                cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        self.conn.commit()

    def write(self, out) -> None:
        with self.conn.cursor() as cur:
            for table, cols, data in out:
                with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                    copy.write(data)

    def commit(self) -> None:
        self.conn.commit()

    def finish(self, analyze: bool) -> None:
        with self.conn.cursor() as cur:
            for table, name, definition in self.fks:
                cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            for table in ("submissions", "submission_defs"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT coalesce(max(id), 1) FROM {table}))")
        self.conn.commit()
        if analyze:   # as autovacuum would shortly after a bulk insert (statistics, visibility map)
            self.conn.autocommit = True
            try:
                with self.conn.cursor() as cur:
                    for table in self.tables:
                        cur.execute(f"VACUUM (ANALYZE) {table}")
            finally:
                self.conn.autocommit = False


class _SqliteWriter:
    """executemany in transactions of ~50,000 households, foreign keys not checked during the load."""

    def __init__(self, conn):
        self.conn = conn

    def begin(self, repeats, root_table) -> None:
        self.conn.commit()
        self.conn.execute("PRAGMA foreign_keys=OFF")
        self.conn.execute("PRAGMA synchronous=OFF")

    def write(self, out) -> None:
        for table, cols, rows in out:
            self.conn.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                                  rows)

    def commit(self) -> None:
        self.conn.commit()

    def finish(self, analyze: bool) -> None:
        self.conn.commit()
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def main(argv=None) -> int:
    """A quick manual run: `python bench/_bulk.py --households 10000 --database-url sqlite:////tmp/x.db`."""
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--households", type=int, default=10_000)
    ap.add_argument("--villages", type=int, default=500)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args(argv)
    info = bulk_load(args.database_url, args.households, args.villages, args.seed, args.data_dir, args.workers)
    print(info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
