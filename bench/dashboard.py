"""Benchmark: the progress dashboard page (issue 6) at 100k households — a commune, a province, the
whole project, a village with its follow-up list, and a commune with a date range.

    .venv/bin/python bench/dashboard.py                                  # PostgreSQL, 100k households
    .venv/bin/python bench/dashboard.py --db sqlite --households 20000   # a quick look

A fresh database (PostgreSQL: a throwaway `hamlet_dash_<pid>` next to the one --database-url names,
dropped at the end; SQLite: a file in a temp dir) is loaded by bench/_bulk.py: a project, the shipped
survey, a registry of --villages villages (500: 5 provinces, 20 districts, 100 communes) and N synthetic
households (~4 people each) over 30 days, stored as intake stores them. Then a real gunicorn (--workers
workers as shipped: gthread), the shipped indicators workbook uploaded with `PUT …/indicators`, a web user signed in
through the sign-in page (its cookie), and every page over HTTP:

  first   the commune's dashboard right after the upload: computes every household's contributions
          (the cost of a new workbook, paid once; PostgreSQL then gets ANALYZE, as autovacuum would).
  cold    per page and round: gunicorn restarted (fresh processes: no caches, no baseline, templates not
          compiled), then the page once.
  warm    then --warm more requests of the same page after a warm-up request to every worker; median.

For each request: the wall time seen by the client (loopback) and the CPU the server used for it —
gunicorn's processes (from /proc) and, with a local PostgreSQL, the backends serving the bench database.
Other work on this machine (another benchmark) inflates wall times, not CPU times: both are printed.
PASS/MISS: the commune's dashboard under 1 s of server time, cold and warm (and the province's, the
project's and the village's are reported against the same 1 s).
"""
from __future__ import annotations

import argparse
import http.client
import os
import re
import statistics
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bulk import TARGETS, bulk_load
from _util import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    CpuMeter,
    Gunicorn,
    Interrupted,
    database,
    gunicorn_log_errors,
    install_signal_handlers,
    server_env,
    sign_in,
    temp_dir,
    upload_indicators,
)

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
FORM = "household_digital_survey"
LIMIT = 1.0


# --- a browser's session: the sign-in page's cookie ------------------------------------------------------

