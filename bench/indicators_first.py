"""Benchmark: the first indicator report after a new workbook computes every household (issue 19) — that
computation alone, in-process, repeated, with its CPU split between Python and PostgreSQL.

    .venv/bin/python bench/indicators_first.py                                   # fresh 100k, PostgreSQL
    .venv/bin/python bench/indicators_first.py --keep h_mine_100k                # load once, keep it ...
    .venv/bin/python bench/indicators_first.py --reuse h_mine_100k --repeat 5    # ... measure again later
    .venv/bin/python bench/indicators_first.py --db sqlite --households 20000

bench/indicators.py measures the same thing over HTTP, once per run, as (a) "first"; this one isolates it:
a database loaded by bench/_bulk.py (a throwaway `--prefix_<pid>`, or `--keep NAME` / `--reuse NAME`), the
shipped workbook saved (`xlsforms/household_digital_targets.xlsx`), then `--repeat` rounds of: drop the
derived tables (as a new workbook does), `refresh_if_changed` — every household computed and stored. Per
round: wall time, this process's CPU and the CPU of its PostgreSQL backend (from /proc: the server must be
on this machine). Medians are printed, with an MD5 of every stored row (`ic{form}` and `ia{form}`) so two
versions of the code can be shown to store the same numbers. The machine's load average is printed too:
on a shared machine compare CPU times, not wall times.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bulk import ROOT, TARGETS, bulk_load
from _util import _plain_pg, _with_dbname, database, temp_dir

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def _backend_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(url: str, repeat: int) -> tuple[list[tuple[int, float, float, float]], str]:
    """`repeat` full computations; (households, wall, CPU, PostgreSQL CPU) each, and the stored rows' MD5."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from sqlalchemy import select, text

    from server.config import normalise_database_url
    from server.db import make_engine, make_sessionmaker
    from server.indicators import contributions as store
    from server.indicators.workbook import Workbook, parse_workbook
    from server.models.areas import registry_codes
    from server.models.forms import Form, FormDef
    from server.models.indicators import indicator_set, save_workbook
    from server.xforms.schema import read_schema

    engine = make_engine(normalise_database_url(url))
    sessions = make_sessionmaker(engine)
    with sessions() as db:
        form = db.scalars(select(Form).where(Form.xml_form_id == "household_digital_survey")).one()
        if indicator_set(db, form.id) is None:
            schema = read_schema(db.get_one(FormDef, form.current_def_id).xml)
            save_workbook(db, form.id, parse_workbook(TARGETS.read_bytes(), schema,
                                                      registry_codes(db, form.project_id)), None)
            db.commit()
        form_id = form.id
    rounds = []
    for _ in range(repeat):
        with sessions() as db:
            found = indicator_set(db, form_id)
            assert found is not None
            store.drop_contributions(db, form_id)
            db.commit()
            workbook = Workbook.from_json(found.definition)
            version = store.data_version(db, form_id)
            pid = db.execute(text("SELECT pg_backend_pid()")).scalar() if engine.dialect.name == "postgresql" else None
            wall, cpu, pg = time.perf_counter(), time.process_time(), _backend_seconds(pid)
            done = store.refresh_if_changed(db, form_id, workbook, found.generation, version)
            rounds.append((done, time.perf_counter() - wall, time.process_time() - cpu, _backend_seconds(pid) - pg))
        print(f"    {done:,} households: wall {rounds[-1][1]:.2f} s, CPU {rounds[-1][2]:.2f} s"
              + (f", PostgreSQL backend {rounds[-1][3]:.2f} s" if pid else ""), flush=True)
    digest = hashlib.md5()
    with sessions() as db:
        for table, order in ((f"ic{form_id}", "submission_id"), (f"ia{form_id}", "area_code, state")):
            for row in db.execute(text(f"SELECT * FROM {table} ORDER BY {order}")):
                digest.update(repr(tuple(row)).encode())
    engine.dispose()
    return rounds, digest.hexdigest()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    ap.add_argument("--database-url", default=DEFAULT_PG, help=f"the PostgreSQL server (default {DEFAULT_PG})")
    ap.add_argument("--households", type=int, default=100_000)
    ap.add_argument("--villages", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--prefix", default="hamlet_indfirst", help="name prefix of the throwaway database")
    ap.add_argument("--keep", metavar="NAME", help="load into this new PostgreSQL database and keep it")
    ap.add_argument("--reuse", metavar="NAME", help="measure an existing database loaded by bench/_bulk.py")
    args = ap.parse_args(argv)
    print(f"bench/indicators_first.py: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    with temp_dir("hamlet-indfirst-") as tmp:
        if args.db == "postgresql" and (args.keep or args.reuse):
            import psycopg

            admin = _plain_pg(args.database_url)
            url = _with_dbname(admin, args.keep or args.reuse)
            if args.keep:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{args.keep}"')
                bulk_load(url, args.households, args.villages, data_dir=tmp / "data")
            rounds, digest = measure(url, args.repeat)
        else:
            with database(args.database_url if args.db == "postgresql" else None, tmp, prefix=args.prefix) as db:
                bulk_load(db.url, args.households, args.villages, data_dir=tmp / "data")
                rounds, digest = measure(db.url, args.repeat)
    households = rounds[0][0]
    print(f"\nfirst computation of every household ({households:,}), medians of {len(rounds)}: "
          f"wall {statistics.median(r[1] for r in rounds):.2f} s, CPU {statistics.median(r[2] for r in rounds):.2f} s"
          + (f", PostgreSQL backend CPU {statistics.median(r[3] for r in rounds):.2f} s" if args.db == "postgresql" else "")
          + f"; load average now {os.getloadavg()[0]:.1f}; stored rows MD5 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
