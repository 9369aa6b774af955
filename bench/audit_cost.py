"""Benchmark: what the audit log costs a read that records one entry (docs/security.md#audit-log).

    .venv/bin/python bench/audit_cost.py                       # SQLite in a temp dir
    .venv/bin/python bench/audit_cost.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

In one process (Flask's test client, so the CPU measured is the server's and nothing else's), over a
fresh database with the shipped survey and 20 households: CPU time per request of an OData page
(`.svc/Submissions?$top=10`, what Excel reads a page at a time) and of the root CSV
(`submissions.csv`), each with its form.submission.export entry and with the entry's insert and
commit replaced by nothing, in alternating rounds, so the ratio is of the same run on the same
(busy, shared) machine. Prints the median per request of each and the ratio.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _util import ADMIN_EMAIL, ADMIN_PASSWORD, XLSX, database, migrated_env, temp_dir

SURVEY = Path(__file__).resolve().parents[1] / "xlsforms" / "household_digital_survey.xlsx"


@contextmanager
def without_entries():
    """The export routes' `audit` and the commit after it as no-ops: the request as it was before."""
    from server.api import exports, odata

    saved = exports.audit, odata.audit, exports.commit
    exports.audit = odata.audit = lambda *a, **k: None
    exports.commit = lambda: None
    try:
        yield
    finally:
        exports.audit, odata.audit, exports.commit = saved


def cpu_per_request(client, path: str, headers: dict, n: int) -> float:
    start = time.process_time()
    for _ in range(n):
        resp = client.get(path, headers=headers)
        assert resp.status_code == 200, resp.data[:300]
        resp.get_data()
    return (time.process_time() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url")
    parser.add_argument("--requests", type=int, default=100, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with temp_dir() as tmp, database(args.database_url, tmp) as db:
        import os

        os.environ.update(migrated_env(tmp, db.url))
        from server import create_app
        from server.synthetic import random_household, to_xml

        app = create_app()
        client = app.test_client()
        token = client.post("/v1/sessions", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).get_json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        project = client.post("/v1/projects", json={"name": "Bench"}, headers=auth).get_json()["id"]
        form = client.post(f"/v1/projects/{project}/forms?publish=true", data=SURVEY.read_bytes(),
                           content_type=XLSX, headers=auth).get_json()["xmlFormId"]
        base = f"/v1/projects/{project}/forms/{form}"
        for seed in range(20):
            xml = to_xml(random_household(random.Random(seed), "DN-HV-HP-01"))
            assert client.post(f"{base}/submissions", data=xml, content_type="application/xml",
                               headers=auth).status_code == 200
        print(f"database: {db.label}; {args.rounds} rounds of {args.requests} requests each way")
        for label, path in (("OData page ($top=10)", f"{base}.svc/Submissions?$top=10"),
                            ("root CSV (20 rows)", f"{base}/submissions.csv")):
            cpu_per_request(client, path, auth, 10)   # warm up
            with_entry, without = [], []
            for _ in range(args.rounds):
                with_entry.append(cpu_per_request(client, path, auth, args.requests))
                with without_entries():
                    without.append(cpu_per_request(client, path, auth, args.requests))
            a, b = statistics.median(with_entry), statistics.median(without)
            print(f"{label}: {a * 1000:.2f} ms CPU per request with its entry, {b * 1000:.2f} ms without "
                  f"(+{(a - b) * 1000:.2f} ms, ratio {a / b:.2f})")


if __name__ == "__main__":
    main()
