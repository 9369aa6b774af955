"""The `hamlet` command as an operator uses it on a fresh machine."""
import pytest
from click.testing import CliRunner

from helpers import CORPUS
from server.cli import main


@pytest.fixture
def env(tmp_path, monkeypatch):
    for key in ("HAMLET_DATABASE_URL", "HAMLET_DATA_DIR", "HAMLET_ADMIN_EMAIL", "HAMLET_ADMIN_PASSWORD", "PORT",
                "HAMLET_HOST"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HAMLET_INSTANCE_DIR", str(tmp_path / "instance"))
    monkeypatch.setenv("HAMLET_ODK_VALIDATE", "off")
    return tmp_path


def run(*args, input=None):
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    return result


def test_fresh_install_migrate_create_user_project_and_publish(env):
    assert "up to date" in run("db", "upgrade").output
    assert (env / "instance" / "hamlet.db").exists()
    out = run("user", "create", "lan@example.vn", "--role", "admin", input="a long password\n")
    assert out.exit_code == 0 and "site administrator" in out.output
    again = run("user", "create", "lan@example.vn", input="a long password\n")
    assert again.exit_code != 0 and "already exists" in again.output
    short = run("user", "create", "b@example.vn", input="short\n")
    assert short.exit_code != 0 and "at least" in short.output
    project_id = run("project", "create", "Phường Tân Chính").output.strip()
    assert project_id == "1"
    media = CORPUS / "collect-external-csv-cascade"
    out = run("form", "publish", str(media / "form.xml"), "--project", "1", "--media", str(media / "form-media"))
    assert out.exit_code == 0, out.output
    assert "published ecsv" in out.output and "external_csv_cities.csv" in out.output
    # Publishing the same version again is refused with the reason.
    out = run("form", "publish", str(media / "form.xml"), "--project", "1")
    assert out.exit_code != 0 and "already published" in out.output


def test_broken_xlsform_shows_pyxforms_row(env):
    run("db", "upgrade")
    run("project", "create", "x")
    out = run("form", "publish", str(CORPUS / "ipa-household-survey/form.xlsx"), "--project", "1")
    assert out.exit_code != 0 and "row" in out.output and "choices" in out.output


def test_admin_from_environment_is_created_on_upgrade(env, monkeypatch):
    monkeypatch.setenv("HAMLET_ADMIN_EMAIL", "root@example.vn")
    monkeypatch.setenv("HAMLET_ADMIN_PASSWORD", "from the environment")
    run("db", "upgrade")
    from server import create_app

    app = create_app()
    resp = app.test_client().post("/v1/sessions", json={"email": "root@example.vn", "password": "from the environment"})
    assert resp.status_code == 200


def test_upgrade_does_not_tell_the_operator_to_run_itself(env, monkeypatch, caplog):
    """The administrator is created once the tables exist; meanwhile no "not migrated yet" warning."""
    monkeypatch.setenv("HAMLET_ADMIN_EMAIL", "root@example.vn")
    monkeypatch.setenv("HAMLET_ADMIN_PASSWORD", "from the environment")
    with caplog.at_level("INFO", logger="hamlet"):
        out = run("db", "upgrade")
    said = out.output + caplog.text
    assert "up to date" in out.output and "created site administrator root@example.vn" in said
    assert "not migrated" not in said and "run `hamlet db upgrade`" not in said


def test_the_server_on_a_fresh_database_still_says_to_upgrade(env, monkeypatch, caplog):
    from server import create_app

    monkeypatch.setenv("HAMLET_ADMIN_EMAIL", "root@example.vn")
    monkeypatch.setenv("HAMLET_ADMIN_PASSWORD", "from the environment")
    with caplog.at_level("WARNING", logger="hamlet"):
        create_app()
    assert "run `hamlet db upgrade` to create the administrator root@example.vn" in caplog.text


def test_demo_is_idempotent_and_prints_credentials(env):
    run("db", "upgrade")
    first = run("demo")
    assert first.exit_code == 0, first.output
    assert "admin@hamlet.local" in first.output and "password:" in first.output
    assert "published household_digital_survey version '2026112301'" in first.output
    assert "areas.csv" in first.output
    # the follow-up loop: the survey registers households, the follow-up form reads them as households.csv
    followup = next(ln for ln in first.output.splitlines() if "published household_followup" in ln)
    assert "media attached: areas.csv" in followup and "missing" not in followup
    second = run("demo")
    assert second.exit_code == 0
    assert "published" not in second.output
    password = next(ln.split()[-1] for ln in first.output.splitlines() if "password:" in ln)
    assert password in second.output


def test_demo_prints_the_address_it_was_given_as_serve_binds_it(env, monkeypatch):
    run("db", "upgrade")
    assert "http://127.0.0.1:8000/" in run("demo").output   # nothing given: serve's default
    monkeypatch.setenv("PORT", "8765")   # as scripts/start.sh and hosting platforms set it
    printed = run("demo").output
    assert "web pages:      http://127.0.0.1:8765/" in printed and "http://<this machine>:8765/v1/key/" in printed
    assert "8000" not in printed
    assert "http://10.0.0.5:9001/v1" in run("demo", "--host", "10.0.0.5", "--port", "9001").output
    monkeypatch.setenv("HAMLET_HOST", "0.0.0.0")   # every interface: a browser here opens 127.0.0.1
    assert "web pages:      http://127.0.0.1:8765/" in run("demo").output


def test_indicators_load_and_report_from_the_command_line(env):
    import random

    from server import create_app
    from server.models.intake import identify, receive, resolve
    from server.synthetic import random_household, to_xml

    run("db", "upgrade")
    assert run("demo").exit_code == 0
    app = create_app()
    with app.app_context():
        s = app.extensions["hamlet.sessionmaker"]()
        rng = random.Random(5)
        for _ in range(20):
            xml = to_xml(random_household(rng, "DN-HV-HP-01"))
            root, parsed = identify(xml)
            form, form_def = resolve(s, 1, parsed.xml_form_id, parsed.version)
            receive(s, app.extensions["hamlet.blobs"], app.extensions["hamlet.cache"], form, form_def, root, parsed,
                    xml, {}, None, None, None, 10**8)
        s.commit()
        s.close()
    out = run("indicators", "report", "--project", "1", "--form", "household_digital_survey",
              "--target-set", "thac_gian_kdc", "--level", "village", "--area", "DN-HV-HP")
    assert out.exit_code == 0, out.output
    assert "DN-HV-HP-01" in out.output and "20 hh" in out.output and "hh_broadband" in out.output
    csv_out = run("indicators", "report", "--project", "1", "--form", "household_digital_survey", "--csv")
    assert csv_out.output.startswith("area_code,area_name,level,households")
    bad = run("indicators", "load", str(CORPUS / "onadata-accents/form.xlsx"), "--project", "1",
              "--form", "household_digital_survey")
    assert bad.exit_code != 0 and "nothing was changed" in bad.output


def test_commands_leave_audit_entries_without_an_actor(env):
    """What an operator does with `hamlet` is in the audit log too, with no actor and `via: cli`."""
    from sqlalchemy import create_engine, text

    run("db", "upgrade")
    run("user", "create", "lan@example.vn", input="a long password\n")
    run("project", "create", "Phường Tân Chính")
    media = CORPUS / "collect-external-csv-cascade"
    assert run("form", "publish", str(media / "form.xml"), "--project", "1", "--media",
               str(media / "form-media")).exit_code == 0
    out = run("export", "ecsv", "--project", "1", "--out", str(env / "out"))
    assert out.exit_code == 0, out.output
    engine = create_engine(f"sqlite:///{env / 'instance' / 'hamlet.db'}")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT actor_id, action, actee_type, details FROM audits ORDER BY id")).all()
    engine.dispose()
    assert [(r.actor_id, r.action, r.actee_type) for r in rows] == [
        (None, "user.create", "actor"), (None, "project.create", "project"), (None, "form.create", "form"),
        (None, "form.update.publish", "form"), (None, "form.submission.export", "form")]
    assert all('"via": "cli"' in r.details for r in rows)
