"""Benchmark: publishing a large XLSForm, and formList latency for a project with 100 forms.

    .venv/bin/python bench/forms.py                       # SQLite in a temp dir
    .venv/bin/python bench/forms.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

Starts a real gunicorn (2 workers, as shipped) on a free port against a fresh database, and measures over HTTP:

1. POST /v1/projects/{p}/forms?publish=true&ignoreWarnings=true with the WHO verbal autopsy XLSForm
   (~590 rows), a fresh project each time: median and min wall time, with HAMLET_ODK_VALIDATE=off and
   (on a second server over the same database) with it on.
2. GET formList for a project with 100 published forms (two with media), as an app user
   (/v1/key/{token}/projects/{p}/formList) and as a web user (Bearer, /v1/projects/{p}/formList):
   sequential requests over one http.client connection (p50/p95/p99, req/s, server CPU ms per
   request), then wrk for 10 s with 4 connections if wrk is installed.

The corpus is tests/data/corpus in the checkout, or $HAMLET_CORPUS.
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import (
    XLSX,
    Client,
    CpuMeter,
    Gunicorn,
    Interrupted,
    corpus_dir,
    database,
    expect,
    install_signal_handlers,
    log_problems,
    measure,
    run_wrk,
    server_env,
    sign_in,
    temp_dir,
    upgrade_database,
    wrk_available,
)

TARGET_P50 = 0.050
OPENROSA = {"X-OpenRosa-Version": "1.0"}
DEVICE = "?deviceID=collect:abc"
# A 1x1 transparent PNG: the media file the media-bearing forms reference.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082")


# --- 1. publishing the largest corpus form ------------------------------------------------------------

def publish_bench(srv: Gunicorn, token: str, xlsx: bytes, repeats: int, label: str, warmup: int = 1) -> dict:
    """`warmup` unmeasured publishes, then `repeats` timed ones, each into a fresh project."""
    c = Client(srv.host, token)
    times: list[float] = []
    cold: list[float] = []
    statuses = set()
    form_id = None
    try:
        with CpuMeter(srv) as cpu:
            for i in range(warmup + repeats):
                if i == warmup:
                    cpu.__enter__()  # restart the CPU count after the warm-up
                pid = expect(c.post("/v1/projects", json_body={"name": f"{label} publish {i}"}),
                             "create project").json()["id"]
                t = time.perf_counter()
                r = c.post(f"/v1/projects/{pid}/forms?publish=true&ignoreWarnings=true", body=xlsx,
                           headers={"Content-Type": XLSX, "X-XlsForm-FormId-Fallback": "who_va"})
                elapsed = time.perf_counter() - t
                body = expect(r, f"publish who_va ({label})").json()
                if not body.get("publishedAt"):
                    raise RuntimeError(f"publish ({label}): the form came back unpublished: {body}")
                form_id = body["xmlFormId"]
                statuses.add((body.get("validation") or {}).get("odkValidate"))
                (cold if i < warmup else times).append(elapsed)
                print(f"  {label} #{i + 1 - warmup if i >= warmup else 'warm-up'}: {elapsed * 1000:.0f} ms", flush=True)
    finally:
        c.close()
    return {"label": label, "times": times, "cold": cold, "median": statistics.median(times), "min": min(times),
            "max": max(times), "odk_validate": ", ".join(sorted(s or "?" for s in statuses)), "form_id": form_id,
            "cpu_per_publish": cpu.seconds / repeats, "cpu_stable": cpu.stable, "bytes": len(xlsx),
            "db_cpu_per_publish": None if cpu.db_seconds is None else cpu.db_seconds / repeats}


# --- 2. formList over 100 forms ----------------------------------------------------------------------

def small_xform(i: int, media: str | None) -> bytes:
    """A small, distinct XForm: its own id and title, three questions, optionally an image label."""
    fid = f"bench_form_{i:03d}"
    image = f'<value form="image">jr://images/{media}</value>' if media else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml"
        xmlns:jr="http://openrosa.org/javarosa" xmlns:odk="http://www.opendatakit.org/xforms"
        xmlns:orx="http://openrosa.org/xforms" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <h:head>
    <h:title>Bench survey {i:03d} – household round {i % 7 + 1}</h:title>
    <model odk:xforms-version="1.0.0">
      <itext>
        <translation default="true()" lang="default">
          <text id="/data/name:label"><value>Respondent name ({i})</value>{image}</text>
        </translation>
      </itext>
      <instance>
        <data id="{fid}" version="2024.{i:03d}">
          <name/><age/><consent/>
          <meta><instanceID/></meta>
        </data>
      </instance>
      <bind nodeset="/data/name" type="string" required="true()"/>
      <bind nodeset="/data/age" type="int" constraint=". &gt;= 0 and . &lt; 130"/>
      <bind nodeset="/data/consent" type="string"/>
      <bind nodeset="/data/meta/instanceID" type="string" readonly="true()" jr:preload="uid"/>
    </model>
  </h:head>
  <h:body>
    <input ref="/data/name"><label ref="jr:itext('/data/name:label')"/></input>
    <input ref="/data/age"><label>Age</label></input>
    <select1 ref="/data/consent"><label>Consent?</label>
      <item><label>Yes</label><value>yes</value></item>
      <item><label>No</label><value>no</value></item>
    </select1>
  </h:body>
</h:html>
""".encode()


