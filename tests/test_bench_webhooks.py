"""The webhook benchmark's helpers (bench/webhooks.py) do what its figures rely on: the three forms are the
shipped survey under three IDs, the same households are sent to each, the rounds alternate, and the slow
receiver answers after its delay. (Not a timed test: the benchmark itself is run by hand.)"""
from __future__ import annotations

import io
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import webhooks as bench  # noqa: E402
from _util import free_port  # noqa: E402
from ingest import build_templates  # noqa: E402


def test_the_copies_are_the_shipped_survey_under_another_form_id():
    import openpyxl

    for form in (bench.DEAD, bench.SLOW):
        wb = openpyxl.load_workbook(io.BytesIO(bench.survey_as(form)))
        settings = {c.value: v.value for c, v in zip(wb["settings"][1], wb["settings"][2], strict=False)}
        assert settings["form_id"] == form
        shipped = openpyxl.load_workbook(bench.SURVEY)
        assert [[c.value for c in row] for row in wb["survey"].iter_rows()] == \
               [[c.value for c in row] for row in shipped["survey"].iter_rows()]
    assert bench.survey_as(bench.PLAIN) == bench.SURVEY.read_bytes()


def test_the_same_households_are_sent_to_each_form():
    templates = build_templates(3, seed=7, xml_bytes=4096, photo_fraction=0.0)
    dead = bench.retarget(templates, bench.DEAD)
    for before, after in zip(templates, dead, strict=True):
        assert f'id="{bench.DEAD}"'.encode() in after.xml_parts[0]
        assert after.xml_parts[0].replace(f'id="{bench.DEAD}"'.encode(), f'id="{bench.PLAIN}"'.encode()) == before.xml_parts[0]
        assert after.xml_parts[1:] == before.xml_parts[1:]


def test_rounds_alternate_so_each_form_runs_early_and_late():
    assert bench.round_order(3) == [bench.FORMS, tuple(reversed(bench.FORMS)), bench.FORMS]


def test_ratios_pair_each_round_with_the_same_round_without_a_webhook():
    assert bench.paired_ratios([90.0, 50.0], [100.0, 50.0]) == [0.9, 1.0]


def test_the_slow_receiver_answers_after_its_delay_and_takes_requests_at_once():
    server = bench.SlowReceiver(free_port(), 0.3)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        statuses: list[int] = []

        def post():
            with urllib.request.urlopen(urllib.request.Request(url, data=b"{}", method="POST"), timeout=5) as r:
                statuses.append(r.status)

        t0 = time.perf_counter()
        threads = [threading.Thread(target=post) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        assert statuses == [200] * 4 and server.received == 4
        assert 0.3 <= elapsed < 1.0, "four requests wait side by side, not one after another"
    finally:
        server.shutdown()
        server.server_close()
