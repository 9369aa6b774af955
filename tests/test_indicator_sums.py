"""The stored per-area sums (ia{form}) move by deltas, and must always equal a computation from scratch.

Reports are compared with the report after a forced recomputation of every household (a workbook
upload starts a new generation, which computes everything again), after every kind of change:
new households, edits, reviews, deletions, restores, a household deleted from the database behind
the server's back, a stale row only a full check can find. Chunks are made tiny so that a refresh
spans several of them."""
from __future__ import annotations

import random

import numpy as np
import pytest
from sqlalchemy import inspect, text

from collect import submit
from helpers import XLSFORMS, XLSX
from server.indicators import contributions as store
from server.indicators import results
from server.models.indicators import indicator_set
from server.synthetic import random_household, to_xml

FORM = "household_digital_survey"
TARGETS = XLSFORMS / "household_digital_targets.xlsx"
REGISTRY = """code,name,level,parent,expected_households
P,Tỉnh,province,,
P-D,Huyện,district,P,
P-D-A,Xã A,commune,P-D,
P-D-A-1,Thôn A1,village,P-D-A,40
P-D-A-2,Thôn A2,village,P-D-A,30
P-D-B,Xã B,commune,P-D,
P-D-B-1,Thôn B1,village,P-D-B,20
"""
VILLAGES = ["P-D-A-1", "P-D-A-2", "P-D-B-1", "P-D-X-9"]   # the last one is not in the registry


@pytest.fixture
def form(admin, project, monkeypatch):
    monkeypatch.setattr(store, "CHUNK", 3)
    resp = admin.post(f"/v1/projects/{project}/forms?publish=true&ignoreWarnings=true",
                      data=(XLSFORMS / "household_digital_survey.xlsx").read_bytes(), content_type=XLSX)
    assert resp.status_code == 200, resp.get_json()
    assert admin.client.put(f"/v1/projects/{project}/areas", data=REGISTRY.encode(), content_type="text/csv",
                            headers=admin._headers()).status_code == 200
    path = f"/v1/projects/{project}/forms/{FORM}"
    assert _workbook(admin, path).status_code == 200
    return path


@pytest.fixture
def key(admin, project, form):
    user = admin.post(f"/v1/projects/{project}/app-users", json_body={"displayName": "Tổ 1"}).get_json()
    admin.post(f"{form}/assignments/app-user/{user['id']}")
    return f"/v1/key/{user['token']}/projects/{project}"


def _workbook(admin, form):
    return admin.client.put(f"{form}/indicators", data=TARGETS.read_bytes(), content_type=XLSX,
                            headers=admin._headers())


def households(seed: int, n: int):
    rng = random.Random(seed)
    return [random_household(rng, rng.choice(VILLAGES)) for _ in range(n)]


def post(client, key, xml: bytes):
    resp = submit(client, key, xml)
    assert resp.status_code == 201, resp.data


QUERIES = ["", "includeRejected=true", "targetSet=tan_uyen_2025&level=village", "level=commune"]


def reports(admin, form) -> list[dict]:
    out = []
    for q in QUERIES:
        resp = admin.get(f"{form}/indicators?{q}")
        assert resp.status_code == 200, resp.get_json()
        out.append(resp.get_json())
    return out


def recomputed(admin, form) -> list[dict]:
    """The same reports after every household has been computed again from its answers."""
    assert _workbook(admin, form).status_code == 200
    return reports(admin, form)


@pytest.fixture
def computed(monkeypatch):
    """How many households each refresh computes (counted as they are handed to the engine)."""
    seen: list[int] = []
    original = store._compute

    def counting(conn, tables, workbook, ids, defs, *rest):
        seen.append(len(ids))
        return original(conn, tables, workbook, ids, defs, *rest)

    monkeypatch.setattr(store, "_compute", counting)
    return seen