def setup_formlist_project(srv: Gunicorn, token: str, n_forms: int, n_media: int) -> dict:
    c = Client(srv.host, token)
    try:
        pid = expect(c.post("/v1/projects", json_body={"name": f"formList with {n_forms} forms"}),
                     "create project").json()["id"]
        t0 = time.perf_counter()
        form_ids = []
        for i in range(n_forms):
            media = f"logo_{i:03d}.png" if i < n_media else None
            xml = small_xform(i, media)
            fid = f"bench_form_{i:03d}"
            if media:  # a draft, its media uploaded, then published: the formList gets a manifestUrl
                expect(c.post(f"/v1/projects/{pid}/forms?publish=false", body=xml,
                              headers={"Content-Type": "application/xml"}), f"create draft {fid}")
                expect(c.post(f"/v1/projects/{pid}/forms/{fid}/draft/attachments/{media}", body=PNG,
                              headers={"Content-Type": "image/png"}), f"upload {media}")
                expect(c.post(f"/v1/projects/{pid}/forms/{fid}/draft/publish"), f"publish {fid}")
            else:
                expect(c.post(f"/v1/projects/{pid}/forms?publish=true", body=xml,
                              headers={"Content-Type": "application/xml"}), f"publish {fid}")
            form_ids.append(fid)
        publish_wall = time.perf_counter() - t0
        app_user = expect(c.post(f"/v1/projects/{pid}/app-users", json_body={"displayName": "bench collector"}),
                          "create app user").json()
        t1 = time.perf_counter()
        for fid in form_ids:
            expect(c.post(f"/v1/projects/{pid}/forms/{fid}/assignments/app-user/{app_user['id']}"), f"assign {fid}")
        assign_wall = time.perf_counter() - t1
    finally:
        c.close()
    return {"project": pid, "app_token": app_user["token"], "app_user_id": app_user["id"],
            "publish_each": publish_wall / n_forms, "assign_each": assign_wall / n_forms}


def check_form_list(n_forms: int, n_media: int, who: str):
    def check(resp):
        text = resp.text
        forms = len(re.findall(r"<xform>", text))
        manifests = len(re.findall(r"<manifestUrl>", text))
        if forms != n_forms or manifests != n_media:
            raise RuntimeError(f"formList ({who}) lists {forms} forms with {manifests} manifestUrls; "
                               f"expected {n_forms} and {n_media}:\n{text[:1500]}")
        if resp.headers.get("X-OpenRosa-Version") != "1.0":
            raise RuntimeError(f"formList ({who}) lacks X-OpenRosa-Version: 1.0 ({resp.headers})")
    return check


