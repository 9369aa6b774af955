"""Shared helpers for the benchmarks: a real gunicorn in a subprocess, a keep-alive HTTP client,
latency statistics, server CPU accounting from /proc, wrk, and a throwaway PostgreSQL database.

Standard library only (plus psycopg, a Hamlet dependency, for PostgreSQL)."""
from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]          # the checkout
PYTHON = ROOT / ".venv" / "bin" / "python"
HAMLET = ROOT / ".venv" / "bin" / "hamlet"
ADMIN_EMAIL = "bench@hamlet.test"
ADMIN_PASSWORD = "bench password 123"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def corpus_dir() -> Path:
    env = os.environ.get("HAMLET_CORPUS")
    return Path(env).resolve() if env else ROOT / "tests" / "data" / "corpus"


def python_exe() -> str:
    return str(PYTHON) if PYTHON.exists() else sys.executable


def hamlet_exe() -> list[str]:
    return [str(HAMLET)] if HAMLET.exists() else [python_exe(), "-m", "server.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Interrupted(BaseException):
    pass


def install_signal_handlers() -> None:
    """SIGTERM/SIGHUP unwind like Ctrl-C, so every `finally` (gunicorn, temp dirs, databases) runs."""
    def handler(signum, frame):
        raise Interrupted(f"signal {signum}")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


# --- statistics ---------------------------------------------------------------------------------------

def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(p / 100 * len(s) + 0.5) - 1))
    return s[k]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


# --- the database -------------------------------------------------------------------------------------

def _plain_pg(url: str) -> str:
    """psycopg wants postgresql://; accept postgres:// and postgresql+psycopg:// too."""
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    return url