def test_the_sums_follow_every_kind_of_change(admin, client, form, key, computed):
    first = households(1, 10)
    for h in first:
        post(client, key, to_xml(h))
    assert reports(admin, form) == recomputed(admin, form)

    # New households, an edit, an edit of that edit, a rejection, a deletion: found by the incremental search.
    reports(admin, form)                       # a baseline for this generation
    for h in households(2, 4):
        post(client, key, to_xml(h))
    edited = households(3, 1)[0]
    edited.instance_id = "uuid:0b0e8a9c-0000-4000-8000-000000000001"
    post(client, key, to_xml(edited, deprecated_id=first[0].instance_id))
    again = households(4, 1)[0]
    again.instance_id = "uuid:0b0e8a9c-0000-4000-8000-000000000002"
    post(client, key, to_xml(again, deprecated_id=edited.instance_id))
    # (the rejected one far from the others: its chunk is not a range of ids)
    assert admin.patch(f"{form}/submissions/{first[9].instance_id}", {"reviewState": "rejected"}).status_code == 200
    assert admin.delete(f"{form}/submissions/{first[2].instance_id}").status_code == 200
    computed.clear()
    incremental = reports(admin, form)
    assert sum(computed) == 4 + 1 + 1 + 1   # the new ones, the edited one (once), the rejected, the deleted
    assert incremental == recomputed(admin, form)

    # A restore and an approval: the restore stamps nothing, so the per-state counts disagree with the
    # sums and every household is checked.
    reports(admin, form)
    assert admin.post(f"{form}/submissions/{first[2].instance_id}/restore").status_code == 200
    assert admin.patch(f"{form}/submissions/{first[9].instance_id}", {"reviewState": "approved"}).status_code == 200
    assert reports(admin, form) == recomputed(admin, form)


def test_one_new_household_is_the_only_one_computed(admin, client, form, key, computed):
    for h in households(5, 8):
        post(client, key, to_xml(h))
    reports(admin, form)
    assert sum(computed) == 8 and max(computed) <= 3          # in chunks of 3
    computed.clear()
    post(client, key, to_xml(households(6, 1)[0]))
    after = reports(admin, form)
    assert computed == [1]
    assert after == recomputed(admin, form)


def test_a_household_deleted_from_the_database_leaves_the_sums(app, admin, client, form, key):
    hs = households(7, 6)
    for h in hs:
        post(client, key, to_xml(h))
    reports(admin, form)
    with app.extensions["hamlet.engine"].begin() as conn:   # behind the server's back: the row cascades away
        conn.execute(text("UPDATE submissions SET current_def_id = NULL WHERE instance_id = :i"),
                     {"i": hs[0].instance_id})
        conn.execute(text("DELETE FROM submissions WHERE instance_id = :i"), {"i": hs[0].instance_id})
    after = reports(admin, form)
    assert sum(a["households"] for a in after[0]["areas"] if a["level"] == "province") + \
        sum(u["households"] for u in after[0]["unmatchedAreas"]) == 5
    assert after == recomputed(admin, form)


def test_a_household_deleted_from_the_database_during_the_first_computation(app, admin, client, form, key,
                                                                             monkeypatch):
    """PostgreSQL gets the rows' foreign key only once they are all written (one check, not one per row): a
    household deleted while they were being written is dropped then, and the sums follow; then the rows
    have their foreign key (deleting a submission deletes its row), on either database."""
    hs = households(12, 7)
    for h in hs:
        post(client, key, to_xml(h))
    assert _workbook(admin, form).status_code == 200     # a new generation: the next report computes all 7
    original, chunks = store._compute, []

    def delete_then_compute(conn, tables, workbook, ids, *rest):
        chunks.append(len(ids))
        if len(chunks) == 2:   # the first chunk is stored; its first household goes behind the server's back
            with app.extensions["hamlet.engine"].begin() as other:
                other.execute(text("UPDATE submissions SET current_def_id = NULL WHERE instance_id = :i"),
                              {"i": hs[0].instance_id})
                other.execute(text("DELETE FROM submissions WHERE instance_id = :i"), {"i": hs[0].instance_id})
        return original(conn, tables, workbook, ids, *rest)

    monkeypatch.setattr(store, "_compute", delete_then_compute)
    after = reports(admin, form)
    monkeypatch.setattr(store, "_compute", original)
    assert chunks == [3, 3, 1]
    assert sum(a["households"] for a in after[0]["areas"] if a["level"] == "province") + \
        sum(u["households"] for u in after[0]["unmatchedAreas"]) == 6
    assert after == recomputed(admin, form)
    with app.extensions["hamlet.engine"].begin() as conn:
        form_id = conn.execute(text("SELECT id FROM forms WHERE xml_form_id = :f"), {"f": FORM}).scalar()
        assert conn.execute(text(f"SELECT count(*) FROM ic{form_id}")).scalar() == 6
        assert [fk["referred_table"] for fk in inspect(conn).get_foreign_keys(f"ic{form_id}")] == ["submissions"]