def formlist_bench(srv: Gunicorn, token: str, args, results: dict) -> None:
    print(f"\n== formList: setting up a project with {args.forms} forms ({args.media_forms} with media) ==", flush=True)
    setup = setup_formlist_project(srv, token, args.forms, args.media_forms)
    results["setup"] = setup
    print(f"  published {args.forms} small XForms at {setup['publish_each'] * 1000:.1f} ms each; "
          f"assigned at {setup['assign_each'] * 1000:.1f} ms each", flush=True)
    if not args.no_analyze and CpuMeter.db is not None and CpuMeter.db.analyze():
        results["analyzed"] = True
        print("  ran ANALYZE on the bench database (as autovacuum would after this bulk load; --no-analyze skips)",
              flush=True)
    p = setup["project"]
    cases = [
        ("app user ", f"/v1/key/{setup['app_token']}/projects/{p}/formList{DEVICE}", dict(OPENROSA), None),
        ("web user ", f"/v1/projects/{p}/formList{DEVICE}", dict(OPENROSA), token),
    ]
    print(f"\n== formList: {args.requests} sequential requests after {args.warmup} warm-up (http.client) ==", flush=True)
    for label, path, headers, bearer in cases:
        lat = measure(srv, label.strip(), path, headers, bearer, warmup=args.warmup, requests=args.requests,
                      check=check_form_list(args.forms, args.media_forms, label.strip()))
        results["seq"].append(lat)
        print("  " + lat.line(), flush=True)
    if args.no_wrk:
        results["wrk_note"] = "skipped (--no-wrk)"
        return
    if not wrk_available():
        results["wrk_note"] = "skipped: wrk is not installed (apt-get install -y wrk)"
        print(f"\n  note: {results['wrk_note']}", flush=True)
        return
    print(f"\n== formList: wrk, {args.wrk_duration} s, {args.wrk_connections} connections ==", flush=True)
    for label, path, headers, bearer in cases:
        h = dict(headers)
        if bearer:
            h["Authorization"] = f"Bearer {bearer}"
        w = run_wrk(srv, label.strip(), path, h, duration=args.wrk_duration, connections=args.wrk_connections)
        results["wrk"].append(w)
        print("  " + w.line(), flush=True)


# --- the run ------------------------------------------------------------------------------------------

