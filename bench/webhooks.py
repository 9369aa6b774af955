"""Benchmark: a slow or dead webhook endpoint never slows intake (issue 18) — intake of the shipped survey
without a webhook, with a webhook to a dead endpoint and with one to a slow endpoint, on one server, in one
run, for both job modes.

    .venv/bin/python bench/webhooks.py                                   # SQLite and PostgreSQL, both modes
    .venv/bin/python bench/webhooks.py --database-url postgresql://postgres@127.0.0.1:5432/postgres --modes rabbitmq
    .venv/bin/python bench/webhooks.py --database-url sqlite --rounds 2 --duration 5      # a quick look

For each database and job mode: a fresh database, a receiver process that answers each POST after
`--slow-seconds` (5 s), a closed local port for the dead endpoint, and gunicorn as shipped
(bench/_util.Gunicorn) with HAMLET_WEBHOOK_ALLOW_PRIVATE=1 (the receivers are on loopback). Through the
REST API: a project, the shipped survey three times under three form IDs (the survey as shipped; copies
`…_dead` and `…_slow` made here with openpyxl, identical but for the ID), a webhook on `…_dead` to the
closed port and one on `…_slow` to the slow receiver, and an app user assigned to all three.

Job modes:
- **in-process** (`HAMLET_BROKER_URL` unset, the embedded default): deliveries run on worker threads inside
  the gunicorn workers, so their CPU is counted in the server's;
- **rabbitmq** (`--broker-url`, amqp://guest:guest@127.0.0.1:5672/%2F): a unique `HAMLET_JOBS_QUEUE`, a
  `hamlet jobs worker` process started beside gunicorn (its CPU reported apart and added to the server's),
  and the queue with its `.DQ` and `.XQ` deleted afterwards.

Intake: `--clients` Collect-like devices (the asyncio client of bench/ingest.py, in its own process: HEAD
then multipart POST with the app user's key) send synthetic households. `--rounds` rounds of
`--duration` seconds per form, the order alternating (none dead slow, then slow dead none, …) so that
the machine's drift and the deliveries still running from earlier rounds (a dead endpoint's retries after
30 s, 1 min…; the slow receiver's backlog) fall on every form alike. Per form: submissions/s (all rounds,
and the median round), upload (HEAD + POST) p50/p95, server CPU per submission (gunicorn + the
PostgreSQL backends of the bench database + the jobs worker); then the ratio with/without a webhook
(target ≥ 0.95: no measurable effect). Afterwards every 201 must be a stored submission, and every stored
submission of a form with a webhook must have exactly one delivery row for its hook (none for the plain
form); the deliveries' statuses are printed.

The machine's load average is printed beside the figures: on a shared machine wall times move with it,
CPU per submission much less.
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import (
    ROOT,
    XLSX,
    Client,
    CpuMeter,
    Gunicorn,
    Interrupted,
    _cpu_ticks,
    _delta_seconds,
    database,
    expect,
    free_port,
    hamlet_exe,
    install_signal_handlers,
    log_problems,
    migrated_env,
    percentile,
    profiling_args,
    python_exe,
    sign_in,
    temp_dir,
)
from ingest import (
    Device,
    Template,
    _readline,
    build_templates,
    cpu_seconds,
    profile_delta,
    run_phase,
    summarise_profile,
)

SURVEY = ROOT / "xlsforms" / "household_digital_survey.xlsx"
PLAIN = "household_digital_survey"
DEAD, SLOW = f"{PLAIN}_dead", f"{PLAIN}_slow"
FORMS = (PLAIN, DEAD, SLOW)
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_BROKER = "amqp://guest:guest@127.0.0.1:5672/%2F"
TARGET_RATIO = 0.95     # intake with a webhook / without


def survey_as(form_id: str) -> bytes:
    """The shipped survey under another form ID (and otherwise byte for byte the same questions)."""
    if form_id == PLAIN:
        return SURVEY.read_bytes()
    import openpyxl

    wb = openpyxl.load_workbook(SURVEY)
    settings = wb["settings"]
    header = [c.value for c in settings[1]]
    settings.cell(2, header.index("form_id") + 1).value = form_id
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def retarget(templates: list[Template], form_id: str) -> list[Template]:
    """The same households as submissions of another form ID (the root element's `id`)."""
    old, new = f'id="{PLAIN}"'.encode(), f'id="{form_id}"'.encode()
    out = []
    for t in templates:
        first, *rest = t.xml_parts
        if first.count(old) != 1:
            raise RuntimeError(f"the submission's root does not carry {old.decode()} once")
        out.append(Template((first.replace(old, new), *rest), t.photo_name))
    return out


def paired_ratios(with_hook: list[float], without: list[float]) -> list[float]:
    """Each round's figure with a webhook over the same round's without: the machine's drift between
    rounds (other sessions share it) cancels out of each ratio."""
    return [a / b if b else float("nan") for a, b in zip(with_hook, without, strict=True)]


def round_order(rounds: int, forms: tuple[str, ...] = FORMS) -> list[tuple[str, ...]]:
    """A B C, then C B A, then A B C…: each form runs early and late alike."""
    return [forms if r % 2 == 0 else tuple(reversed(forms)) for r in range(rounds)]


# =====================================================================================================
# The slow receiver (`webhooks.py --receiver PORT SECONDS`): answers each POST 200 after SECONDS.
# =====================================================================================================

class SlowReceiver(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, port: int, delay: float):
        self.delay, self.received = delay, 0
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(handler):
                handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
                time.sleep(self.delay)
                with self._lock:
                    self.received += 1
                handler.send_response(200)
                handler.send_header("Content-Length", "0")
                handler.end_headers()

            def log_message(handler, *args):
                pass

        super().__init__(("127.0.0.1", port), Handler)


def receiver_main(port: int, delay: float) -> int:
    server = SlowReceiver(port, delay)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print("ready", flush=True)
    server.serve_forever()
    print(json.dumps({"received": server.received}), flush=True)
    return 0


# =====================================================================================================
# The client process (`webhooks.py --client-worker`): builds the devices of the three forms, warms up,
# prints "ready", then runs a phase for each "go <form>" line and prints its JSON result.
# =====================================================================================================

def client_worker() -> int:
    cfg = json.loads(sys.stdin.readline())
    base = build_templates(cfg["templates"], cfg["seed"], cfg["xml_bytes"], 0.0)
    devices = {}
    for form in FORMS:
        form_cfg = {**cfg, "seed": f"{cfg['seed']}/{form}"}
        devices[form] = [Device(form_cfg, i, retarget(base, form), b"") for i in range(cfg["clients"])]
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
                          "cpu": cpu_seconds() - c0, "upload": phase.upload}), flush=True)


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
    worker_cpu: float | None = None
    client_cpu: float = 0.0
    rounds: list = field(default_factory=list)   # submissions/s of each round
    rounds_cpu: list = field(default_factory=list)   # server CPU ms per submission of each round
    samples: list = field(default_factory=list)
    warmup_ok: int = 0
    profile: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.ok / self.wall if self.wall else 0.0

    @property
    def median_round(self) -> float:
        return statistics.median(self.rounds) if self.rounds else 0.0

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.rounds_cpu) if self.rounds_cpu else 0.0

    @property
    def ok_total(self) -> int:
        return self.ok + self.warmup_ok

    def cpu_ms(self, seconds: float | None) -> float:
        return 0.0 if seconds is None or not self.ok else seconds * 1000 / self.ok

    @property
    def total_cpu_ms(self) -> float:
        return self.cpu_ms(self.server_cpu + (self.db_cpu or 0.0) + (self.worker_cpu or 0.0))

    def line(self) -> str:
        cpu = f"gunicorn {self.cpu_ms(self.server_cpu):.2f}"
        if self.db_cpu is not None:
            cpu += f" + PostgreSQL {self.cpu_ms(self.db_cpu):.2f}"
        if self.worker_cpu is not None:
            cpu += f" + jobs worker {self.cpu_ms(self.worker_cpu):.2f}"
        return (f"{self.form:30s} {self.rate:6.1f} subs/s (median round {self.median_round:.1f}; rounds "
                f"{', '.join(f'{r:.0f}' for r in self.rounds)})  n={self.ok}  upload p50 "
                f"{percentile(self.upload, 50) * 1000:.1f} ms  p95 {percentile(self.upload, 95) * 1000:.1f} ms  "
                f"server CPU {self.total_cpu_ms:.2f} ms/sub ({cpu}; median round {self.median_cpu:.2f})  client CPU {self.cpu_ms(self.client_cpu):.2f} "
                f"ms/sub  failures {self.failures}")