@pytest.mark.postgresql_only
def test_the_foreign_key_never_waits_behind_intake(app, admin, client, form, key, monkeypatch):
    """PostgreSQL: adding the rows' foreign key needs a lock on submissions that intake's transactions hold;
    it gives up after its lock timeout (the report is served all the same) and the next refresh adds it,
    validated. An unchanged report asks the catalog once, not SQLAlchemy's inspector."""
    engine = app.extensions["hamlet.engine"]
    monkeypatch.setattr(store, "CONSTRAIN_LOCK_TIMEOUT", "200ms")
    for h in households(13, 4):
        post(client, key, to_xml(h))
    assert _workbook(admin, form).status_code == 200
    form_id = _form_id(app)

    def foreign_keys():
        with engine.connect() as conn:
            return conn.execute(text("SELECT convalidated FROM pg_constraint WHERE conrelid = to_regclass(:t) "
                                     "AND contype = 'f'"), {"t": f"ic{form_id}"}).scalars().all()

    with engine.connect() as intake:
        intake.execute(text("LOCK TABLE submissions IN ROW EXCLUSIVE MODE"))   # what an INSERT holds till commit
        held = reports(admin, form)
        assert foreign_keys() == []
        intake.rollback()
    post(client, key, to_xml(households(14, 1)[0]))
    after = reports(admin, form)
    assert foreign_keys() == [True]
    assert sum(a["households"] for a in held[0]["areas"] if a["level"] == "province") + \
        sum(u["households"] for u in held[0]["unmatchedAreas"]) == 4
    assert after == recomputed(admin, form)


def _form_id(app) -> int:
    with app.extensions["hamlet.engine"].connect() as conn:
        return conn.execute(text("SELECT id FROM forms WHERE xml_form_id = :f"), {"f": FORM}).scalar()


def test_every_household_is_checked_when_the_last_full_check_is_old(app, admin, client, form, key, monkeypatch):
    for h in households(8, 6):
        post(client, key, to_xml(h))
    reports(admin, form)
    # A stored row that no longer matches its household (as an edit whose commit landed long after the time
    # it stamped could leave it). While the full check is recent, a change looks only at the candidates …
    with app.extensions["hamlet.engine"].begin() as conn:
        form_id = conn.execute(text("SELECT id FROM forms WHERE xml_form_id = :f"), {"f": FORM}).scalar()
        conn.execute(text(f"UPDATE ic{form_id} SET def_id = 0 WHERE submission_id = "
                          f"(SELECT min(submission_id) FROM ic{form_id})"))

    def wrong_rows():
        with app.extensions["hamlet.engine"].connect() as conn:
            return conn.execute(text(f"SELECT count(*) FROM ic{form_id} WHERE def_id = 0")).scalar()

    store._baselines.clear()                   # a new process: it trusts the baseline stored in ib{form}
    post(client, key, to_xml(households(9, 1)[0]))
    reports(admin, form)
    assert wrong_rows() == 1
    # … and once the last full check is older than FULL_CHECK_SECONDS, the next change checks every one.
    monkeypatch.setattr(store, "FULL_CHECK_SECONDS", 0.0)
    post(client, key, to_xml(households(10, 1)[0]))
    after = reports(admin, form)
    assert wrong_rows() == 0
    assert after == recomputed(admin, form)


def test_writing_a_chunk_twice_changes_nothing(app, admin, client, project, form, key):
    """Two workers refreshing at once compute the same households; the second write finds them done."""
    for h in households(9, 5):
        post(client, key, to_xml(h))
    from sqlalchemy import select

    from server.indicators.workbook import Workbook
    from server.models.form_data import data_tables
    from server.models.forms import live_form
    from server.models.submissions import Submission

    with app.extensions["hamlet.sessionmaker"]() as s:
        f = live_form(s, project, FORM)
        found = indicator_set(s, f.id)
        wb = Workbook.from_json(found.definition)
        ic, ia = store._ensure_tables(s, f.id, len(wb.indicators))
        sub = Submission.__table__
        rows = s.execute(select(sub.c.id, sub.c.current_def_id).where(sub.c.form_id == f.id).order_by(sub.c.id)).all()
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        defs = np.array([r[1] for r in rows], dtype=np.int64)
        frame = store._compute(s.connection(), data_tables(s, f.id), wb, ids, defs)
        s.commit()
        assert store._apply(s, f.id, ic, ia, len(wb.indicators), found.generation, frame) == 5
        s.commit()
        sums = s.execute(select(ia)).all()
        assert store._apply(s, f.id, ic, ia, len(wb.indicators), found.generation, frame) == 0
        s.commit()
        assert s.execute(select(ia)).all() == sums
        # a chunk computed for an older workbook generation writes nothing
        assert store._apply(s, f.id, ic, ia, len(wb.indicators), found.generation - 1, frame) is None
        s.rollback()
    assert reports(admin, form) == recomputed(admin, form)


