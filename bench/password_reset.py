"""Benchmark: does a password reset for an unknown address take as long as one for a real account?

    .venv/bin/python bench/password_reset.py                      # SQLite in a temp dir
    .venv/bin/python bench/password_reset.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

Starts a real gunicorn (2 workers, as shipped) with email sent to an SMTP server on loopback in this
process (aiosmtpd, a test dependency), makes `--pairs` accounts, then sends POST /v1/users/reset/initiate
alternately for one of them and for an address with no account, each from its own client address
(X-Forwarded-For through HAMLET_TRUSTED_PROXIES=1, so the sign-in throttle does not stop the run). Prints
for each kind the median and p90 wall time and the server CPU per request, and the ratio of the medians:
near 1.0 means the time tells nothing about which addresses have accounts. The first `--warmup` pairs are
not counted."""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Client,
    CpuMeter,
    Gunicorn,
    database,
    free_port,
    install_signal_handlers,
    migrated_env,
    percentile,
    temp_dir,
)


class Sink:
    """Counts the messages the server sends."""

    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        return "250 OK"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url")
    ap.add_argument("--pairs", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    args = ap.parse_args(argv)
    from aiosmtpd.controller import Controller

    install_signal_handlers()
    sink = Sink()
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        with temp_dir() as tmp, database(args.database_url, tmp) as db:
            env = migrated_env(tmp, db.url, HAMLET_SMTP_URL=f"smtp://127.0.0.1:{smtp.port}",
                               HAMLET_BASE_URL="https://hamlet.test", HAMLET_TRUSTED_PROXIES="1")
            server = Gunicorn(env, tmp / "gunicorn.log")
            while server.port == smtp.port:     # two free ports asked for apart can be the same one
                server.port = free_port()
            with server:
                admin = Client(server.host)
                admin.token = admin.post("/v1/sessions", json_body={"email": ADMIN_EMAIL,
                                                                    "password": ADMIN_PASSWORD}).json()["token"]
                for i in range(args.pairs):
                    admin.post("/v1/users", json_body={"email": f"known{i}@hamlet.test", "password": "x" * 12})
                client = Client(server.host)
                times: dict[str, list[float]] = {"known": [], "unknown": []}
                cpu = {"known": 0.0, "unknown": 0.0}
                for i in range(args.pairs):
                    for kind in ("known", "unknown"):
                        with CpuMeter(server, db) as meter:
                            t0 = time.perf_counter()
                            resp = client.post("/v1/users/reset/initiate", json_body={"email": f"{kind}{i}@hamlet.test"},
                                               headers={"X-Forwarded-For": f"10.{i // 250}.{i % 250}.{1 if kind == 'known' else 2}"})
                            took = time.perf_counter() - t0
                        assert resp.status == 200, resp.body[:300]
                        if i >= args.warmup:
                            times[kind].append(took)
                            cpu[kind] += meter.seconds + (meter.db_seconds or 0)
        print(f"database: {db.label}; {sink.count} messages received")
        for kind, values in times.items():
            print(f"{kind:8} median {1000 * statistics.median(values):6.1f} ms  p90 {1000 * percentile(values, 90):6.1f} ms"
                  f"  server+db CPU {1000 * cpu[kind] / len(values):5.1f} ms/request  (n={len(values)})")
        print(f"unknown/known median ratio: {statistics.median(times['unknown']) / statistics.median(times['known']):.2f}")
    finally:
        smtp.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
