"""Benchmark: indicators per area (issue 4) — the full report for every village, cold, unchanged and after
one new submission, at 100k and 1M households, on PostgreSQL and SQLite.

    .venv/bin/python bench/indicators.py                                   # 100k households, both databases
    .venv/bin/python bench/indicators.py --households 100000,1000000 --db postgresql --repeat 3
    .venv/bin/python bench/indicators.py --db sqlite --households 20000 --repeat 1   # a quick look

For each database and size: a fresh database (PostgreSQL: a throwaway `hamlet_ind_<pid>` next to the one
--database-url names, dropped at the end; SQLite: a file in a temp dir), loaded by bench/_bulk.py with a
project, the shipped survey, a generated registry of --villages villages (province → district → commune →
village) and N synthetic households (~4 people each), stored exactly as intake stores them. Then a real
gunicorn (`--workers` workers, threaded as the Procfile ships it) and everything over HTTP:

  upload  PUT …/forms/household_digital_survey/indicators with xlsforms/household_digital_targets.xlsx
          (14 indicators, 5 target sets; area_field `village`).
  (a) first    GET …/indicators?targetSet=<first set>&level=village right after the load: computes every
               household's contributions (the cost of a new workbook over existing data). Once.
               PostgreSQL then gets ANALYZE, as autovacuum would after a table of N new rows.
  (b) cold     for each target set: gunicorn restarted (a fresh process: no report cache, no baseline),
               then GET …/indicators?targetSet=<set>&level=village — the contributions are stored, every
               household is checked (one anti-join) and the report is read from the per-area sums.
  (c) unchanged  the same request --unchanged more times right after each cold one (a worker that has not
               served it yet answers from the sums, one that has from its cache; both need the data version).
  (d) incremental  one new household POSTed through OpenRosa (HEAD + multipart POST with the app user's key,
               as ODK Collect sends it), then the report again: the time of that GET, and of POST + GET
               (how soon a new submission is in the results). The new household's village must count it.
  (e) memory   the server's peak RSS from /proc, sampled every 0.1 s: summed over master and workers, and
               the largest single process (VmHWM), during (a) and during (b)–(d).

Medians over --repeat rounds; PASS/MISS per target of the issue: at 100k households the full report for all
villages cold ≤ 1 s and unchanged ≤ 100 ms; at 1M cold ≤ 5 s; at every size a new submission in the
results within 1 s (incremental GET) — and memory bounded (the peak is printed, per size, to compare).
The client, gunicorn and the database share this machine (the CPU count and load are printed).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bulk import TARGETS, USER_AGENT, bulk_load, synthetic_submission
from _util import (
    Client,
    CpuMeter,
    Gunicorn,
    Interrupted,
    RssSampler,
    database,
    expect,
    gunicorn_log_errors,
    install_signal_handlers,
    server_env,
    sign_in,
    temp_dir,
    upload_indicators,
)

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
FORM = "household_digital_survey"
BOUNDARY = "----HamletIndicatorsBench7MA4YWxk"
COLD_100K, UNCHANGED_100K, COLD_1M, INCREMENTAL = 1.0, 0.100, 5.0, 1.0


# --- measuring ------------------------------------------------------------------------------------------

@dataclass
class Run:
    db: str
    households: int
    villages: int
    members: int = 0
    load_seconds: float = 0.0
    load_insert_seconds: float = 0.0
    first: float | None = None
    first_cpu: float | None = None
    first_db_cpu: float | None = None
    first_rss: int = 0
    first_hwm: int = 0
    cold: dict[str, list[float]] = field(default_factory=dict)     # target set -> seconds per round
    unchanged: list[float] = field(default_factory=list)
    incremental: list[float] = field(default_factory=list)        # the GET after the POST
    post_to_report: list[float] = field(default_factory=list)     # POST + GET
    steady_rss: int = 0
    steady_hwm: int = 0
    report_bytes: int = 0
    areas: int = 0
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def cold_medians(self) -> dict[str, float]:
        return {k: statistics.median(v) for k, v in self.cold.items() if v}

    def worst_cold(self) -> float | None:
        m = self.cold_medians()
        return max(m.values()) if m else None


def ms(x: float | None) -> str:
    return "n/a" if x is None else (f"{x * 1000:.0f} ms" if x < 10 else f"{x:.1f} s")


def mb(x: int) -> str:
    return f"{x / 2**20:.0f} MB"


def pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s) + 0.5) - 1))]


def report_path(project: int, target_set: str) -> str:
    return f"/v1/projects/{project}/forms/{FORM}/indicators?targetSet={target_set}&level=village"


def get_report(host: str, token: str, path: str) -> tuple[float, dict, int]:
    c = Client(host, token, timeout=7200)
    try:
        t = time.perf_counter()
        r = c.get(path)
        elapsed = time.perf_counter() - t
    finally:
        c.close()
    return elapsed, expect(r, f"GET {path}").json(), len(r.body)


def post_household(host: str, project: int, key: str, xml: bytes) -> None:
    """HEAD then a multipart POST, as ODK Collect sends a finalized form."""
    base = f"/v1/key/{key}/projects/{project}/submission?deviceID=collect%3Abenchindicators"
    headers = {"X-OpenRosa-Version": "1.0", "User-Agent": USER_AGENT}
    c = Client(host, None)
    try:
        expect(c.request("HEAD", base, headers=headers), "HEAD submission", 204)
        body = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="xml_submission_file"; '
                f'filename="submission.xml"\r\nContent-Type: text/xml\r\n\r\n').encode() + xml + \
            f"\r\n--{BOUNDARY}--\r\n".encode()
        expect(c.post(base, body=body, headers={**headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}),
               "POST submission", 201)
    finally:
        c.close()


def village_households(report: dict) -> dict[str, int]:
    return {a["code"]: a["households"] for a in report["areas"]}


# --- one database, one size ------------------------------------------------------------------------------

def run_one(kind: str, households: int, args) -> Run:
    run = Run("PostgreSQL" if kind == "postgresql" else "SQLite", households, args.villages)
    url = args.database_url if kind == "postgresql" else None
    print(f"\n=== {run.db}, {households:,} households, {args.villages} villages", flush=True)
    with temp_dir("hamlet-indicators-") as tmp, database(url, tmp, prefix="hamlet_ind") as db:
        print(f"    {db.label}; temp dir {tmp}", flush=True)
        env = server_env(tmp, db.url, HAMLET_ODK_VALIDATE="off")
        info = bulk_load(db.url, households, args.villages, args.seed, data_dir=tmp / "data",
                         workers=args.load_workers, progress=lambda m: print("    " + m, flush=True))
        run.members, run.load_seconds, run.load_insert_seconds = info.members, info.seconds, info.insert_seconds
        log = tmp / "gunicorn.log"
        srv = None

        def start() -> Gunicorn:
            return Gunicorn(env, log, workers=args.workers, timeout=7200).start(ready_timeout=120)

        try:
            srv = start()
            admin = sign_in(srv.host)
            up = upload_indicators(srv.host, admin, info.project_id, FORM, TARGETS)
            sets = up["targetSets"]
            print(f"    workbook: {up['indicators']} indicators, target sets {', '.join(sets)}; "
                  f"gunicorn {args.workers} workers (gthread, as shipped)", flush=True)

            # (a) the first report computes every household
            with RssSampler(srv) as rss, CpuMeter(srv, db) as cpu:
                run.first, first, run.report_bytes = get_report(srv.host, admin, report_path(info.project_id, sets[0]))
            run.first_cpu, run.first_db_cpu = cpu.seconds, cpu.db_seconds
            run.first_rss, run.first_hwm = rss.peak, rss.hwm
            counted = sum(village_households(first).values())
            run.areas = len(first["areas"])
            if counted != households or run.areas != args.villages:
                raise RuntimeError(f"the first report counts {counted:,} households in {run.areas} villages, "
                                   f"expected {households:,} in {args.villages}")
            print(f"    (a) first report: {ms(run.first)} ({run.areas} villages, {run.report_bytes / 1024:.0f} KB); "
                  f"server CPU {run.first_cpu:.1f} s" + (f", PostgreSQL backends {run.first_db_cpu:.1f} s"
                                                        if run.first_db_cpu is not None else "")
                  + f"; peak RSS {mb(run.first_rss)} (largest process {mb(run.first_hwm)})", flush=True)
            if db.analyze():
                run.notes.append("PostgreSQL: ANALYZE after the first report (autovacuum would, shortly after "
                                 "a table of N new rows)")

            # (b) cold and (c) unchanged, per target set
            steady_peak = steady_hwm = 0
            for r in range(args.repeat):
                for ts in sets:
                    srv.stop()
                    srv = start()
                    with RssSampler(srv) as rss:
                        t, rep, _ = get_report(srv.host, admin, report_path(info.project_id, ts))
                        run.cold.setdefault(ts, []).append(t)
                        again = [get_report(srv.host, admin, report_path(info.project_id, ts))[0]
                                 for _ in range(args.unchanged)]
                        run.unchanged += again
                    steady_peak, steady_hwm = max(steady_peak, rss.peak), max(steady_hwm, rss.hwm)
                    if sum(village_households(rep).values()) != households:
                        raise RuntimeError(f"cold report for {ts} counts a different number of households")
                    print(f"    round {r + 1}: (b) cold {ts}: {ms(t)}; (c) unchanged x{len(again)}: median "
                          f"{ms(statistics.median(again))}, max {ms(max(again))}", flush=True)

            # (d) incremental: one new household through OpenRosa, then the report
            with RssSampler(srv) as rss:
                before = village_households(get_report(srv.host, admin, report_path(info.project_id, sets[0]))[1])
                for r in range(args.repeat):
                    xml, _ = synthetic_submission(args.seed, households + r, info.villages)
                    village = xml.split(b"<village>")[1].split(b"</village>")[0].decode()
                    t0 = time.perf_counter()
                    post_household(srv.host, info.project_id, info.app_user_token, xml)
                    t, rep, _ = get_report(srv.host, admin, report_path(info.project_id, sets[0]))
                    total = time.perf_counter() - t0
                    now = village_households(rep)
                    if now.get(village) != before.get(village, 0) + 1:
                        raise RuntimeError(f"the new household in {village} is not in the report "
                                           f"({before.get(village)} → {now.get(village)})")
                    before = now
                    run.incremental.append(t)
                    run.post_to_report.append(total)
                    print(f"    round {r + 1}: (d) new household in {village}: report {ms(t)}, "
                          f"POST + report {ms(total)}", flush=True)
            run.steady_rss, run.steady_hwm = max(steady_peak, rss.peak), max(steady_hwm, rss.hwm)
        finally:
            if srv is not None:
                srv.stop()
            run.notes += gunicorn_log_errors(log)
            if args.keep_log:
                args.keep_log.mkdir(parents=True, exist_ok=True)
                if log.exists():
                    (args.keep_log / f"gunicorn-{kind}-{households}.log").write_text(log.read_text(errors="replace"))
    return run


# --- the summary -----------------------------------------------------------------------------------------

def verdicts(run: Run) -> list[str]:
    out = []

    def line(what: str, value: float | None, limit: float) -> None:
        ok = value is not None and value <= limit
        out.append(f"  [{'PASS' if ok else 'MISS'}] {what}: {ms(value)} (target ≤ {ms(limit)})")

    worst = run.worst_cold()
    if run.households <= 100_000:
        line(f"cold full report, {run.areas} villages, worst target set (median of {len(next(iter(run.cold.values()), []))})",
             worst, COLD_100K)
        line("unchanged, median", statistics.median(run.unchanged) if run.unchanged else None, UNCHANGED_100K)
    else:
        line(f"cold full report, {run.areas} villages, worst target set", worst, COLD_1M)
    line("new submission in the results (report after the POST), median",
         statistics.median(run.incremental) if run.incremental else None, INCREMENTAL)
    out.append(f"  [info] memory: peak RSS {mb(run.first_rss)} while computing every household "
               f"(largest process {mb(run.first_hwm)}); {mb(run.steady_rss)} afterwards "
               f"(largest {mb(run.steady_hwm)})")
    return out


def summary(runs: list[Run], args, notes: list[str]) -> str:
    load = os.getloadavg()
    out = ["", "=" * 110,
           f"SUMMARY bench/indicators.py — gunicorn {args.workers} workers (gthread, as shipped); {os.cpu_count()} CPUs shared by server, "
           f"database and client (load average now {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}); "
           f"medians of {args.repeat} round(s)", "=" * 110]
    for run in runs:
        out.append(f"\n{run.db}, {run.households:,} households ({run.members:,} people), {run.villages} villages:")
        if run.error:
            out.append(f"  INCOMPLETE: {run.error}")
        out.append(f"  load (bench/_bulk.py)    {run.load_seconds:.1f} s ({run.households / max(run.load_insert_seconds, 1e-9):,.0f} "
                   f"households/s inserting)")
        if run.first is not None:
            cpu = f"server CPU {run.first_cpu:.1f} s" + (f" + PostgreSQL {run.first_db_cpu:.1f} s"
                                                         if run.first_db_cpu is not None else "")
            out.append(f"  (a) first report         {ms(run.first)} ({cpu}; {run.report_bytes / 1024:.0f} KB of JSON)")
        for ts, m in run.cold_medians().items():
            out.append(f"  (b) cold {ts:<16}{ms(m):>8}  (rounds: {', '.join(ms(x) for x in run.cold[ts])})")
        if run.unchanged:
            out.append(f"  (c) unchanged            median {ms(statistics.median(run.unchanged))}, "
                       f"p90 {ms(pct(run.unchanged, 90))}, max {ms(max(run.unchanged))} (n={len(run.unchanged)})")
        if run.incremental:
            out.append(f"  (d) after a new household  report median {ms(statistics.median(run.incremental))} "
                       f"(max {ms(max(run.incremental))}); POST + report median "
                       f"{ms(statistics.median(run.post_to_report))}")
        out.append(f"  (e) peak RSS             {mb(run.first_rss)} during (a) (largest process {mb(run.first_hwm)}); "
                   f"{mb(run.steady_rss)} during (b)–(d) (largest process {mb(run.steady_hwm)})")
        out += verdicts(run)
        out += [f"  note: {n}" for n in run.notes]
    out += [""] + notes + ["=" * 110]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--households", default="100000",
                    help="comma-separated sizes (default 100000; the issue also asks for 1000000)")
    ap.add_argument("--villages", type=int, default=500)
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--database-url", default=DEFAULT_PG,
                    help=f"PostgreSQL server (an existing database, for administration; default {DEFAULT_PG})")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of (b)–(d) (default 3)")
    ap.add_argument("--unchanged", type=int, default=5, help="unchanged requests after each cold one (default 5)")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2 = cores)")
    ap.add_argument("--load-workers", type=int, default=None, help="bulk loader processes (default: CPU count)")
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    ap.add_argument("--keep-log", type=Path, help="copy the gunicorn logs to this folder")
    args = ap.parse_args(argv)
    sizes = [int(x.replace("_", "")) for x in args.households.split(",") if x.strip()]
    kinds = ["postgresql", "sqlite"] if args.db == "both" else [args.db]
    if args.repeat < 1 or not sizes or min(sizes) < 1:
        ap.error("--repeat and --households must be positive")
    install_signal_handlers()
    runs: list[Run] = []
    notes: list[str] = []
    code = 0
    try:
        for n in sizes:
            for kind in kinds:
                try:
                    runs.append(run_one(kind, n, args))
                except (KeyboardInterrupt, Interrupted):
                    raise
                except Exception as exc:  # noqa: BLE001 - report it, go on with the next
                    traceback.print_exc()
                    notes.append(f"FAILED ({kind}, {n:,}): {type(exc).__name__}: {exc}"[:500])
                    code = 1
    except (KeyboardInterrupt, Interrupted) as exc:
        notes.append(f"INTERRUPTED: {type(exc).__name__}: {exc}")
        code = 1
    print(summary(runs, args, notes), flush=True)
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in runs], indent=1, default=str))
    return code


if __name__ == "__main__":
    sys.exit(main())