def _stored(app) -> tuple[list, list]:
    form_id = _form_id(app)
    with app.extensions["hamlet.engine"].connect() as conn:
        return (conn.execute(text(f"SELECT * FROM ic{form_id} ORDER BY submission_id")).all(),
                conn.execute(text(f"SELECT * FROM ia{form_id} ORDER BY area_code, state")).all())


def _assert_the_same(python: tuple, database: tuple) -> None:
    """(reports, (ic rows, ia rows)) computed by Python and by the database agree: the same reports, the
    same household rows but for their generation (column 2), the same sums per area."""
    assert python[1][0] and python[1][1]
    assert [tuple(r)[:2] + tuple(r)[3:] for r in database[1][0]] == [tuple(r)[:2] + tuple(r)[3:] for r in python[1][0]]
    assert database[1][1] == python[1][1] and database[0] == python[0]


@pytest.mark.parametrize("left_to_python", [(), ("hh_broadband", "adult_bank_or_ewallet")])
@pytest.mark.postgresql_only
def test_the_database_stores_the_rows_python_would(app, admin, client, form, key, monkeypatch, computed,
                                                  left_to_python):
    """PostgreSQL computes a first computation in one statement (server/indicators/in_database.py): the rows
    and sums it stores are those of the Python path, byte for byte, with indicators that do not compile left
    to the Python evaluator, rejected and deleted households, an answer it would read differently (left to
    the Python path) — and a new household after it is computed incrementally as before."""
    from server.indicators import in_database
    from server.indicators.sql_expressions import NotCompilable

    hs = households(15, 9)
    hs[3].members[0].age = "1.5"   # not a plain number: this household is computed in Python
    for h in hs:
        post(client, key, to_xml(h))
    assert admin.patch(f"{form}/submissions/{hs[1].instance_id}", {"reviewState": "rejected"}).status_code == 200
    assert admin.delete(f"{form}/submissions/{hs[2].instance_id}").status_code == 200
    original = in_database._unit_sql

    def refusing(ind, *args):
        if ind.name in left_to_python:
            raise NotCompilable("as if it did not compile")
        return original(ind, *args)

    monkeypatch.setattr(in_database, "_unit_sql", refusing)
    monkeypatch.setattr(store, "IN_DATABASE_FROM", 10**9)
    python = reports(admin, form), _stored(app)
    monkeypatch.setattr(store, "IN_DATABASE_FROM", 0)
    computed.clear()
    assert _workbook(admin, form).status_code == 200
    database = reports(admin, form), _stored(app)
    _assert_the_same(python, database)
    # Python computed only the odd household, plus, for the indicators left to it, every household
    assert computed == ([1] if not left_to_python else [3, 3, 2, 1])
    post(client, key, to_xml(households(16, 1)[0]))
    computed.clear()
    after = reports(admin, form)
    assert computed == [1]
    assert after == recomputed(admin, form)


@pytest.mark.postgresql_only
def test_a_statement_the_database_refuses_leaves_every_household_to_python(app, admin, client, form, key,
                                                                           monkeypatch, computed):
    from server.indicators import in_database

    for h in households(17, 5):
        post(client, key, to_xml(h))
    expected = reports(admin, form)
    original = in_database.plan

    def broken(*args):
        found = original(*args)
        found.sql = found.sql.replace("FROM submissions s", "FROM submissions s JOIN no_such_table x ON true")
        return found

    monkeypatch.setattr(in_database, "plan", broken)
    monkeypatch.setattr(store, "IN_DATABASE_FROM", 0)
    computed.clear()
    assert recomputed(admin, form) == expected
    assert sum(computed) == 5