def _with_dbname(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@contextmanager
def database(url: str | None, tmp: Path, prefix: str = "hamlet_bench"):
    """Yield a Db (URL for Hamlet, label, CPU probe). SQLite: a file in `tmp`. PostgreSQL: a fresh database
    `{prefix}_{pid}` created next to the one `url` names, dropped on exit (stale ones of dead runs too)."""
    if not url or url.startswith("sqlite"):
        db = url or f"sqlite:///{tmp / 'hamlet.db'}"
        yield Db(db, f"SQLite ({db}; in-process, so its CPU is the server's)")
        return
    import psycopg

    admin_url = _plain_pg(url)
    name = f"{prefix}_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        for (stale,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                     (prefix + "\\_%",)).fetchall():
            m = re.fullmatch(re.escape(prefix) + r"_(\d+)", stale)
            if m and (stale == name or not Path(f"/proc/{m.group(1)}").exists()):
                conn.execute(f'DROP DATABASE IF EXISTS "{stale}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    probe = None
    try:
        probe = psycopg.connect(admin_url, autocommit=True)
        yield Db(_with_dbname(admin_url, name),
                 f"PostgreSQL {version} (database {name} at {urlsplit(admin_url).hostname})", probe, name)
    finally:
        if probe is not None:
            probe.close()
        try:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except Exception as exc:  # noqa: BLE001 - report, don't mask the real error
            print(f"warning: could not drop database {name}: {exc}", file=sys.stderr)


class Db:
    """The database under test. For a PostgreSQL server on this machine, `cpu_ticks()` sums the CPU of the
    backends serving our database (pids from pg_stat_activity, times from /proc); otherwise it is None."""

    def __init__(self, url: str, label: str, probe=None, name: str | None = None):
        self.url, self.label, self._probe, self._name = url, label, probe, name

    @property
    def name(self) -> str | None:
        """The PostgreSQL database's name (None for SQLite)."""
        return self._name

    def analyze(self) -> bool:
        """PostgreSQL: ANALYZE the bench database, as autovacuum would within a minute of bulk loading
        (a fresh database has no statistics and gets poor plans). SQLite: nothing (Hamlet never runs it)."""
        if self._probe is None:
            return False
        import psycopg

        with psycopg.connect(_plain_pg(self.url), autocommit=True) as conn:
            conn.execute("ANALYZE")
        return True

    def cpu_ticks(self) -> dict[int, int] | None:
        if self._probe is None:
            return None
        try:
            pids = [r[0] for r in self._probe.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s",
                                                      (self._name,)).fetchall()]
        except Exception:  # noqa: BLE001
            return None
        ticks = {}
        for pid in pids:
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() not in ("postgres", "postmaster"):
                    return None       # not a local server: these pids are someone else's
            except OSError:
                return None
            ticks[pid] = _cpu_ticks(pid, children=False)
        return ticks

    def cluster_cpu_ticks(self) -> dict[int, int] | None:
        """For a local PostgreSQL server: CPU ticks of every child of the postmaster (all backends, plus the
        WAL writer, checkpointer, background writer and autovacuum, whose work commits cause), by pid."""
        if self._probe is None:
            return None
        try:
            backend = self._probe.execute("SELECT pg_backend_pid()").fetchone()[0]
            stat = Path(f"/proc/{backend}/stat").read_text()
            postmaster = int(stat[stat.rindex(")") + 2:].split()[1])
            if Path(f"/proc/{postmaster}/comm").read_text().strip() not in ("postgres", "postmaster"):
                return None
        except (OSError, ValueError, IndexError):
            return None
        except Exception:  # noqa: BLE001 - psycopg errors: no probe
            return None
        return {pid: _cpu_ticks(pid, children=False) for pid in _children(postmaster)}


@contextmanager
def temp_dir(prefix: str = "hamlet-bench-"):
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# --- the server -------------------------------------------------------------------------------------

def server_env(tmp: Path, database_url: str, **extra: str) -> dict:
    env = dict(os.environ)
    env.update(HAMLET_INSTANCE_DIR=str(tmp / "instance"), HAMLET_DATA_DIR=str(tmp / "data"),
               HAMLET_DATABASE_URL=database_url, HAMLET_SECRET_KEY="bench-secret-key",
               HAMLET_ADMIN_EMAIL=ADMIN_EMAIL, HAMLET_ADMIN_PASSWORD=ADMIN_PASSWORD)
    env.update(extra)
    return env


def upgrade_database(env: dict) -> None:
    out = subprocess.run(hamlet_exe() + ["db", "upgrade"], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=300, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"hamlet db upgrade failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")


def migrated_env(tmp: Path, database_url: str, **extra: str) -> dict:
    """The server's environment (server_env) over a database upgraded to the latest migration."""
    env = server_env(tmp, database_url, **extra)
    upgrade_database(env)
    return env


def profiling_args(profile_dir: Path | None) -> list[str]:
    """Gunicorn's extra arguments for --profile-dir: the CPU sampler's config, writing a fresh
    `profile_dir`/workers; none without it."""
    if not profile_dir:
        return []
    shutil.rmtree(profile_dir / "workers", ignore_errors=True)
    return ["-c", str(gunicorn_profile_config(profile_dir / "workers"))]


class Gunicorn:
    """`python -m gunicorn -c python:server.gunicorn_config -w N --bind 127.0.0.1:PORT 'server:create_app()'`:
    the server as the Procfile ships it (threaded workers, keep-alive, the access log), logging to a file.
    `worker_class`/`threads` (e.g. "sync") and `extra_args` override it when given; an `-c` of
    `extra_args` (the CPU sampler's config) replaces the shipped config file."""

    def __init__(self, env: dict, log: Path, workers: int = 2, timeout: int = 120, worker_class: str | None = None,
                 threads: int | None = None, extra_args: list[str] | tuple[str, ...] = (),
                 app: str = "server:create_app()"):
        self.env, self.log, self.workers, self.timeout, self.app = env, log, workers, timeout, app
        self.worker_class, self.threads, self.extra_args = worker_class, threads, list(extra_args)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self._log_fh = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, ready_timeout: float = 60) -> Gunicorn:
        self._log_fh = open(self.log, "ab")  # noqa: SIM115 (closed by stop())
        cmd = [python_exe(), "-m", "gunicorn"]
        if "-c" not in self.extra_args:
            cmd += ["-c", "python:server.gunicorn_config"]
        cmd += ["-w", str(self.workers), "--bind", self.host, "--timeout", str(self.timeout)]
        if self.worker_class:
            cmd += ["--worker-class", self.worker_class]
        if self.threads:
            cmd += ["--threads", str(self.threads)]
        elif self.worker_class == "sync":
            cmd += ["--threads", "1"]   # gunicorn runs gthread instead of sync when the config asks for threads
        cmd += self.extra_args
        if _gunicorn_has_control_socket():
            # gunicorn >= 24 opens ~/.gunicorn/gunicorn.ctl by default, shared by every gunicorn of this user
            cmd.append("--no-control-socket")
        cmd.append(self.app)
        self.proc = subprocess.Popen(cmd, env=self.env, cwd=ROOT, stdout=self._log_fh, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + ready_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            if len(self.worker_pids()) >= self.workers and self._answers():
                return self
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not come up in {ready_timeout}s:\n{self.log_text()[-3000:]}")
            time.sleep(0.1)

    def _answers(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            conn.request("GET", "/v1/projects")
            conn.getresponse().read()
            conn.close()
            return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.terminate()               # the master: graceful shutdown of its workers
                self.proc.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)   # any worker still around: the group we created
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self.proc = None
        if self._log_fh:
            self._log_fh.close()
            self._log_fh = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- process accounting ---

    def worker_pids(self) -> list[int]:
        return _children(self.proc.pid) if self.proc else []

    def cpu_ticks(self) -> dict[int, int]:
        """CPU clock ticks of the master and its workers (and their children), by pid."""
        if self.proc is None:
            return {}
        pids = [self.proc.pid]
        i = 0
        while i < len(pids) and i < 1000:
            pids.extend(_children(pids[i]))
            i += 1
        return {p: _cpu_ticks(p) for p in pids}

    def pids(self) -> list[int]:
        """The master, its workers and their children."""
        return list(self.cpu_ticks())

    def rss_bytes(self) -> tuple[int, int]:
        """(current RSS summed over the master and workers, largest per-process peak VmHWM), from /proc."""
        total, hwm = 0, 0
        for pid in self.pids():
            mem = proc_memory(pid)
            total += mem.get("VmRSS", 0)
            hwm = max(hwm, mem.get("VmHWM", 0))
        return total, hwm

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def _gunicorn_has_control_socket() -> bool:
    out = subprocess.run([python_exe(), "-c", "import gunicorn.config as c; "
                          "print(any(s.name == 'control_socket_disable' for s in c.KNOWN_SETTINGS))"],
                         capture_output=True, text=True, timeout=60, check=False)
    return out.stdout.strip() == "True"


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for tid in tasks:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
            out.extend(int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split())
    return out


def proc_memory(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (peak RSS) … of a process in bytes, from /proc/<pid>/status ({} once it is gone)."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.startswith("Vm") and value.strip().endswith("kB"):
                out[key] = int(value.split()[0]) * 1024
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return out


def _cpu_ticks(pid: int, children: bool = True) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    fields = stat[stat.rindex(")") + 2:].split()   # after "pid (comm) "; fields[0] is state (field 3)
    # utime (14) + stime (15), and cutime (16) + cstime (17): reaped children such as ODK Validate's java
    return sum(int(f) for f in fields[11:15 if children else 13])


def _delta_seconds(before: dict[int, int], after: dict[int, int]) -> float:
    """Processes that appeared in between count in full; ones that vanished are lost (and flagged)."""
    return sum(t - before.get(p, 0) for p, t in after.items()) / os.sysconf("SC_CLK_TCK")


class RssSampler(threading.Thread):
    """Peak RSS of the server (master + workers summed) and the largest per-process VmHWM, sampled
    every `every` seconds until stop() (or the end of a `with` block)."""

    def __init__(self, server: Gunicorn, every: float = 0.1):
        super().__init__(daemon=True)
        self.server, self.every = server, every
        self.peak = self.hwm = 0
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.every)

    def sample(self):
        total, hwm = self.server.rss_bytes()
        self.peak, self.hwm = max(self.peak, total), max(self.hwm, hwm)

    def stop(self):
        self._halt.set()
        self.join(timeout=5)
        self.sample()

    def __enter__(self):
        self.sample()
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


class CpuMeter:
    """CPU seconds used between enter and exit by the server's processes (`seconds`, and `stable`: whether
    its process set stayed the same) and, when measurable, by the database server's backends (`db_seconds`)."""

    db: Db | None = None

    def __init__(self, server: Gunicorn, db: Db | None = None):
        self.server = server
        self.db = db or CpuMeter.db
        self.seconds, self.db_seconds, self.stable = 0.0, None, True
        self.per_process: dict[int, float] = {}

    def __enter__(self):
        self.t0 = self.server.cpu_ticks()
        self.d0 = self.db.cpu_ticks() if self.db else None
        return self

    def __exit__(self, *exc):
        t1 = self.server.cpu_ticks()
        d1 = self.db.cpu_ticks() if self.db else None
        self.seconds = _delta_seconds(self.t0, t1)
        tick = os.sysconf("SC_CLK_TCK")
        self.per_process = {p: (t - self.t0.get(p, 0)) / tick for p, t in t1.items()}
        self.stable = set(self.t0) == set(t1)
        self.db_seconds = _delta_seconds(self.d0, d1) if self.d0 is not None and d1 is not None else None


def log_problems(text: str, limit: int = 40) -> list[str]:
    """Lines of a gunicorn log worth showing: errors, tracebacks, worker timeouts and restarts."""
    keep = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.search(r"\[(ERROR|CRITICAL)\]|Traceback|WORKER TIMEOUT|Worker .* (was sent|exited)|Exception", line):
            keep.append(line)
            if line.startswith("Traceback"):
                j = i + 1
                while j < len(lines) and (lines[j].startswith((" ", "\t")) or not lines[j].strip()):
                    j += 1
                if j < len(lines):
                    keep.append(lines[j])
    return keep[:limit]


def gunicorn_log_errors(log: Path) -> list[str]:
    """Prints the gunicorn log's error lines (log_problems); the note for the summary, if there are any."""
    problems = log_problems(log.read_text(errors="replace") if log.exists() else "")
    if not problems:
        return []
    print("    -- gunicorn log: errors --\n    " + "\n    ".join(problems), flush=True)
    return [f"{len(problems)} error lines in the gunicorn log"]


# --- the client ---------------------------------------------------------------------------------------

@dataclass
class Response:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Client:
    """One persistent http.client connection, reused for sequential requests. (Gunicorn's sync workers
    answer `Connection: close`, in which case http.client reconnects transparently on the next request.)"""

    def __init__(self, host: str, token: str | None = None, timeout: float = 300):
        h, p = host.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(h, int(p), timeout=timeout)
        self.token = token
        self.reconnects = 0

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                json_body=None) -> Response:
        hdrs = {}
        if self.token:
            hdrs["Authorization"] = f"Bearer {self.token}"
        if json_body is not None:
            body = json.dumps(json_body).encode()
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                resp = self.conn.getresponse()
                data = resp.read()
                return Response(resp.status, dict(resp.getheaders()), data)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest, http.client.ResponseNotReady):
                self.conn.close()
                self.reconnects += 1
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def close(self):
        self.conn.close()