class WebClient:
    """Requests with the pages' session cookie, as a browser sends them (one connection per request)."""

    def __init__(self, host: str):
        self.host, self.cookie = host, ""

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        h, p = self.host.rsplit(":", 1)
        conn = http.client.HTTPConnection(h, int(p), timeout=600)
        try:
            hdrs = {"Cookie": self.cookie} if self.cookie else {}
            hdrs.update(headers or {})
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            for name, value in resp.getheaders():
                if name.lower() == "set-cookie" and value.startswith("hamlet_session="):
                    self.cookie = value.split(";", 1)[0]
            return resp.status, data
        finally:
            conn.close()

    def sign_in(self, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> None:
        status, page = self.request("GET", "/sign-in")
        csrf = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
        body = urlencode({"email": email, "password": password, "csrf_token": csrf}).encode()
        status, _ = self.request("POST", "/sign-in", body, {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 302:
            raise RuntimeError(f"signing in through the page: HTTP {status}")


@dataclass
class Sample:
    wall: float
    cpu: float
    db_cpu: float | None
    size: int


@dataclass
class PageRun:
    label: str
    path: str
    cold: list[Sample] = field(default_factory=list)
    warm: list[Sample] = field(default_factory=list)
    check: str = ""

    @staticmethod
    def median(samples: list[Sample], attr: str) -> float | None:
        values = [getattr(s, attr) for s in samples if getattr(s, attr) is not None]
        return statistics.median(values) if values else None


def timed(web: WebClient, srv: Gunicorn, db, path: str) -> tuple[Sample, bytes]:
    with CpuMeter(srv, db) as cpu:
        t = time.perf_counter()
        status, body = web.request("GET", path)
        wall = time.perf_counter() - t
    if status != 200:
        raise RuntimeError(f"GET {path}: HTTP {status}: {body[-2000:]!r}")
    return Sample(wall, cpu.seconds, cpu.db_seconds, len(body)), body


def ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 1000:.0f} ms"


def households_shown(body: bytes) -> int:
    return int(re.search(rb'id="coverage-summary" data-households="(\d+)"', body).group(1))


# --- the run ----------------------------------------------------------------------------------------------

def run(args) -> tuple[list[PageRun], list[str]]:
    notes: list[str] = []
    url = args.database_url if args.db == "postgresql" else None
    with temp_dir("hamlet-dashboard-") as tmp, database(url, tmp, prefix="hamlet_dash") as db:
        print(f"    {db.label}; temp dir {tmp}", flush=True)
        env = server_env(tmp, db.url, HAMLET_ODK_VALIDATE="off")
        info = bulk_load(db.url, args.households, args.villages, args.seed, data_dir=tmp / "data",
                         workers=args.load_workers, progress=lambda m: print("    " + m, flush=True))
        village = info.villages[0]
        commune, province = village.rsplit("-", 1)[0], village.split("-")[0]
        base = f"/projects/{info.project_id}/forms/{FORM}/dashboard"
        pages = [PageRun("commune", f"{base}?area={commune}"),
                 PageRun("province", f"{base}?area={province}"),
                 PageRun("whole project", base),
                 PageRun("village + follow-up list", f"{base}?area={village}"),
                 PageRun("commune, 7 days", f"{base}?area={commune}&from={args.since}&to={args.until}")]
        log = tmp / "gunicorn.log"
        srv = None

        def start() -> Gunicorn:
            return Gunicorn(env, log, workers=args.workers, timeout=3600).start(ready_timeout=120)

        try:
            srv = start()
            up = upload_indicators(srv.host, sign_in(srv.host), info.project_id, FORM, TARGETS)
            print(f"    workbook: {up['indicators']} indicators, target sets {', '.join(up['targetSets'])}; "
                  f"gunicorn {args.workers} workers (gthread, as shipped)", flush=True)
            web = WebClient(srv.host)
            web.sign_in()
            first, body = timed(web, srv, db, pages[0].path)
            print(f"    first (computes every household): {ms(first.wall)}, server CPU {ms(first.cpu)}"
                  + (f" + PostgreSQL {ms(first.db_cpu)}" if first.db_cpu is not None else ""), flush=True)
            if db.analyze():
                notes.append("PostgreSQL: ANALYZE after the first page (autovacuum would, shortly after a table "
                             "of N new rows)")
            _, body = timed(web, srv, db, pages[2].path)
            if households_shown(body) != args.households:
                raise RuntimeError(f"the whole project shows {households_shown(body)} households, "
                                   f"expected {args.households}")
            for r in range(args.repeat):
                for page in pages:
                    srv.stop()
                    srv = start()
                    web = WebClient(srv.host)
                    web.sign_in()       # a page of its own: the sign-in is not part of the dashboard's time
                    sample, body = timed(web, srv, db, page.path)
                    page.cold.append(sample)
                    for _ in range(args.workers):             # every worker has served it once
                        timed(web, srv, db, page.path)
                    warm = [timed(web, srv, db, page.path)[0] for _ in range(args.warm)]
                    page.warm += warm
                    page.check = f"{households_shown(body):,} households, {sample.size / 1024:.0f} KB"
                    print(f"    round {r + 1}: {page.label:<26} cold {ms(sample.wall)} (CPU {ms(sample.cpu)}"
                          + (f" + PG {ms(sample.db_cpu)}" if sample.db_cpu is not None else "")
                          + f"); warm median {ms(PageRun.median(warm, 'wall'))} (CPU "
                          f"{ms(PageRun.median(warm, 'cpu'))}"
                          + (f" + PG {ms(PageRun.median(warm, 'db_cpu'))}" if warm[0].db_cpu is not None else "")
                          + f"); {page.check}", flush=True)
        finally:
            if srv is not None:
                srv.stop()
            notes += gunicorn_log_errors(log)
    return pages, notes


def summary(pages: list[PageRun], args, notes: list[str]) -> str:
    load = os.getloadavg()
    out = ["", "=" * 104,
           f"SUMMARY bench/dashboard.py — {args.db}, {args.households:,} households, {args.villages} villages; "
           f"gunicorn {args.workers} workers (gthread, as shipped); {os.cpu_count()} CPUs shared by server, database and client "
           f"(load average now {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}); medians of {args.repeat} cold and "
           f"{args.repeat * args.warm} warm requests",
           "=" * 104,
           f"{'page':<28}{'cold wall':>11}{'cold CPU':>10}{'+ PG':>8}{'warm wall':>11}{'warm CPU':>10}{'+ PG':>8}   shows"]
    for p in pages:
        out.append(f"{p.label:<28}{ms(PageRun.median(p.cold, 'wall')):>11}{ms(PageRun.median(p.cold, 'cpu')):>10}"
                   f"{ms(PageRun.median(p.cold, 'db_cpu')):>8}{ms(PageRun.median(p.warm, 'wall')):>11}"
                   f"{ms(PageRun.median(p.warm, 'cpu')):>10}{ms(PageRun.median(p.warm, 'db_cpu')):>8}   {p.check}")
    out.append("")
    for p in pages:
        for kind, samples in (("cold", p.cold), ("warm", p.warm)):
            wall = PageRun.median(samples, "wall")
            cpu = (PageRun.median(samples, "cpu") or 0) + (PageRun.median(samples, "db_cpu") or 0)
            ok = wall is not None and wall < LIMIT
            out.append(f"  [{'PASS' if ok else 'MISS'}] {p.label}, {kind}: median {ms(wall)} wall "
                       f"(server + database CPU {ms(cpu)}); target < {ms(LIMIT)}")
    out += [f"  note: {n}" for n in notes] + ["=" * 104]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    ap.add_argument("--database-url", default=os.environ.get("HAMLET_BENCH_DATABASE_URL", DEFAULT_PG),
                    help="an existing PostgreSQL database used for administration (default: %(default)s)")
    ap.add_argument("--households", type=int, default=100_000)
    ap.add_argument("--villages", type=int, default=500)
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--repeat", type=int, default=5, help="cold rounds per page (default %(default)s)")
    ap.add_argument("--warm", type=int, default=5, help="warm requests per page and round (default %(default)s)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--load-workers", type=int, default=None)
    ap.add_argument("--since", default=None, help="the date range page's from (default: 7 days ago, a date)")
    ap.add_argument("--until", default=None)
    args = ap.parse_args(argv)
    if args.since is None or args.until is None:
        from datetime import date, timedelta

        today = date.today()
        args.since = args.since or (today - timedelta(days=7)).isoformat()
        args.until = args.until or today.isoformat()
    install_signal_handlers()
    print(f"=== bench/dashboard.py: {args.db}, {args.households:,} households, {args.villages} villages", flush=True)
    try:
        pages, notes = run(args)
    except (Interrupted, KeyboardInterrupt) as exc:
        print(f"interrupted: {exc}", file=sys.stderr)
        return 130
    except Exception:  # noqa: BLE001 - print what failed, then fail
        traceback.print_exc()
        return 1
    print(summary(pages, args, notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