def summary(results: dict, args) -> str:
    out = ["", "=" * 78, "SUMMARY  bench/forms.py", "=" * 78]
    out.append(f"database      : {results.get('db_label', '?')}"
               + ("; ANALYZE run before formList" if results.get("analyzed") else ""))
    out.append(f"server        : gunicorn, {args.workers} workers as shipped (gthread), 127.0.0.1 (client on the same host, "
               f"{results.get('cpus', '?')} CPUs)")
    for pub in results["publish"]:
        out.append(f"publish who_va ({pub['bytes'] // 1024} KB xlsx, form id {pub['form_id']}), "
                   f"ODK Validate {pub['label']} [response: {pub['odk_validate']}]:")
        out.append(f"    median {pub['median'] * 1000:.0f} ms   min {pub['min'] * 1000:.0f} ms   "
                   f"max {pub['max'] * 1000:.0f} ms   (n={len(pub['times'])}; warm-up "
                   + ", ".join(f"{t * 1000:.0f}" for t in pub["cold"]) + " ms)"
                   + f"   server CPU {pub['cpu_per_publish'] * 1000:.0f} ms/publish"
                   + (f" + PostgreSQL {pub['db_cpu_per_publish'] * 1000:.0f} ms"
                      if pub["db_cpu_per_publish"] is not None else ""))
    offs = [p for p in results["publish"] if p["label"] == "off"]
    ons = [p for p in results["publish"] if p["label"] == "on"]
    if offs and ons:
        out.append(f"    ODK Validate costs +{(ons[0]['median'] - offs[0]['median']) * 1000:.0f} ms per publish "
                   f"(median on / off = {ons[0]['median'] / offs[0]['median']:.1f}x)")
    if "setup" in results:
        s = results["setup"]
        out.append(f"formList project: {args.forms} forms ({args.media_forms} with media); small XForm publish "
                   f"{s['publish_each'] * 1000:.1f} ms each, app-user assignment {s['assign_each'] * 1000:.1f} ms each")
    if results["seq"]:
        out.append(f"formList, sequential http.client ({args.requests} requests after {args.warmup} warm-up):")
        for lat in results["seq"]:
            verdict = "PASS" if lat.p(50) < TARGET_P50 and not lat.errors else "FAIL"
            out.append(f"    {lat.label:9s} p50 {lat.p(50) * 1000:6.2f} ms  p95 {lat.p(95) * 1000:6.2f} ms  "
                       f"p99 {lat.p(99) * 1000:6.2f} ms  {lat.rate:6.0f} req/s  "
                       f"server CPU {lat.cpu_ms_per_request:.2f} ms/req"
                       + (f" + PG {lat.db_cpu_ms_per_request:.2f}" if lat.db_cpu is not None else "") + "  "
                       f"[target p50 < {TARGET_P50 * 1000:.0f} ms: {verdict}]"
                       + (f"  errors {lat.errors}" if lat.errors else "")
                       + ("" if lat.cpu_stable else "  (workers changed!)"))
    if results["wrk"]:
        out.append(f"formList, wrk {args.wrk_duration} s x {args.wrk_connections} connections:")
        for w in results["wrk"]:
            lat = w.latency
            cpu = f"{w.cpu * 1000 / w.requests:.2f}" if w.requests else "?"
            out.append(f"    {w.label:9s} {w.rate:6.0f} req/s  avg {lat.get('avg', float('nan')) * 1000:.2f} ms  "
                       f"p50 {lat.get('50%', float('nan')) * 1000:.2f} ms  p99 {lat.get('99%', float('nan')) * 1000:.2f} ms  "
                       f"server CPU {cpu} ms/req"
                       + (f" + PG {w.db_cpu * 1000 / w.requests:.2f}" if w.db_cpu is not None and w.requests else "")
                       + (f"  non-2xx {w.non_2xx}" if w.non_2xx else "") + (f"  {w.errors}" if w.errors else ""))
    elif results.get("wrk_note"):
        out.append(f"wrk           : {results['wrk_note']}")
    out.append(f"gunicorn log  : {results.get('log_summary', '?')}")
    if results.get("failed"):
        out.append(f"INCOMPLETE    : {results['failed']}")
    out.append("=" * 78)
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", help="default: SQLite in a temp dir; postgresql://… creates and drops "
                                           "a fresh database hamlet_bench_<pid> on that server")
    ap.add_argument("--repeats", type=int, default=5, help="timed publishes with ODK Validate off (default 5)")
    ap.add_argument("--validate-repeats", type=int, default=2,
                    help="timed publishes with ODK Validate on (default 2; 0 skips)")
    ap.add_argument("--forms", type=int, default=100)
    ap.add_argument("--media-forms", type=int, default=2)
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--wrk-duration", type=int, default=10)
    ap.add_argument("--wrk-connections", type=int, default=4)
    ap.add_argument("--no-wrk", action="store_true")
    ap.add_argument("--no-analyze", action="store_true",
                    help="PostgreSQL: measure formList without running ANALYZE after loading the 100 forms")
    ap.add_argument("--keep-log", type=Path, help="copy the gunicorn log here")
    args = ap.parse_args(argv)
    for name in ("repeats", "forms", "requests"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")
    args.media_forms = max(0, min(args.media_forms, args.forms))

    xlsx_path = corpus_dir() / "who-verbal-autopsy-2016" / "form.xlsx"
    if not xlsx_path.is_file():
        ap.error(f"{xlsx_path} not found (set HAMLET_CORPUS to the corpus folder)")
    xlsx = xlsx_path.read_bytes()
    install_signal_handlers()

    import os
    results: dict = {"publish": [], "seq": [], "wrk": [], "cpus": os.cpu_count()}
    code = 0
    with temp_dir() as tmp, database(args.database_url, tmp) as db:
        db_url, db_label = db.url, db.label
        CpuMeter.db = db
        results["db_label"] = db_label
        log = tmp / "gunicorn.log"
        print(f"database: {db_label}\ntemp dir: {tmp}", flush=True)
        try:
            env = server_env(tmp, db_url, HAMLET_ODK_VALIDATE="off")
            upgrade_database(env)
            with Gunicorn(env, log, workers=args.workers) as srv:
                print(f"gunicorn on {srv.host}, master {srv.proc.pid}, workers {srv.worker_pids()}", flush=True)
                token = sign_in(srv.host)
                print(f"\n== publish {xlsx_path.name} ({len(xlsx) // 1024} KB), ODK Validate off ==", flush=True)
                results["publish"].append(publish_bench(srv, token, xlsx, args.repeats, "off"))
                formlist_bench(srv, token, args, results)
            if args.validate_repeats > 0:
                env_on = server_env(tmp, db_url, HAMLET_ODK_VALIDATE="on")
                with Gunicorn(env_on, log, workers=args.workers) as srv:
                    token = sign_in(srv.host)
                    print(f"\n== publish {xlsx_path.name}, ODK Validate on (server restarted) ==", flush=True)
                    results["publish"].append(publish_bench(srv, token, xlsx, args.validate_repeats, "on"))
        except (Exception, KeyboardInterrupt, Interrupted) as exc:  # noqa: BLE001 (recorded as failed)
            traceback.print_exc()
            results["failed"] = f"{type(exc).__name__}: {exc}"[:300]
            code = 1
        finally:
            text = log.read_text(errors="replace") if log.exists() else ""
            problems = log_problems(text)
            results["log_summary"] = (f"{len(problems)} error/traceback lines" if problems else "no errors") + \
                f" ({len(text.splitlines())} lines)"
            if problems:
                print("\n-- gunicorn log: errors --\n" + "\n".join(problems), flush=True)
            if args.keep_log:
                args.keep_log.write_text(text)
            print(summary(results, args), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