def expect(resp: Response, what: str, status: int = 200) -> Response:
    if resp.status != status:
        raise RuntimeError(f"{what}: HTTP {resp.status}: {resp.text[:2000]}")
    return resp


def sign_in(host: str, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> str:
    c = Client(host)
    try:
        return expect(c.post("/v1/sessions", json_body={"email": email, "password": password}), "sign in").json()["token"]
    finally:
        c.close()


@dataclass
class Latency:
    label: str
    samples: list[float] = field(default_factory=list)
    wall: float = 0.0
    errors: int = 0
    cpu: float | None = None
    cpu_stable: bool = True
    db_cpu: float | None = None

    @property
    def n(self) -> int:
        return len(self.samples)

    def p(self, q: float) -> float:
        return percentile(self.samples, q)

    @property
    def rate(self) -> float:
        return self.n / self.wall if self.wall else float("nan")

    @property
    def cpu_ms_per_request(self) -> float | None:
        return None if self.cpu is None or not self.n else self.cpu * 1000 / self.n

    @property
    def db_cpu_ms_per_request(self) -> float | None:
        return None if self.db_cpu is None or not self.n else self.db_cpu * 1000 / self.n

    def line(self) -> str:
        cpu = (f", server CPU {self.cpu_ms_per_request:.2f} ms/req" if self.cpu is not None else "")
        if self.db_cpu is not None:
            cpu += f" + PostgreSQL {self.db_cpu_ms_per_request:.2f} ms/req"
        if not self.cpu_stable:
            cpu += " (worker set changed during the run!)"
        err = f", {self.errors} errors" if self.errors else ""
        return (f"{self.label}: n={self.n} p50 {self.p(50)*1000:.2f} ms  p95 {self.p(95)*1000:.2f} ms  "
                f"p99 {self.p(99)*1000:.2f} ms  max {max(self.samples)*1000:.2f} ms  {self.rate:.0f} req/s{cpu}{err}")


def upload_indicators(host: str, token: str, project_id: int, form: str, workbook: Path) -> dict:
    """PUT the indicators workbook on the form; the server's answer (its indicators and target sets)."""
    c = Client(host, token)
    try:
        return expect(c.request("PUT", f"/v1/projects/{project_id}/forms/{form}/indicators",
                                body=workbook.read_bytes(), headers={"Content-Type": XLSX}),
                      "PUT indicators workbook").json()
    finally:
        c.close()


def measure(server: Gunicorn, label: str, path: str, headers: dict, token: str | None = None,
            warmup: int = 50, requests: int = 500, check=None) -> Latency:
    """Sequential requests over one keep-alive client: `warmup` unmeasured, then `requests` timed."""
    client = Client(server.host, token)
    result = Latency(label)
    try:
        for _ in range(warmup):
            r = client.get(path, headers=headers)
            expect(r, f"{label} (warm-up)")
        if check is not None:
            check(r)
        with CpuMeter(server) as cpu:
            t0 = time.perf_counter()
            for _ in range(requests):
                t = time.perf_counter()
                r = client.get(path, headers=headers)
                result.samples.append(time.perf_counter() - t)
                if r.status != 200:
                    result.errors += 1
            result.wall = time.perf_counter() - t0
        result.cpu, result.cpu_stable, result.db_cpu = cpu.seconds, cpu.stable, cpu.db_seconds
    finally:
        client.close()
    return result


# --- wrk ----------------------------------------------------------------------------------------------

@dataclass
class WrkResult:
    label: str
    rate: float
    requests: int
    latency: dict           # "avg", "50%", "75%", "90%", "99%", "max" -> seconds
    errors: str | None
    non_2xx: int
    cpu: float | None = None
    cpu_stable: bool = True
    db_cpu: float | None = None

    def line(self) -> str:
        lat = "  ".join(f"{k} {v*1000:.2f} ms" for k, v in self.latency.items())
        cpu = f", server CPU {self.cpu*1000/self.requests:.2f} ms/req" if self.cpu is not None and self.requests else ""
        if self.db_cpu is not None and self.requests:
            cpu += f" + PostgreSQL {self.db_cpu*1000/self.requests:.2f} ms/req"
        bad = (f", non-2xx {self.non_2xx}" if self.non_2xx else "") + (f", {self.errors}" if self.errors else "")
        return f"{self.label}: {self.rate:.0f} req/s ({self.requests} requests)  {lat}{cpu}{bad}"


def _wrk_time(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if not m:
        return float("nan")
    return float(m.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[m.group(2)]


def wrk_available() -> str | None:
    return shutil.which("wrk")


def run_wrk(server: Gunicorn, label: str, path: str, headers: dict, duration: int = 10, connections: int = 4,
            threads: int = 2) -> WrkResult:
    cmd = [wrk_available() or "wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{duration}s",
           "--latency", "--timeout", "10s"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    cmd.append(f"http://{server.host}{path}")
    with CpuMeter(server) as cpu:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr or out.stdout}")
    text = out.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    total = int(re.search(r"(\d+) requests in", text).group(1))
    latency = {}
    m = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", text)
    if m:
        latency["avg"] = _wrk_time(m.group(1))
    for q in ("50%", "75%", "90%", "99%"):
        m = re.search(rf"^\s+{re.escape(q)}\s+(\S+)", text, re.M)
        if m:
            latency[q] = _wrk_time(m.group(1))
    m = re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", text)
    if m:
        latency["max"] = _wrk_time(m.group(1))
    err = re.search(r"Socket errors:[^\n]*", text)
    non = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    return WrkResult(label, rate, total, latency, err.group(0) if err else None, int(non.group(1)) if non else 0,
                     cpu.seconds, cpu.stable, cpu.db_seconds)


# --- a CPU profiler for gunicorn workers -----------------------------------------------------------------

def install_cpu_sampler(out: Path, interval: float = 0.002, dump_every: float = 1.0) -> None:
    """Statistical CPU profiler for this process, for benchmarks (no dependencies, works in gunicorn workers).

    SIGPROF fires every `interval` seconds of the process's CPU time (so idle waits cost nothing and are
    never sampled). The handler charges each thread's CPU time since the previous signal (its own CPU
    clock) to that thread's current Python stack. For the main thread, which runs gunicorn sync
    workers' requests, the stack is exact; other threads are seen where they wait for the GIL, so with
    gthread workers the attribution is approximate. A daemon thread rewrites `out` every `dump_every`
    seconds with the cumulative totals as collapsed stacks: `outer;…;inner MICROSECONDS` per line."""
    import signal
    import threading

    main = threading.main_thread().ident
    clocks: dict[int, int] = {}
    last: dict[int, int] = {}
    totals: dict[tuple, int] = {}
    dumper_ident: list[int] = []

    def cpu_ns(ident: int) -> int | None:
        try:
            clock = clocks.get(ident)
            if clock is None:
                clock = clocks[ident] = time.pthread_getcpuclockid(ident)
            return time.clock_gettime_ns(clock)
        except (OSError, OverflowError):
            return None

    def handler(signum, frame):
        for ident, top in sys._current_frames().items():
            if ident in dumper_ident:
                continue
            now = cpu_ns(ident)
            if now is None:
                continue
            delta = now - last.get(ident, now)
            last[ident] = now
            if delta <= 0:
                continue
            f = frame if ident == main else top
            codes = []
            while f is not None and len(codes) < 200:
                codes.append(f.f_code)
                f = f.f_back
            key = tuple(codes)
            totals[key] = totals.get(key, 0) + delta

    def name(code) -> str:
        fn = code.co_filename
        for marker in ("site-packages/", str(ROOT) + "/"):
            if marker in fn:
                fn = fn.split(marker, 1)[1]
                break
        return f"{code.co_qualname if hasattr(code, 'co_qualname') else code.co_name} ({fn}:{code.co_firstlineno})"

    def dump():
        snapshot = dict(totals)                  # a C-level copy: atomic under the GIL
        lines = [";".join(name(c) for c in reversed(k)) + f" {v // 1000}" for k, v in snapshot.items() if v >= 1000]
        tmp = out.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, out)

    def dumper():
        dumper_ident.append(threading.get_ident())
        while True:
            time.sleep(dump_every)
            with contextlib.suppress(Exception):   # profiling must never break the worker
                dump()

    def stop():
        signal.setitimer(signal.ITIMER_PROF, 0, 0)   # else a late SIGPROF kills the exiting process
        with contextlib.suppress(Exception):
            dump()

    import atexit

    atexit.register(stop)
    threading.Thread(target=dumper, name="cpu-sampler-dump", daemon=True).start()
    signal.signal(signal.SIGPROF, handler)
    signal.siginterrupt(signal.SIGPROF, False)     # SA_RESTART: don't make C libraries see EINTR
    try:
        # gunicorn workers wake on a pipe for every signal; a full pipe must not print warnings
        fd = signal.set_wakeup_fd(-1)
        if fd != -1:
            signal.set_wakeup_fd(fd, warn_on_full_buffer=False)
    except (ValueError, TypeError):
        pass
    signal.setitimer(signal.ITIMER_PROF, interval, interval)


def read_collapsed(folder: Path, pattern: str = "worker-*.txt") -> dict[str, int]:
    """Sum the collapsed-stack files in `folder` (as install_cpu_sampler writes them) into one dict."""
    totals: dict[str, int] = {}
    for path in Path(folder).glob(pattern):
        try:
            text = path.read_text(errors="replace")
        except FileNotFoundError:
            continue
        for line in text.splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                totals[stack] = totals.get(stack, 0) + int(count)
    return totals


def gunicorn_profile_config(folder: Path, interval: float = 0.002) -> Path:
    """A gunicorn config file (pass `-c` it): the shipped server/gunicorn_config.py, plus
    install_cpu_sampler in every worker, writing `folder`/worker-<pid>.txt."""
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "gunicorn_profile.conf.py"
    # The shipped config first (access log and its masking logger, gc.freeze): what is profiled is what is served.
    conf.write_text(
        "import os, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from pathlib import Path\n"
        "from server.gunicorn_config import *  # noqa: F403\n"
        "from server.gunicorn_config import post_worker_init as shipped_post_worker_init\n\n\n"
        "def post_worker_init(worker):\n"
        "    shipped_post_worker_init(worker)\n"
        "    from _util import install_cpu_sampler\n"
        f"    install_cpu_sampler(Path({str(folder)!r}) / f'worker-{{os.getpid()}}.txt', interval={interval!r})\n\n\n"
        "def worker_exit(server, worker):\n"
        "    import signal\n"
        "    signal.setitimer(signal.ITIMER_PROF, 0, 0)\n")
    return conf
