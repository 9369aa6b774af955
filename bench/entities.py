"""Benchmark: the households Entity List (issue 14) — households.csv of a 100,000-entity list, and intake with
entity creation against intake without it, on one server, in one run.

    .venv/bin/python bench/entities.py                                  # SQLite and PostgreSQL
    .venv/bin/python bench/entities.py --database-url sqlite --entities 20000 --duration 10   # a quick look
    .venv/bin/python bench/entities.py --database-url postgresql://postgres@127.0.0.1:5432/postgres --profile-dir /tmp/prof

For each database: a fresh database and gunicorn as shipped (bench/_util.Gunicorn); through the REST API a
project, the shipped survey (its `entities` sheet makes the `households` list), a copy of the survey
without the `entities` sheet and its `save_to` column under the form ID `household_digital_survey_plain`
(made here with openpyxl), the follow-up form (its `households.csv` is served from the list), and an app
user assigned to all three. Then:

1. **households.csv**: `--entities` households (100,000) are loaded into the list by bench/_bulk_entities.py
   (the server idle). Measured, `--csv-repeats` times each (default 5), each on a new connection: the
   follow-up form's manifest as Collect asks for it (app user key, `X-OpenRosa-Version`); the file at the
   manifest's `downloadUrl` (as Collect fetches it); and `GET /v1/projects/{p}/forms/household_followup/
   attachments/households.csv` with a web user's Bearer token. Per request: time to the response's
   headers (first byte), total time, size, server CPU (gunicorn + the PostgreSQL backends), and the
   server's peak RSS over the phase. The first CSV must have every entity. Target: ≤ 1 s.
2. **Intake**: `--clients` Collect-like devices (the asyncio client of bench/ingest.py, in its own
   process: HEAD then multipart POST with the app user's key) send registrations of synthetic households:
   the same households to both forms, the same XML but for the form ID and, for the shipped survey, the
   `<entity create="1">` block (entity ID = the instanceID's UUID, fresh per POST). `--rounds` rounds of
   `--duration` seconds per form, alternating (A B, then B A, …). Per form: submissions/s, upload
   (HEAD + POST) p50/p95, server CPU per submission (gunicorn + PostgreSQL backends); then the ratio
   with/without (target ≥ 0.8). Afterwards every 201 must be a stored submission, every registration
   an entity, and no entity error recorded.

The machine's load average is printed beside the figures: on a shared machine wall times move with it,
CPU per request much less.
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import statistics
import subprocess
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bulk_entities import load_entities, registration_xml, synthetic_household
from _util import (
    ROOT,
    XLSX,
    Client,
    CpuMeter,
    Gunicorn,
    Interrupted,
    Latency,
    RssSampler,
    database,
    expect,
    install_signal_handlers,
    log_problems,
    measure,
    migrated_env,
    percentile,
    profiling_args,
    python_exe,
    sign_in,
    temp_dir,
)
from ingest import BOUNDARY, Device, _readline, cpu_seconds, profile_delta, run_phase, summarise_profile

SURVEY = ROOT / "xlsforms" / "household_digital_survey.xlsx"
FOLLOWUP = ROOT / "xlsforms" / "household_followup.xlsx"
WITH, WITHOUT = "household_digital_survey", "household_digital_survey_plain"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
OPENROSA = {"X-OpenRosa-Version": "1.0"}
TARGET_CSV = 1.0        # seconds, households.csv of 100,000 entities
TARGET_RATIO = 0.8      # intake with entity creation / without


def plain_survey() -> bytes:
    """The shipped survey without its `entities` sheet and `save_to` column, under the form ID WITHOUT."""
    import openpyxl

    wb = openpyxl.load_workbook(SURVEY)
    del wb["entities"]
    survey = wb["survey"]
    header = [c.value for c in survey[1]]
    survey.delete_cols(header.index("save_to") + 1)
    settings = wb["settings"]
    header = [c.value for c in settings[1]]
    settings.cell(2, header.index("form_id") + 1).value = WITHOUT
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# =====================================================================================================
# The client process (`entities.py --client-worker`): builds the registrations of both forms, warms up,
# prints "ready", then runs a phase for each "go <form>" line and prints its JSON result.
# =====================================================================================================

class Registration(Device):
    """A Collect device sending registrations: each template is the XML split around one UUID, which is both
    the instanceID and the entity's ID, so every POST is a new submission and, with the entity block, a new
    household in the list."""

    def post_parts(self):
        chunks = self.templates[self.next_template % len(self.templates)]
        self.next_template += 1
        iid = str(uuid.UUID(int=self.rng.getrandbits(128), version=4)).encode()
        parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="xml_submission_file"; '
                 'filename="submission.xml"\r\nContent-Type: text/xml\r\n\r\n'.encode(),
                 iid.join(chunks), b"\r\n", f"--{BOUNDARY}--\r\n".encode()]
        length = sum(len(p) for p in parts)
        return [self.post_line, f"Content-Length: {length}\r\n\r\n".encode()] + parts, False


def registration_templates(n: int, seed: int, form_id: str) -> list[list[bytes]]:
    from _bulk import village_codes

    villages = village_codes(500)
    marker = "0b5e7c1d-2f3a-4b5c-8d6e-7f8091a2b3c4"
    out = []
    for i in range(n):
        h, _ = synthetic_household(seed, i, villages)
        h.instance_id = f"uuid:{marker}"
        xml = registration_xml(h, marker if form_id == WITH else None, form_id=None if form_id == WITH else form_id)
        chunks = xml.split(marker.encode())
        if len(chunks) != (3 if form_id == WITH else 2):
            raise RuntimeError(f"the UUID appears {len(chunks) - 1} times in the registration")
        out.append(chunks)
    return out


def client_worker() -> int:
    cfg = json.loads(sys.stdin.readline())
    devices = {}
    for form in (WITH, WITHOUT):
        templates = registration_templates(cfg["templates"], cfg["seed"], form)
        form_cfg = {**cfg, "seed": f"{cfg['seed']}/{form}"}
        devices[form] = [Registration(form_cfg, i, templates, b"") for i in range(cfg["clients"])]
    warm = {form: asyncio.run(run_phase(devs, cfg["warmup"], 50 * cfg["clients"], cfg["timeout"]))
            for form, devs in devices.items()}
    print(json.dumps({"ready": True, "warmup_ok": {f: p.ok for f, p in warm.items()},
                      "warmup_failures": sum(p.failures for p in warm.values()),
                      "samples": [s for p in warm.values() for s in p.samples]}), flush=True)
    while True:
        line = sys.stdin.readline().split()
        if not line or line[0] != "go":
            return 0
        c0 = cpu_seconds()
        phase = asyncio.run(run_phase(devices[line[1]], cfg["duration"], cfg["max_submissions"], cfg["timeout"]))
        print(json.dumps({"ok": phase.ok, "failures": phase.failures, "samples": phase.samples, "wall": phase.wall,
                          "cpu": cpu_seconds() - c0, "upload": phase.upload, "post": phase.post}), flush=True)


# =====================================================================================================
# The orchestrating process.
# =====================================================================================================

@dataclass
class Intake:
    form: str
    ok: int = 0
    failures: int = 0
    wall: float = 0.0
    upload: list = field(default_factory=list)
    server_cpu: float = 0.0
    db_cpu: float | None = None
    client_cpu: float = 0.0
    rounds: list = field(default_factory=list)   # submissions/s of each round
    samples: list = field(default_factory=list)
    profile: dict = field(default_factory=dict)
    warmup_ok: int = 0

    @property
    def rate(self) -> float:
        return self.ok / self.wall if self.wall else 0.0

    @property
    def ok_total(self) -> int:
        return self.ok + self.warmup_ok

    def cpu_ms(self, seconds: float | None) -> float | None:
        return None if seconds is None or not self.ok else seconds * 1000 / self.ok

    def line(self) -> str:
        db = f" + PostgreSQL {self.cpu_ms(self.db_cpu):.2f}" if self.db_cpu is not None else ""
        return (f"{self.form:32s} {self.rate:6.1f} subs/s (rounds {', '.join(f'{r:.0f}' for r in self.rounds)})  "
                f"n={self.ok}  upload p50 {percentile(self.upload, 50) * 1000:.1f} ms  p95 "
                f"{percentile(self.upload, 95) * 1000:.1f} ms  server CPU {self.cpu_ms(self.server_cpu):.2f}{db} "
                f"ms/sub  client CPU {self.cpu_ms(self.client_cpu):.2f} ms/sub  failures {self.failures}")


@dataclass
class Download:
    label: str
    first_byte: list = field(default_factory=list)
    total: list = field(default_factory=list)
    cpu: list = field(default_factory=list)
    db_cpu: list = field(default_factory=list)
    size: int = 0
    rows: int = 0
    peak_rss: int = 0
    peak_hwm: int = 0

    def line(self) -> str:
        def med(xs):
            return statistics.median(xs) if xs else float("nan")

        db = f" + PostgreSQL {med(self.db_cpu) * 1000:.0f} ms" if self.db_cpu else ""
        return (f"{self.label}: median {med(self.total) * 1000:.0f} ms (first byte {med(self.first_byte) * 1000:.0f} ms; "
                f"runs {', '.join(f'{t * 1000:.0f}' for t in self.total)} ms), {self.size / 2**20:.1f} MB, "
                f"{self.rows:,} rows, server CPU {med(self.cpu) * 1000:.0f} ms{db}, peak RSS "
                f"{self.peak_rss / 2**20:.0f} MB (largest process {self.peak_hwm / 2**20:.0f} MB)")


def timed_get(host: str, path: str, headers: dict) -> tuple[int, float, float, bytes]:
    """One GET on a new connection: (status, seconds to the response headers, seconds to the last byte, body)."""
    import http.client

    h, p = host.rsplit(":", 1)
    conn = http.client.HTTPConnection(h, int(p), timeout=300)
    try:
        t0 = time.perf_counter()
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        t1 = time.perf_counter()
        body = resp.read()
        return resp.status, t1 - t0, time.perf_counter() - t0, body
    finally:
        conn.close()


def load_average() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def setup(host: str, token: str) -> dict:
    c = Client(host, token)
    try:
        pid = expect(c.post("/v1/projects", json_body={"name": "entities bench"}), "create project").json()["id"]
        for data, form in ((SURVEY.read_bytes(), WITH), (plain_survey(), WITHOUT), (FOLLOWUP.read_bytes(), None)):
            body = expect(c.post(f"/v1/projects/{pid}/forms?publish=true&ignoreWarnings=true", body=data,
                                 headers={"Content-Type": XLSX}), f"publish {form}").json()
            if form and body.get("xmlFormId") != form:
                raise RuntimeError(f"published {body.get('xmlFormId')!r}, expected {form!r}")
        user = expect(c.post(f"/v1/projects/{pid}/app-users", json_body={"displayName": "bench enumerators"}),
                      "create app user").json()
        for form in (WITH, WITHOUT, "household_followup"):
            expect(c.post(f"/v1/projects/{pid}/forms/{form}/assignments/app-user/{user['id']}"), "assign")
        props = expect(c.get(f"/v1/projects/{pid}/datasets/households"), "the Entity List").json()["properties"]
    finally:
        c.close()
    return {"project": pid, "app_token": user["token"], "app_user": user["id"], "properties": len(props)}


def measure_csv(srv: Gunicorn, db, s: dict, admin: str, entities: int, repeats: int) -> tuple[Latency, list[Download], str]:
    key = f"/v1/key/{s['app_token']}/projects/{s['project']}"
    manifest_path = f"{key}/forms/household_followup/manifest"
    status, _, _, body = timed_get(srv.host, manifest_path, OPENROSA)
    text = body.decode()
    m = re.search(r"<filename>households\.csv</filename>\s*<hash>([^<]*)</hash>\s*<downloadUrl>http://[^/]+(.*?)"
                  r"</downloadUrl>", text, re.S)
    if status != 200 or m is None:
        raise RuntimeError(f"the follow-up form's manifest has no households.csv ({status}): {text[:1000]}")
    list_hash, download = m.group(1), m.group(2).replace("&amp;", "&")
    manifest = measure(srv, "manifest (app user key, OpenRosa)", manifest_path, OPENROSA, warmup=3,
                       requests=max(20, repeats * 4))
    out = []
    for label, path, headers in (
            ("households.csv at the manifest's downloadUrl (app user key)", download, OPENROSA),
            ("households.csv, GET …/forms/household_followup/attachments/households.csv (Bearer)",
             f"/v1/projects/{s['project']}/forms/household_followup/attachments/households.csv",
             {"Authorization": f"Bearer {admin}"})):
        d = Download(label)
        with RssSampler(srv, every=0.05) as rss:
            for i in range(repeats):
                with CpuMeter(srv, db) as cpu:
                    status, first, total, body = timed_get(srv.host, path, headers)
                if status != 200:
                    raise RuntimeError(f"{label}: HTTP {status}: {body[:500]!r}")
                if i == 0:
                    lines = body.decode("utf-8").splitlines()
                    if not lines[0].startswith("name,label,__version,") or len(lines) - 1 != entities:
                        raise RuntimeError(f"{label}: {len(lines) - 1} rows (expected {entities}), header {lines[0][:200]}")
                    d.rows, d.size = len(lines) - 1, len(body)
                d.first_byte.append(first)
                d.total.append(total)
                d.cpu.append(cpu.seconds)
                if cpu.db_seconds is not None:
                    d.db_cpu.append(cpu.db_seconds)
        d.peak_rss, d.peak_hwm = rss.peak, rss.hwm
        out.append(d)
    return manifest, out, list_hash


def measure_intake(srv: Gunicorn, db, s: dict, args) -> dict[str, Intake]:
    cfg = {"host": "127.0.0.1", "port": srv.port, "token": s["app_token"], "project": s["project"],
           "clients": args.clients, "duration": args.duration, "warmup": args.warmup,
           "max_submissions": args.max_submissions, "timeout": args.timeout, "seed": args.seed,
           "templates": args.templates}
    proc = subprocess.Popen([python_exe(), str(Path(__file__).resolve()), "--client-worker"], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    results = {form: Intake(form) for form in (WITH, WITHOUT)}
    profiles = args.profile_dir / "workers" if args.profile_dir else None
    try:
        proc.stdin.write((json.dumps(cfg) + "\n").encode())
        ready = json.loads(_readline(proc, 300 + 2 * args.warmup + args.timeout))
        if ready["warmup_failures"]:
            raise RuntimeError(f"warm-up failures: {ready['samples'][:3]}")
        for r in range(args.rounds):
            for form in ((WITH, WITHOUT) if r % 2 == 0 else (WITHOUT, WITH)):
                res = results[form]
                before = profile_delta(profiles, {}) if profiles else None
                with CpuMeter(srv, db) as cpu:
                    proc.stdin.write(f"go {form}\n".encode())
                    out = json.loads(_readline(proc, args.duration + args.timeout + 60))
                if before is not None:
                    for k, v in profile_delta(profiles, before).items():
                        res.profile[k] = res.profile.get(k, 0) + v
                res.ok += out["ok"]
                res.failures += out["failures"]
                res.samples += out["samples"]
                res.wall += out["wall"]
                res.upload += out["upload"]
                res.client_cpu += out["cpu"]
                res.server_cpu += cpu.seconds
                if cpu.db_seconds is not None:
                    res.db_cpu = (res.db_cpu or 0.0) + cpu.db_seconds
                res.rounds.append(out["ok"] / out["wall"] if out["wall"] else 0.0)
                print(f"    round {r + 1}, {form}: {res.rounds[-1]:.0f} subs/s, load average {load_average()}",
                      flush=True)
        proc.stdin.write(b"quit\n")
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for form, res in results.items():
        res.warmup_ok = ready["warmup_ok"][form]
    return results


def stored(srv: Gunicorn, admin: str, project: int, db_url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    from server.config import normalise_database_url

    c = Client(srv.host, admin)
    out = {}
    try:
        for form in (WITH, WITHOUT):
            r = expect(c.get(f"/v1/projects/{project}/forms/{form}/submissions?limit=1"), "count submissions")
            out[form] = int({k.lower(): v for k, v in r.headers.items()}["x-total-count"])
    finally:
        c.close()
    engine = create_engine(normalise_database_url(db_url))
    try:
        with engine.connect() as conn:
            out["entities"] = conn.execute(text("SELECT count(*) FROM entities")).scalar_one()
            out["entity_errors"] = conn.execute(text("SELECT count(*) FROM entity_errors")).scalar_one()
    finally:
        engine.dispose()
    return out


def run_database(url: str | None, args) -> list[str]:
    label = "SQLite" if not url else "PostgreSQL"
    report = [f"\n{label}"]
    with temp_dir("hamlet-entities-") as tmp, database(url, tmp, prefix="hamlet_ent") as db:
        log = tmp / "gunicorn.log"
        CpuMeter.db = db      # measure() too: the PostgreSQL backends' CPU beside gunicorn's
        print(f"\n== {db.label}  (temp dir {tmp}), load average {load_average()}", flush=True)
        try:
            env = migrated_env(tmp, db.url, HAMLET_ODK_VALIDATE="off")
            extra = profiling_args(args.profile_dir)
            with Gunicorn(env, log, workers=args.workers, extra_args=extra) as srv:
                admin = sign_in(srv.host)
                s = setup(srv.host, admin)
                print(f"  project {s['project']}: {WITH} (households: {s['properties']} properties), {WITHOUT}, "
                      "household_followup; loading entities …", flush=True)
                info = load_entities(db.url, s["project"], args.entities, args.seed, creator_id=s["app_user"],
                                     workers=args.load_workers, progress=lambda m: print("  " + m, flush=True))
                report.append(f"  {args.entities:,} entities loaded in {info.seconds:.1f} s")
                la = load_average()
                if "csv" not in args.parts:
                    downloads = []
                else:
                    manifest, downloads, list_hash = measure_csv(srv, db, s, admin, args.entities, args.csv_repeats)
                    report.append(f"  households.csv of {args.entities:,} entities (load average {la} → {load_average()}):")
                    report.append(f"    {manifest.line()}")
                    report += [f"    {d.line()}" for d in downloads]
                    worst = max(statistics.median(d.total) for d in downloads)
                    report.append(f"    target ≤ {TARGET_CSV:.0f} s: worst median {worst:.2f} s "
                                  f"[{'PASS' if worst <= TARGET_CSV else 'MISS'}]  (manifest hash {list_hash})")
                    print("\n".join(report[-len(downloads) - 3:]), flush=True)
                if "intake" not in args.parts:
                    return report
                la = load_average()
                print(f"  intake: {args.clients} clients, {args.rounds} × {args.duration:g} s per form, alternating",
                      flush=True)
                intake = measure_intake(srv, db, s, args)
                counts = stored(srv, admin, s["project"], db.url)
                a, b = intake[WITH], intake[WITHOUT]
                report.append(f"  intake, {args.clients} clients, {args.rounds} × {args.duration:g} s per form, "
                              f"alternating (load average {la} → {load_average()}):")
                report += [f"    {a.line()}", f"    {b.line()}"]
                ratio = a.rate / b.rate if b.rate else float("nan")
                cpu_a = (a.server_cpu + (a.db_cpu or 0)) / max(a.ok, 1)
                cpu_b = (b.server_cpu + (b.db_cpu or 0)) / max(b.ok, 1)
                report.append(f"    ratio with / without entity creation: {ratio:.3f} "
                              f"[{'PASS' if ratio >= TARGET_RATIO else 'MISS'} against ≥ {TARGET_RATIO}]; "
                              f"CPU per submission {cpu_a * 1000:.2f} vs {cpu_b * 1000:.2f} ms "
                              f"(+{(cpu_a - cpu_b) * 1000:.2f} ms for the entity; CPU ratio {cpu_b / cpu_a:.3f})")
                made = counts["entities"] - args.entities
                checks = (f"    stored: {WITH} {counts[WITH]} (201s {a.ok_total}), {WITHOUT} {counts[WITHOUT]} "
                          f"(201s {b.ok_total}), new entities {made}, entity errors {counts['entity_errors']}")
                bad = (counts[WITH] != a.ok_total or counts[WITHOUT] != b.ok_total or made != a.ok_total
                       or counts["entity_errors"] or a.failures or b.failures)
                report.append(checks + ("  MISMATCH!" if bad else "  (all consistent)"))
                for res in (a, b):
                    if res.samples:
                        report.append(f"    failures ({res.form}): {res.samples[:3]}")
                    if res.profile:
                        report.append(f"    CPU profile of the workers, {res.form}:\n" + summarise_profile(res.profile, res.ok))
                print("\n".join(report[-6:]), flush=True)
        except (Exception, KeyboardInterrupt, Interrupted) as exc:
            traceback.print_exc()
            report.append(f"  INCOMPLETE: {type(exc).__name__}: {exc}"[:400])
            if isinstance(exc, (KeyboardInterrupt, Interrupted)):
                raise
        finally:
            text = log.read_text(errors="replace") if log.exists() else ""
            problems = log_problems(text)
            report.append(f"  gunicorn log: {len(problems)} error lines" if problems else "  gunicorn log: no errors")
            if problems:
                print("\n-- gunicorn log: errors --\n" + "\n".join(problems), flush=True)
            if args.keep_log:
                (args.keep_log / f"gunicorn-entities-{label.lower()}.log").write_text(text)
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", action="append",
                    help=f"repeatable; 'sqlite' for a temp-dir SQLite file, postgresql://… for a throwaway database "
                         f"hamlet_ent_<pid> on that server (default: sqlite and {DEFAULT_PG})")
    ap.add_argument("--entities", type=int, default=100_000, help="households in the list (default 100,000)")
    ap.add_argument("--csv-repeats", type=int, default=5, help="downloads of households.csv per URL (default 5)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent devices for intake (default 8)")
    ap.add_argument("--duration", type=float, default=15, help="seconds per form per round (default 15)")
    ap.add_argument("--rounds", type=int, default=2, help="rounds, each form once per round, alternating (default 2)")
    ap.add_argument("--warmup", type=float, default=2, help="unmeasured seconds per form before the rounds")
    ap.add_argument("--max-submissions", type=int, default=100_000)
    ap.add_argument("--templates", type=int, default=1000, help="distinct households per form in the client")
    ap.add_argument("--timeout", type=float, default=30, help="per request, seconds")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2, as shipped)")
    ap.add_argument("--load-workers", type=int, default=None, help="processes building the entities (default: CPUs)")
    ap.add_argument("--seed", type=int, default=20261205)
    ap.add_argument("--profile-dir", type=Path, help="profile the gunicorn workers' CPU during intake (as "
                                                     "bench/ingest.py does); collapsed stacks go to this folder")
    ap.add_argument("--parts", type=lambda t: t.split(","), default=["csv", "intake"],
                    help="what to measure: csv, intake or both (default csv,intake)")
    ap.add_argument("--keep-log", type=Path, help="copy the gunicorn logs to this folder")
    ap.add_argument("--client-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.client_worker:
        return client_worker()
    if args.entities < 1 or args.csv_repeats < 1 or args.rounds < 1 or args.clients < 1 or args.duration <= 0:
        ap.error("--entities, --csv-repeats, --rounds and --clients must be at least 1, --duration positive")
    for folder in (args.profile_dir, args.keep_log):
        if folder:
            folder.mkdir(parents=True, exist_ok=True)
    install_signal_handlers()
    report = ["", "=" * 100, f"SUMMARY  bench/entities.py  ({os.cpu_count()} CPUs shared by server, database, client "
                             "and whatever else runs)", "=" * 100]
    code = 0
    try:
        for name in args.database_url or ["sqlite", DEFAULT_PG]:
            part = run_database(None if name == "sqlite" else name, args)
            code |= any("INCOMPLETE" in line or "MISMATCH" in line for line in part)
            report += part
    except (KeyboardInterrupt, Interrupted) as exc:
        report.append(f"INTERRUPTED: {type(exc).__name__}: {exc}")
        code = 1
    print("\n".join(report + ["=" * 100]), flush=True)
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