@pytest.mark.postgresql_only
def test_tables_emptied_by_a_database_crash_are_computed_again(app, admin, client, form, key, computed):
    """PostgreSQL: the three derived tables are UNLOGGED; crash recovery leaves them empty (as TRUNCATE
    does here), while this process still remembers the data version they were up to date at."""
    for h in households(18, 5):
        post(client, key, to_xml(h))
    expected = reports(admin, form)
    form_id = _form_id(app)
    with app.extensions["hamlet.engine"].begin() as conn:
        assert {r[0] for r in conn.execute(text(
            "SELECT relpersistence FROM pg_class WHERE relname IN (:c, :a, :b)"),
            {"c": f"ic{form_id}", "a": f"ia{form_id}", "b": f"ib{form_id}"})} == {"u"}
        conn.execute(text(f"TRUNCATE ic{form_id}, ia{form_id}, ib{form_id}"))
    assert form_id in store._baselines          # the same data version, as this process knows it
    results._cache.clear()                      # reports not served before (a date range, another level)
    computed.clear()
    assert reports(admin, form) == expected
    assert sum(computed) == 5


ODD_AGES = ["-0", "007", " 12", "+5", "\u0663", "1234567890123456", "15.0", "", "-00", "15", "60", "61", "14", "18",
            "123456789012345", "-15", "0015"]
ODD_LISTS = ["momo  zalopay", " momo", "none ", "momo\tnone", "% _", "a.b", "", "none\u00a0momo", "momo momo", "_",
             "zalopay   none", "none", "momo"]


@pytest.mark.postgresql_only
def test_the_database_stores_the_rows_python_would_for_odd_answers(app, admin, client, form, key, monkeypatch,
                                                                  computed):
    """As above, with answers in every shape SQL reads as a number or list (or leaves to Python): ages with
    signs, zeros, edge spaces, other scripts' digits, 15 and 16 digits; lists with several spaces, edge
    spaces, other whitespace, LIKE specials; a household without members and one with many."""
    hs = households(17, 12)
    at = 0
    for h in hs:
        h.runs_business = "yes"
        h.extra["cashless"] = ODD_LISTS[at % len(ODD_LISTS)]
        h.extra["ecommerce"] = ODD_LISTS[(at + 5) % len(ODD_LISTS)]
        for m in h.members:
            m.age = ODD_AGES[at % len(ODD_AGES)]   # type: ignore[assignment]
            m.answers.update(smartphone="yes", bank_account="no", ewallets=ODD_LISTS[at % len(ODD_LISTS)],
                             vneid_level2="yes", shopped_online="yes", digital_signature="no")
            at += 1
    hs[0].members = []
    hs[1].members = hs[1].members * 5
    for h in hs:
        post(client, key, to_xml(h))
    monkeypatch.setattr(store, "IN_DATABASE_FROM", 10**9)
    python = reports(admin, form), _stored(app)
    monkeypatch.setattr(store, "IN_DATABASE_FROM", 0)
    computed.clear()
    assert _workbook(admin, form).status_code == 200
    database = reports(admin, form), _stored(app)
    _assert_the_same(python, database)
    assert 0 < sum(computed) < len(hs)   # the households with odd answers by Python, the others by SQL


@pytest.mark.parametrize("replaced", [False, True])
@pytest.mark.postgresql_only
def test_rows_left_by_a_deleted_household_make_validate_try_again(app, admin, client, form, key, monkeypatch,
                                                                 replaced):
    """PostgreSQL: a household deleted behind the server's back before the rows' foreign key existed leaves a
    row VALIDATE refuses (23503); the rows without a submission are then dropped under the form's lock and
    VALIDATE runs again. `replaced`: meanwhile a new workbook replaced the table (its new table has no
    foreign key yet): nothing is validated then, the report is served, and the next refresh adds the key."""
    engine = app.extensions["hamlet.engine"]
    hs = households(18, 5)
    for h in hs:
        post(client, key, to_xml(h))
    assert _workbook(admin, form).status_code == 200
    form_id = _form_id(app)
    original_constrain, original_lock, locks = store._constrain, store._lock, []

    def deleting_first(db, fid, ic):
        with engine.begin() as other:   # the rows are written, their key not yet added
            other.execute(text("UPDATE submissions SET current_def_id = NULL WHERE instance_id = :i"),
                          {"i": hs[0].instance_id})
            other.execute(text("DELETE FROM submissions WHERE instance_id = :i"), {"i": hs[0].instance_id})
        monkeypatch.setattr(store, "_lock", locking)
        try:
            original_constrain(db, fid, ic)
        finally:
            monkeypatch.setattr(store, "_lock", original_lock)

    def locking(db, fid):
        locks.append(fid)
        if len(locks) == 2 and replaced:   # VALIDATE failed; before the retry, the table is made anew
            with engine.begin() as other:
                other.execute(text(f"ALTER TABLE ic{fid} DROP CONSTRAINT ic{fid}_submission_id_fkey"))
        return original_lock(db, fid)

    def foreign_keys():
        with engine.connect() as conn:
            return conn.execute(text("SELECT convalidated FROM pg_constraint WHERE conrelid = to_regclass(:t) "
                                     "AND contype = 'f'"), {"t": f"ic{form_id}"}).scalars().all()

    monkeypatch.setattr(store, "_constrain", deleting_first)
    first = reports(admin, form)   # (with the table replaced, a ProgrammingError: no constraint to VALIDATE)
    monkeypatch.setattr(store, "_constrain", original_constrain)
    # VALIDATE refused the row and was tried again under the lock (replaced: the report's next query added it)
    assert len(locks) == 2 if not replaced else len(locks) > 2
    assert foreign_keys() == [True]
    after = reports(admin, form)
    assert foreign_keys() == [True]
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM ic{form_id}")).scalar() == 4
    assert sum(a["households"] for a in after[0]["areas"] if a["level"] == "province") + \
        sum(u["households"] for u in after[0]["unmatchedAreas"]) == 4
    assert after == recomputed(admin, form)
    assert first == after