def load_average() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


class JobsWorker:
    """`hamlet jobs worker --threads N` beside gunicorn, logging to a file; its CPU (and its children's)."""

    def __init__(self, env: dict, log: Path, threads: int):
        self.env, self.log, self.threads = env, log, threads
        self.proc: subprocess.Popen | None = None

    def start(self) -> JobsWorker:
        self._fh = open(self.log, "ab")  # noqa: SIM115 (closed by stop())
        self.proc = subprocess.Popen(hamlet_exe() + ["jobs", "worker", "--threads", str(self.threads)], env=self.env,
                                     cwd=ROOT, stdout=self._fh, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while "running jobs from queue" not in self.log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"hamlet jobs worker did not start:\n{self.log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)
        return self

    def cpu_ticks(self) -> dict[int, int]:
        return {self.proc.pid: _cpu_ticks(self.proc.pid)} if self.proc else {}

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc = None
        self._fh.close()


def drop_queues(broker_url: str, name: str) -> None:
    """The run's queue, with Dramatiq's delay (.DQ) and dead-letter (.XQ) queues, leave the broker."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        channel = connection.channel()
        for queue in (name, f"{name}.DQ", f"{name}.XQ"):
            channel.queue_delete(queue)
    finally:
        connection.close()


def setup(host: str, token: str, dead_url: str, slow_url: str) -> dict:
    c = Client(host, token)
    try:
        pid = expect(c.post("/v1/projects", json_body={"name": "webhooks bench"}), "create project").json()["id"]
        for form in FORMS:
            body = expect(c.post(f"/v1/projects/{pid}/forms?publish=true&ignoreWarnings=true", body=survey_as(form),
                                 headers={"Content-Type": XLSX}), f"publish {form}").json()
            if body.get("xmlFormId") != form:
                raise RuntimeError(f"published {body.get('xmlFormId')!r}, expected {form!r}")
        hooks = {}
        for form, url in ((DEAD, dead_url), (SLOW, slow_url)):
            hooks[form] = expect(c.post(f"/v1/projects/{pid}/forms/{form}/webhooks", json_body={"url": url}),
                                 f"webhook on {form}").json()["id"]
        user = expect(c.post(f"/v1/projects/{pid}/app-users", json_body={"displayName": "bench enumerators"}),
                      "create app user").json()
        for form in FORMS:
            expect(c.post(f"/v1/projects/{pid}/forms/{form}/assignments/app-user/{user['id']}"), "assign")
    finally:
        c.close()
    return {"project": pid, "app_token": user["token"], "hooks": hooks}


def measure_intake(srv: Gunicorn, db, worker: JobsWorker | None, s: dict, args) -> dict[str, Intake]:
    cfg = {"host": "127.0.0.1", "port": srv.port, "token": s["app_token"], "project": s["project"],
           "clients": args.clients, "duration": args.duration, "warmup": args.warmup,
           "max_submissions": args.max_submissions, "timeout": args.timeout, "seed": args.seed,
           "templates": args.templates, "xml_bytes": args.xml_kb * 1024}
    proc = subprocess.Popen([python_exe(), str(Path(__file__).resolve()), "--client-worker"], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    results = {form: Intake(form) for form in FORMS}
    profiles = args.profile_dir / "workers" if args.profile_dir else None
    try:
        proc.stdin.write((json.dumps(cfg) + "\n").encode())
        ready = json.loads(_readline(proc, 300 + 3 * args.warmup + args.timeout))
        if ready["warmup_failures"]:
            raise RuntimeError(f"warm-up failures: {ready['samples'][:3]}")
        for r, order in enumerate(round_order(args.rounds)):
            for form in order:
                res = results[form]
                before = profile_delta(profiles, {}) if profiles else None
                w0 = worker.cpu_ticks() if worker else None
                with CpuMeter(srv, db) as cpu:
                    proc.stdin.write(f"go {form}\n".encode())
                    out = json.loads(_readline(proc, args.duration + args.timeout + 60))
                spent = cpu.seconds + (cpu.db_seconds or 0.0)
                if worker:
                    w = _delta_seconds(w0, worker.cpu_ticks())
                    res.worker_cpu = (res.worker_cpu or 0.0) + w
                    spent += w
                if before is not None:
                    for k, v in profile_delta(profiles, before).items():
                        res.profile[k] = res.profile.get(k, 0) + v
                res.rounds_cpu.append(spent * 1000 / out["ok"] if out["ok"] else 0.0)
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


def stored(srv: Gunicorn, admin: str, s: dict, db_url: str) -> dict:
    """Per form: submissions the API counts, its submissions without a delivery for its hook, deliveries per
    hook (and how many distinct submissions they cover), and the hooks' deliveries by status."""
    from sqlalchemy import create_engine, text

    from server.config import normalise_database_url

    c = Client(srv.host, admin)
    out: dict = {"stored": {}, "missing": {}, "deliveries": {}, "distinct": {}, "status": {}}
    try:
        for form in FORMS:
            r = expect(c.get(f"/v1/projects/{s['project']}/forms/{form}/submissions?limit=1"), "count submissions")
            out["stored"][form] = int({k.lower(): v for k, v in r.headers.items()}["x-total-count"])
    finally:
        c.close()
    engine = create_engine(normalise_database_url(db_url))
    try:
        with engine.connect() as conn:
            for form in FORMS:
                hook = s["hooks"].get(form)
                out["missing"][form] = conn.execute(text(
                    "SELECT count(*) FROM submission_defs sd JOIN forms f ON f.id = sd.form_id "
                    "WHERE f.xml_form_id = :form AND f.project_id = :p AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d "
                    "WHERE d.submission_def_id = sd.id AND d.webhook_id = :hook)"),
                    {"form": form, "p": s["project"], "hook": hook or -1}).scalar_one()
                row = conn.execute(text(
                    "SELECT count(*), count(DISTINCT d.submission_def_id) FROM webhook_deliveries d "
                    "JOIN submission_defs sd ON sd.id = d.submission_def_id JOIN forms f ON f.id = sd.form_id "
                    "WHERE f.xml_form_id = :form AND f.project_id = :p"), {"form": form, "p": s["project"]}).one()
                out["deliveries"][form], out["distinct"][form] = row[0], row[1]
                if hook:
                    out["status"][form] = dict(conn.execute(text(
                        "SELECT status, count(*) FROM webhook_deliveries WHERE webhook_id = :hook GROUP BY status "
                        "ORDER BY status"), {"hook": hook}).all())
    finally:
        engine.dispose()
    return out


def consistency(intake: dict[str, Intake], counts: dict) -> tuple[str, bool]:
    """The checks' line, and whether anything is off: 201s = stored; one delivery per stored submission of a
    hooked form; none for the plain form; no failed request."""
    parts, bad = [], False
    for form in FORMS:
        res, n = intake[form], counts["stored"][form]
        hooked = form != PLAIN
        want_deliveries = n if hooked else 0
        off = (n != res.ok_total or counts["deliveries"][form] != want_deliveries
               or counts["distinct"][form] != want_deliveries or (hooked and counts["missing"][form]) or res.failures)
        bad |= bool(off)
        status = ", ".join(f"{k} {v}" for k, v in counts["status"].get(form, {}).items())
        parts.append(f"{form}: stored {n} (201s {res.ok_total}), deliveries {counts['deliveries'][form]}"
                     + (f" ({status})" if status else "")
                     + (f", {counts['missing'][form]} without one" if hooked and counts["missing"][form] else ""))
    return "; ".join(parts), bad


def run_mode(url: str | None, mode: str, args) -> list[str]:
    label = ("SQLite" if not url else "PostgreSQL") + f", jobs {mode}"
    report = [f"\n{label}"]
    slug = "sq" if not url else "pg"
    with temp_dir("hamlet-webhooks-") as tmp, database(url, tmp, prefix=f"h_hookbench_{slug}_{mode[:6]}") as db:
        log, worker_log, receiver_log = tmp / "gunicorn.log", tmp / "worker.log", tmp / "receiver.log"
        CpuMeter.db = db
        print(f"\n== {db.label}, jobs {mode}  (temp dir {tmp}), load average {load_average()}", flush=True)
        queue = f"hamlet-bench-{os.getpid()}-{secrets.token_hex(3)}"
        extra = {"HAMLET_ODK_VALIDATE": "off", "HAMLET_WEBHOOK_ALLOW_PRIVATE": "1"}
        if mode == "rabbitmq":
            extra.update(HAMLET_BROKER_URL=args.broker_url, HAMLET_JOBS_QUEUE=queue)
        receiver_port, dead_port = free_port(), free_port()
        receiver = subprocess.Popen([python_exe(), str(Path(__file__).resolve()), "--receiver", str(receiver_port),
                                     str(args.slow_seconds)], cwd=ROOT, stdout=subprocess.PIPE,
                                    stderr=open(receiver_log, "ab"), bufsize=0)  # noqa: SIM115
        worker = None
        try:
            if _readline(receiver, 30).strip() != b"ready":
                raise RuntimeError("the slow receiver did not start")
            env = migrated_env(tmp, db.url, **extra)
            with Gunicorn(env, log, workers=args.workers, extra_args=profiling_args(args.profile_dir)) as srv:
                if mode == "rabbitmq":
                    worker = JobsWorker(env, worker_log, args.worker_threads).start()
                admin = sign_in(srv.host)
                s = setup(srv.host, admin, f"http://127.0.0.1:{dead_port}/hook",
                          f"http://127.0.0.1:{receiver_port}/hook")
                print(f"  project {s['project']}: {', '.join(FORMS)}; webhooks {s['hooks']}; intake: {args.clients} "
                      f"clients, {args.rounds} × {args.duration:g} s per form, alternating", flush=True)
                la = load_average()
                intake = measure_intake(srv, db, worker, s, args)
                counts = stored(srv, admin, s, db.url)
                report.append(f"  intake, {args.clients} clients, {args.rounds} × {args.duration:g} s per form, "
                              f"alternating (load average {la} → {load_average()}):")
                report += [f"    {intake[f].line()}" for f in FORMS]
                base = intake[PLAIN]
                for form in (DEAD, SLOW):
                    res = intake[form]
                    ratios = paired_ratios(res.rounds, base.rounds)
                    ratio = statistics.median(ratios)
                    overall = res.rate / base.rate if base.rate else float("nan")
                    cpu_ratio = statistics.median(paired_ratios(base.rounds_cpu, res.rounds_cpu))
                    p50 = percentile(res.upload, 50) / percentile(base.upload, 50)
                    report.append(f"    {form.rsplit('_', 1)[1]} endpoint / none: rate {ratio:.3f} (median of the "
                                  f"rounds' ratios {', '.join(f'{x:.2f}' for x in ratios)}; all rounds {overall:.3f}) "
                                  f"[{'PASS' if ratio >= TARGET_RATIO else 'MISS'} against ≥ {TARGET_RATIO}], upload p50 "
                                  f"×{p50:.2f}, CPU per submission {res.median_cpu:.2f} vs {base.median_cpu:.2f} ms "
                                  f"(median rounds; CPU ratio {cpu_ratio:.3f}, median of the rounds')")
                line, bad = consistency(intake, counts)
                report.append("    checks: " + line + ("  MISMATCH!" if bad else "  (all consistent)"))
                for res in intake.values():
                    if res.samples:
                        report.append(f"    failures ({res.form}): {res.samples[:3]}")
                    if res.profile:
                        report.append(f"    CPU profile of the workers, {res.form}:\n" + summarise_profile(res.profile, res.ok))
                print("\n".join(report[-7:]), flush=True)
        except (Exception, KeyboardInterrupt, Interrupted) as exc:
            traceback.print_exc()
            report.append(f"  INCOMPLETE: {type(exc).__name__}: {exc}"[:400])
            if isinstance(exc, (KeyboardInterrupt, Interrupted)):
                raise
        finally:
            if worker is not None:
                worker.stop()
            if receiver.poll() is None:
                receiver.terminate()
                try:
                    receiver.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    receiver.kill()
                    receiver.wait()
            if mode == "rabbitmq":
                try:
                    drop_queues(args.broker_url, queue)
                except Exception as exc:  # noqa: BLE001 - report, don't mask the real error
                    report.append(f"  warning: could not delete the queues {queue}(.DQ, .XQ): {exc}")
            for name, path in (("gunicorn", log), ("jobs worker", worker_log)):
                problems = log_problems(path.read_text(errors="replace") if path.exists() else "")
                report.append(f"  {name} log: {len(problems)} error lines" if problems else f"  {name} log: no errors")
                if problems:
                    print(f"\n-- {name} log: errors --\n" + "\n".join(problems), flush=True)
                if args.keep_log and path.exists():
                    (args.keep_log / f"{name.replace(' ', '-')}-{slug}-{mode}.log").write_text(path.read_text(errors="replace"))
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", action="append",
                    help=f"repeatable; 'sqlite' for a temp-dir SQLite file, postgresql://… for a throwaway database "
                         f"h_hookbench_…_<pid> on that server (default: sqlite and {DEFAULT_PG})")
    ap.add_argument("--modes", type=lambda t: t.split(","), default=["in-process", "rabbitmq"],
                    help="job modes: in-process, rabbitmq or both (default both)")
    ap.add_argument("--broker-url", default=DEFAULT_BROKER, help=f"RabbitMQ for the rabbitmq mode ({DEFAULT_BROKER})")
    ap.add_argument("--worker-threads", type=int, default=4, help="threads of `hamlet jobs worker` (default 4)")
    ap.add_argument("--slow-seconds", type=float, default=5, help="the slow receiver's delay per request (default 5)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent devices (default 8)")
    ap.add_argument("--duration", type=float, default=10, help="seconds per form per round (default 10)")
    ap.add_argument("--rounds", type=int, default=4, help="rounds, each form once per round, alternating (default 4)")
    ap.add_argument("--warmup", type=float, default=2, help="unmeasured seconds per form before the rounds")
    ap.add_argument("--max-submissions", type=int, default=100_000)
    ap.add_argument("--xml-kb", type=int, default=4, help="pad each submission's XML to this size (default 4)")
    ap.add_argument("--templates", type=int, default=1000, help="distinct households in the client")
    ap.add_argument("--timeout", type=float, default=30, help="per request, seconds")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2, as shipped)")
    ap.add_argument("--seed", type=int, default=20261205)
    ap.add_argument("--profile-dir", type=Path, help="profile the gunicorn workers' CPU during intake (as "
                                                     "bench/ingest.py does); collapsed stacks go to this folder")
    ap.add_argument("--keep-log", type=Path, help="copy the gunicorn and worker logs to this folder")
    ap.add_argument("--client-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--receiver", nargs=2, metavar=("PORT", "SECONDS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.client_worker:
        return client_worker()
    if args.receiver:
        return receiver_main(int(args.receiver[0]), float(args.receiver[1]))
    if args.rounds < 1 or args.clients < 1 or args.duration <= 0 or set(args.modes) - {"in-process", "rabbitmq"}:
        ap.error("--rounds and --clients must be at least 1, --duration positive, --modes in-process and/or rabbitmq")
    for folder in (args.profile_dir, args.keep_log):
        if folder:
            folder.mkdir(parents=True, exist_ok=True)
    install_signal_handlers()
    report = ["", "=" * 100, f"SUMMARY  bench/webhooks.py  ({os.cpu_count()} CPUs shared by server, database, "
                             "jobs worker, receiver, client and whatever else runs)", "=" * 100]
    code = 0
    try:
        for name in args.database_url or ["sqlite", DEFAULT_PG]:
            for mode in args.modes:
                part = run_mode(None if name == "sqlite" else name, mode, args)
                code |= any("INCOMPLETE" in line or "MISMATCH" in line for line in part)
                report += part
    except (KeyboardInterrupt, Interrupted) as exc:
        report.append(f"INTERRUPTED: {type(exc).__name__}: {exc}")
        code = 1
    print("\n".join(report + ["=" * 100]), flush=True)
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