SHARING = [
    # name, vi, en, unit, filter, condition: filters and conditions shared in other pairs, swapped, the same
    ("a", "a", "a", "members", "${age} >= 15", "${smartphone} = 'yes'"),
    ("b", "b", "b", "members", "${age} >= 15 and ${age} <= 60", "${smartphone} = 'yes'"),
    ("c", "c", "c", "members", "${smartphone} = 'yes'", "${age} >= 15"),
    ("d", "d", "d", "members", "${smartphone} = 'yes'", "${smartphone} = 'yes'"),
    ("e", "e", "e", "members", "", "selected(${ewallets}, 'momo')"),
    ("f", "f", "f", "members", "${fixed_broadband} = 'fibre'", "count-selected(${ewallets}) >= 2"),
    ("g", "g", "g", "household", "", "selected(${cashless}, 'qr_code')"),
    ("h", "h", "h", "members", "${age} >= 15", "string-length(${member_name}) > 3"),
    ("i", "i", "i", "members", "${age} > 0", "not(selected(${ewallets}, 'none'))"),
    ("j", "j", "j", "members", "${age} >= 15", "${age} >= 15"),
    ("k", "k", "k", "members", "selected(${ewallets}, '%')", "selected(${ewallets}, '_')"),
    ("l", "l", "l", "members", "selected(${cashless}, 'qr_code')", "count-selected(${cashless}) = 1"),
]


@pytest.mark.parametrize("with_python", [False, True])
@pytest.mark.postgresql_only
def test_shared_filters_and_conditions_store_the_rows_python_would(app, admin, client, project, form, key,
                                                                   monkeypatch, computed, with_python):
    """The first computation in SQL computes each distinct filter and condition once per roster row and counts
    the rows where both hold: indicators sharing them in other pairs, swapped, a filter that is its own
    condition, no filter, a household answer in a member's filter, one left to Python; by SQL and by Python."""
    from helpers import indicators_workbook

    indicators = SHARING if with_python else [i for i in SHARING if i[0] != "h"]
    workbook = indicators_workbook(indicators, [("tan_uyen_2025", "s", "s", "c1", "a", ">=", 50, "village", 2025)])
    hs = households(19, 10)
    for n, h in enumerate(hs):
        for j, m in enumerate(h.members):
            m.answers.update(smartphone=["yes", "no", ""][(n + j) % 3], ewallets=ODD_LISTS[(n * 3 + j) % len(ODD_LISTS)])
        h.runs_business = "yes"
        h.extra["cashless"] = ["qr_code  bank_transfer", " qr_code", "qr_code\tnone", "none", ""][n % 5]
    hs[2].members = []
    for h in hs:
        post(client, key, to_xml(h))

    def upload():
        resp = admin.client.put(f"{form}/indicators", data=workbook, content_type=XLSX, headers=admin._headers())
        assert resp.status_code == 200, resp.get_json()

    monkeypatch.setattr(store, "IN_DATABASE_FROM", 10**9)
    upload()
    python = reports(admin, form), _stored(app)
    monkeypatch.setattr(store, "IN_DATABASE_FROM", 0)
    computed.clear()
    upload()
    database = reports(admin, form), _stored(app)
    _assert_the_same(python, database)
    # "h" is left to Python: every household computed by it too; else only those with lists SQL leaves to it
    assert sum(computed) == 10 if with_python else 0 < sum(computed) < 10
