"""The `hamlet` command: database, users, projects, forms, and a development server."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext


def _app_factory() -> Flask:
    from server import create_app

    # `hamlet db upgrade` creates the administrator itself once the tables exist; made by the app
    # before them, it would warn "not migrated yet; run `hamlet db upgrade`" during that very command.
    ctx = click.get_current_context(silent=True)
    return create_app(create_admin=ctx is None or ctx.command is not db_upgrade)


@click.group(cls=FlaskGroup, create_app=_app_factory, add_default_commands=False, add_version_option=False)
def main() -> None:
    """Hamlet: an ODK-compatible survey server."""


def _audit(s, action: str, actee, details: dict | None = None) -> None:
    """The audit log's entry for a command: no actor (whoever runs `hamlet` on the server), `via: cli`."""
    from server.models.audits import record

    record(s, None, action, actee, {**(details or {}), "via": "cli"})


def _session():
    return current_app.extensions["hamlet.sessionmaker"]()


# --- database ----------------------------------------------------------------------------------------

@main.group()
def db() -> None:
    """Database migrations."""


def alembic_config(url: str):
    from alembic.config import Config

    here = Path(__file__).parent
    cfg = Config()
    cfg.set_main_option("script_location", str(here / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_database(url: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(url), "head")


@db.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Apply every migration (safe to run on every release)."""
    upgrade_database(current_app.config["HAMLET"].database_url)
    settings = current_app.config["HAMLET"]
    if settings.admin_email and settings.admin_password:
        from server.bootstrap import ensure_site_admin

        ensure_site_admin(current_app, settings.admin_email, settings.admin_password)
    click.echo("database is up to date")


# --- users and projects ------------------------------------------------------------------------------

@main.group()
def user() -> None:
    """Web users."""


@user.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "none"]), default="none", help="site role")
@click.option("--name", "display_name", default=None, help="display name")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@with_appcontext
def user_create(email: str, role: str, display_name: str | None, password_stdin: bool) -> None:
    """Create a web user; the password is prompted for, or read from stdin."""
    from server.api.users import MIN_PASSWORD
    from server.models.accounts import create_user, user_by_email

    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD:
        raise click.ClickException(f"the password must be at least {MIN_PASSWORD} characters long")
    with _session() as s:
        if user_by_email(s, email):
            raise click.ClickException(f"a user with email {email} already exists")
        u = create_user(s, email, password, display_name, site_role="admin" if role == "admin" else None)
        _audit(s, "user.create", u, {"data": {"email": u.email, "displayName": u.display_name}})
        s.commit()
        click.echo(f"created user {u.id} <{u.email}>{' (site administrator)' if role == 'admin' else ''}")


@user.command("scope")
@click.argument("email")
@click.option("--project", "project_id", type=int, required=True)
@click.option("--area", "areas", multiple=True, help="an area code of the project's registry (repeat for several)")
@click.option("--clear", is_flag=True, help="give the user the whole project again")
@with_appcontext
def user_scope(email: str, project_id: int, areas: tuple[str, ...], clear: bool) -> None:
    """Limit a user's roles in a project to some areas and everything below them (or --clear)."""
    from server.auth.scope import UnknownAreas, assigned_areas, set_areas
    from server.models.accounts import user_by_email
    from server.models.projects import live_project

    if bool(areas) == clear:
        raise click.UsageError("give one or more --area CODE, or --clear")
    with _session() as s:
        u = user_by_email(s, email)
        if u is None:
            raise click.ClickException(f"there is no user with email {email}")
        if live_project(s, project_id) is None:
            raise click.ClickException(f"there is no project {project_id}")
        if u.is_site_admin and areas:
            raise click.ClickException(f"{email} is a site administrator; administrators are never limited to areas")
        before = assigned_areas(s, u.id, project_id)
        try:
            codes = set_areas(s, u.id, project_id, [] if clear else list(areas))
        except UnknownAreas as exc:
            raise click.ClickException(f"not in project {project_id}'s registry: {', '.join(exc.codes)}; "
                                       "nothing was changed") from None
        if codes != before:
            _audit(s, "area_assignment.update", u, {"projectId": project_id, "areas": codes, "previous": before})
        s.commit()
        if codes:
            click.echo(f"{email} sees only {', '.join(codes)} (and the areas below) in project {project_id}")
        else:
            click.echo(f"{email} sees the whole of project {project_id}")


@main.group()
def mail() -> None:
    """Email (HAMLET_SMTP_URL)."""


@mail.command("test")
@click.argument("address")
@with_appcontext
def mail_test(address: str) -> None:
    """Send one test message to ADDRESS through the configured SMTP server, to check the settings."""
    from server.mail import messages
    from server.mail.smtp import SendFailed, email_off_reason, send, transport

    settings = current_app.config["HAMLET"]
    t = transport(settings)
    if t is None:
        raise click.ClickException(f"email is off: {email_off_reason(settings)}")
    try:
        send(t, messages.compose("test", address, None, site=(settings.base_url or "").split("//", 1)[-1]))
    except SendFailed as exc:
        raise click.ClickException(f"not sent ({t.describe()}): {exc}") from None
    click.echo(f"sent a test message to {address} ({t.describe()})")


@main.group()
def project() -> None:
    """Projects."""


@project.command("create")
@click.argument("name")
@with_appcontext
def project_create(name: str) -> None:
    """Create a project and print its id."""
    from server.models.projects import Project

    with _session() as s:
        p = Project(name=name)
        s.add(p)
        s.flush()
        _audit(s, "project.create", p, {"data": {"name": name}})
        s.commit()
        click.echo(p.id)


# --- forms -------------------------------------------------------------------------------------------

@main.group()
def form() -> None:
    """Forms."""


@form.command("publish")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--project", "project_id", type=int, required=True)
@click.option("--media", "media_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="folder holding the form's media files (default: the XLSForm's folder)")
@click.option("--ignore-warnings", is_flag=True)
@with_appcontext
def form_publish(path: Path, project_id: int, media_dir: Path | None, ignore_warnings: bool) -> None:
    """Publish an XLSForm or XForm: a new form, or a new version of an existing one, with its media."""
    from server import problems
    from server.models import form_versions as fv
    from server.models.forms import live_form
    from server.models.projects import live_project

    settings = current_app.config["HAMLET"]
    store = current_app.extensions["hamlet.blobs"]
    media_dir = media_dir or path.parent
    with _session() as s:
        if live_project(s, project_id) is None:
            raise click.ClickException(f"there is no project {project_id}")
        try:
            definition = fv.read_definition(path.read_bytes(), settings, fallback_id=path.stem,
                                            ignore_warnings=ignore_warnings)
            existing = live_form(s, project_id, definition.info.xml_form_id)
            if existing is None:
                f = fv.create_form(s, store, project_id, definition, None)
                _audit(s, "form.create", f)
            else:
                fv.create_draft(s, store, existing, definition, None)
                f = existing
            attached = []
            for name in definition.info.media:
                candidate = media_dir / name
                if name not in definition.generated_media and candidate.is_file():
                    with candidate.open("rb") as fh:
                        fv.upload_attachment(s, store, f, name, fh, None, settings.max_submission_bytes)
                    attached.append(name)
            old = f.current_def_id
            version = fv.publish_draft(s, f)
            _audit(s, "form.update.publish", f, {"oldDefId": old, "newDefId": f.current_def_id})
            s.commit()
        except problems.Problem as exc:
            s.rollback()
            details = f"\n{exc.details}" if exc.details else ""
            raise click.ClickException(f"{exc.message}{details}") from None
        missing = [n for n in definition.info.media if n not in attached and n not in definition.generated_media
                   and not _served_from_entity_list(project_id, n)]
        click.echo(f"published {f.xml_form_id} version {version.version!r} in project {project_id}"
                   f" (md5 {version.hash}); media attached: {', '.join(attached) or 'none'}"
                   + (f"; media still missing: {', '.join(missing)}" if missing else ""))
        for w in definition.warnings:
            click.echo(f"warning: {w}")
        click.echo(definition.validation.get("message", ""))


# --- areas ---------------------------------------------------------------------------------------------

@main.group()
def areas() -> None:
    """The area registry (province → district → commune → village)."""


def load_areas(project_id: int, path: Path) -> str:
    from server.models import areas as registry
    from server.models.projects import live_project

    store = current_app.extensions["hamlet.blobs"]
    with _session() as s:
        if live_project(s, project_id) is None:
            raise click.ClickException(f"there is no project {project_id}")
        try:
            rows = registry.parse_registry(path.read_bytes())
        except registry.RegistryInvalid as exc:
            lines = [f"  row {e['row']}, column {e['column']}: {e['message']}" if e.get("row") else f"  {e['message']}"
                     for e in exc.errors]
            raise click.ClickException("the area registry has problems; nothing was changed:\n" + "\n".join(lines)) from None
        count = registry.replace_registry(s, project_id, rows)
        forms = registry.sync_form_media(s, store, project_id)
        s.commit()
    return f"loaded {count} areas into project {project_id}" + (f"; areas.csv updated for {', '.join(forms)}" if forms else "")


@areas.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--project", "project_id", type=int, required=True)
@with_appcontext
def areas_load(path: Path, project_id: int) -> None:
    """Replace a project's area registry with a CSV or XLSX (code, name, level, parent, expected_households)."""
    click.echo(load_areas(project_id, path))


# --- entities ------------------------------------------------------------------------------------------

@main.group()
def entities() -> None:
    """Entity Lists (households) kept from submissions."""


@entities.command("process-backlog")
@click.option("--force", is_flag=True, help="force through every held update, however recent")
@click.option("--days", type=float, default=5.0, show_default=True,
              help="force through the updates held for longer than this")
@with_appcontext
def entities_process_backlog(force: bool, days: float) -> None:
    """Apply the offline entity updates still waiting for an earlier update of their branch that never
    came (held longer than --days, or all with --force), on top of each entity's current version, as
    ODK Central's backlog does (docs/entities.md). Run it daily, e.g. from cron."""
    from server.models.entities import force_due

    with _session() as s:
        count = force_due(s, force=force, days=days, commit=True)
        s.commit()
    click.echo(f"processed {count} held entity update{'s' if count != 1 else ''}")


# --- indicators ----------------------------------------------------------------------------------------

@main.group()
def indicators() -> None:
    """Indicators, targets and coverage of a form."""


def _form(s, project_id: int, form_id: str):
    from server.models.forms import live_form

    form = live_form(s, project_id, form_id)
    if form is None:
        raise click.ClickException(f"there is no form '{form_id}' in project {project_id}")
    return form


@indicators.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--project", "project_id", type=int, required=True)
@click.option("--form", "form_id", required=True)
@with_appcontext
def indicators_load(path: Path, project_id: int, form_id: str) -> None:
    """Give a form its indicators workbook (indicators, targets, settings sheets)."""
    from server.indicators.workbook import WorkbookInvalid, parse_workbook
    from server.models.areas import registry_codes
    from server.models.blobs import ensure_blob
    from server.models.forms import FormDef
    from server.models.indicators import save_workbook
    from server.xforms.schema import read_schema

    store = current_app.extensions["hamlet.blobs"]
    with _session() as s:
        form = _form(s, project_id, form_id)
        if form.current_def_id is None:
            raise click.ClickException("publish the form first")
        data = path.read_bytes()
        try:
            workbook = parse_workbook(data, read_schema(s.get(FormDef, form.current_def_id).xml),
                                      registry_codes(s, project_id))
        except WorkbookInvalid as exc:
            lines = [f"  {e.get('sheet') or ''} row {e.get('row')}, column {e.get('column')}: {e['message']}" for e in exc.errors]
            raise click.ClickException("the workbook has problems; nothing was changed:\n" + "\n".join(lines)) from None
        sha, md5, size = store.put_bytes(data)
        save_workbook(s, form.id, workbook, ensure_blob(s, sha, md5, size))
        s.commit()
    click.echo(f"loaded {len(workbook.indicators)} indicators and {len(workbook.criteria)} criteria in "
               f"{len(workbook.target_sets())} target sets for {form_id}")


@indicators.command("report")
@click.option("--project", "project_id", type=int, required=True)
@click.option("--form", "form_id", required=True)
@click.option("--target-set", default=None)
@click.option("--level", default=None)
@click.option("--area", default=None)
@click.option("--csv", "as_csv", is_flag=True, help="CSV instead of a table")
@with_appcontext
def indicators_report(project_id: int, form_id: str, target_set: str | None, level: str | None, area: str | None,
                      as_csv: bool) -> None:
    """Print the indicators per area against a target set."""
    from server.indicators.results import ReportError, ReportQuery, report
    from server.indicators.tables import report_csv

    with _session() as s:
        try:
            result = report(s, _form(s, project_id, form_id), ReportQuery(target_set=target_set, level=level, area=area))
        except ReportError as exc:
            raise click.ClickException(str(exc)) from None
    if as_csv:
        click.echo(report_csv(result), nl=False)
        return
    for a in result["areas"]:
        badge = {True: "ĐẠT / achieved", False: "chưa đạt / not yet", None: "—"}[a["achieved"]]
        cov = f"{a['coverage']:.1f}%" if a["coverage"] is not None else "?"
        click.echo(f"{a['code']:<14} {a['name']:<28} {a['households']:>6} hh ({cov} of {a['expectedHouseholds'] or '?'})  {badge}")
        for i in a["indicators"]:
            value = f"{i['value']:.1f}%" if i["value"] is not None else "  n/a"
            target = f" {i['comparator']} {i['target']:g}%" if i["target"] is not None else ""
            mark = {True: "✓", False: "✗", None: " "}[i["met"]]
            click.echo(f"    {mark} {i['name']:<30} {value:>7}  ({i['numerator']}/{i['denominator']}){target}")
    for u in result["unmatchedAreas"]:
        click.echo(f"unmatched area code {u['code']!r}: {u['households']} households not in the registry")


# --- serving -----------------------------------------------------------------------------------------

# Where the server listens: `hamlet serve` binds there and `hamlet demo` prints it, from the same
# flags or environment (scripts/start.sh and hosting platforms set PORT).
host_option = click.option("--host", envvar="HAMLET_HOST", default="127.0.0.1", show_default=True)
port_option = click.option("--port", envvar="PORT", default=8000, type=int, show_default=True)


def browser_base(host: str, port: int) -> str:
    """The address a browser on this machine opens: a wildcard bind is reached at 127.0.0.1."""
    shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else (f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{port}"


@main.command("serve")
@host_option
@port_option
@click.option("--workers", default=2, type=int, show_default=True)
@click.option("--threads", default=4, type=int, show_default=True, help="threads per worker")
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve with gunicorn as the Procfile does (server/gunicorn_config.py: threaded workers,
    keep-alive, the redacted access log)."""
    import os

    os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", "-c", "python:server.gunicorn_config",
                               "--bind", f"{host}:{port}", "--workers", str(workers), "--threads", str(threads),
                               "server:create_app()"])


def _served_from_entity_list(project_id: int, name: str) -> bool:
    """Is the form attachment `name` (households.csv) served from the project's Entity List of that name?"""
    from server.models.datasets import list_for_attachment

    with _session() as s:
        return list_for_attachment(s, project_id, name) is not None


# --- the quick start's demo --------------------------------------------------------------------------

@main.command("demo")
@click.option("--email", default="admin@hamlet.local", show_default=True)
@host_option
@port_option
@with_appcontext
def demo(email: str, host: str, port: int) -> None:
    """Idempotent demo setup: an administrator, a project, and the household survey and its follow-up form
    published in it (the survey registers households; the follow-up form visits them again)."""
    import secrets

    from sqlalchemy import select

    from server.models.accounts import create_user, user_by_email
    from server.models.forms import FormDef, live_form
    from server.models.projects import Project

    settings = current_app.config["HAMLET"]
    creds = settings.data_dir.parent / "demo-credentials.txt"
    with _session() as s:
        if user_by_email(s, email) is None:
            password = secrets.token_urlsafe(12)
            create_user(s, email, password, "Demo administrator", site_role="admin")
            s.commit()
            creds.parent.mkdir(parents=True, exist_ok=True)
            creds.write_text(f"{email}\n{password}\n")
            creds.chmod(0o600)
        lines = creds.read_text().split("\n") if creds.exists() else [email, "(set before; see HAMLET docs to reset)"]
        project = s.scalars(select(Project).where(Project.name == "Demo", Project.deleted_at.is_(None))).first()
        if project is None:
            project = Project(name="Demo")
            s.add(project)
            s.commit()
        project_id = project.id
        survey = Path(__file__).resolve().parents[1] / "xlsforms" / "household_digital_survey.xlsx"
        form = live_form(s, project_id, "household_digital_survey")
        published = s.get(FormDef, form.current_def_id) if form is not None and form.current_def_id else None
        followup = live_form(s, project_id, "household_followup")
        followup_published = followup is not None and followup.current_def_id is not None
    xlsforms = Path(__file__).resolve().parents[1] / "xlsforms"
    if published is None:
        click.echo(load_areas(project_id, xlsforms / "areas.csv"))
    if survey.exists() and published is None:
        ctx = click.get_current_context()
        ctx.invoke(form_publish, path=survey, project_id=project_id, media_dir=None, ignore_warnings=False)
        ctx.invoke(indicators_load, path=xlsforms / "household_digital_targets.xlsx", project_id=project_id,
                   form_id="household_digital_survey")
    if (xlsforms / "household_followup.xlsx").exists() and not followup_published:
        # after the survey: publishing it made the `households` Entity List this form reads and updates
        click.get_current_context().invoke(form_publish, path=xlsforms / "household_followup.xlsx",
                                           project_id=project_id, media_dir=None, ignore_warnings=False)
    click.echo("")
    base = browser_base(host, port)
    click.echo("Hamlet demo")
    click.echo(f"  web pages:      {base}/   (sign in with the administrator below)")
    click.echo(f"  web API:        {base}/v1   (project {project_id})")
    click.echo(f"  administrator:  {lines[0]}")
    click.echo(f"  password:       {lines[1]}")
    click.echo(f"  ODK Collect:    create an app user on http://<this machine>:{port}/projects/{project_id}/app-users")
    click.echo("                  and scan its QR code (or POST /v1/projects/…/app-users and use")
    click.echo(f"                  http://<this machine>:{port}/v1/key/<token>/projects/{project_id} as the server URL)")


# --- exports -----------------------------------------------------------------------------------------

# The command's formats: the download each one is (server/exports/downloads.py) and the file it writes.
EXPORT_KINDS = {"csv": "submissions.csv.zip", "xlsx": "submissions.xlsx", "geojson": "submissions.geojson",
                "persons": "persons.csv"}
EXPORT_SUFFIX = {"csv": ".csv.zip", "xlsx": ".xlsx", "geojson": ".geojson", "persons": "-persons.csv"}


def export_args(fmt: str, labels: str | None, area: str | None, since: str | None, until: str | None,
                review_state: str | None, media: bool) -> dict[str, str]:
    """The REST export options the command's flags stand for, so its file is the REST download's bytes.
    The CSV zip keeps the merged client audit log without --media (`clientAudits=true`): it is data,
    a few KB a household, not photos."""
    args = {"labels": labels, "area": area, "from": since, "to": until, "reviewState": review_state}
    if fmt == "csv" and not media:
        args.update(attachments="false", clientAudits="true")
    return {k: v for k, v in args.items() if v}


@main.command("export")
@click.argument("form_id")
@click.option("--project", "project_id", type=int, required=True)
@click.option("--format", "fmt", type=click.Choice(sorted(EXPORT_KINDS)), default="csv", show_default=True,
              help="csv: Central's CSV zip; xlsx: one sheet per table; geojson: one feature per household; "
                   "persons: one row per roster member with the household's answers")
@click.option("--labels", default=None, help="a language code (vi, en): labels instead of names")
@click.option("--area", default=None, help="an area code of the registry; its descendants are included")
@click.option("--from", "since", default=None, help="submitted on or after (2026-11-01)")
@click.option("--to", "until", default=None, help="submitted on or before (2026-11-30)")
@click.option("--review-state", default=None, help="comma-separated: received,approved,hasIssues,edited,rejected")
@click.option("--media", is_flag=True, help="csv only: add the attachments under media/ (the merged client audit "
              "log, `FORM - audit.csv`, is always in)")
@click.option("--private-key", "private_key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="PEM private key of an encrypted form: its submissions are decrypted")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("exports"),
              show_default=True)
@with_appcontext
def export(form_id: str, project_id: int, fmt: str, labels: str | None, area: str | None, since: str | None,
           until: str | None, review_state: str | None, media: bool, private_key: Path | None, out_dir: Path) -> None:
    """Write a form's submissions to a file under --out: the bytes of the REST download with the same options."""
    import time

    from server import problems
    from server.exports import downloads

    engine, store = current_app.extensions["hamlet.engine"], current_app.extensions["hamlet.blobs"]
    args = export_args(fmt, labels, area, since, until, review_state, media)
    with _session() as s:
        form = _form(s, project_id, form_id)
        if form.current_def_id is None:
            raise click.ClickException(f"form '{form_id}' has not been published")
        try:
            decryptor = downloads.decryptor_from_pem(private_key.read_bytes(), None, store) if private_key else None
            chunks = downloads.build(s, engine, store, form, EXPORT_KINDS[fmt], args, decryptor).chunks
            _audit(s, "form.submission.export", form, {"format": EXPORT_KINDS[fmt]})
            s.commit()
        except problems.Problem as exc:
            raise click.ClickException(exc.message) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{form_id}{EXPORT_SUFFIX[fmt]}"
    partial = target.with_name(target.name + ".part")
    started = time.perf_counter()
    size = 0
    try:
        with open(partial, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
                size += len(chunk)
        partial.replace(target)
    except problems.Problem as exc:
        partial.unlink(missing_ok=True)
        raise click.ClickException(exc.message) from None
    click.echo(f"{target}  {size / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s")


# --- backups -----------------------------------------------------------------------------------------

def _passphrase(path: Path | None, making: bool) -> bytes:
    """From --passphrase-file, else HAMLET_BACKUP_PASSPHRASE; never from the command line, where
    `ps` and the shell's history would show it."""
    import os

    if path is not None:
        value = path.read_text(encoding="utf-8").rstrip("\r\n")
    else:
        value = os.environ.get("HAMLET_BACKUP_PASSPHRASE", "")
    if not value:
        raise click.UsageError("give the passphrase in a file (--passphrase-file) or in HAMLET_BACKUP_PASSPHRASE")
    if making and len(value) < 12:
        raise click.UsageError("the passphrase must be at least 12 characters long")
    return value.encode("utf-8")


_PASSPHRASE_FILE = click.option("--passphrase-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                                default=None, help="a file holding the passphrase (else HAMLET_BACKUP_PASSPHRASE)")


@main.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_PASSPHRASE_FILE
def backup(file: Path, passphrase_file: Path | None) -> None:
    """Write one encrypted archive of the database and every blob to FILE (docs/operations.md)."""
    from server.backups.archive import BackupError, plan_size, write_backup
    from server.config import Settings
    from server.models.blobs import make_store

    passphrase = _passphrase(passphrase_file, making=True)
    if file.exists():
        raise click.ClickException(f"{file} already exists; give a new file name (backups are never overwritten)")
    settings = Settings.from_env()
    store = make_store(settings)
    partial = file.with_name(file.name + ".part")
    try:
        with open(partial, "wb") as out, click.progressbar(length=plan_size(settings.database_url, store),
                                                           label="backing up", file=sys.stderr) as bar:
            summary = write_backup(settings.database_url, store, out, passphrase, bar.update)
            out.flush()
            import os

            os.fsync(out.fileno())
        partial.replace(file)
    except BackupError as exc:
        partial.unlink(missing_ok=True)
        raise click.ClickException(str(exc)) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    click.echo(f"{file}: {summary.database} database ({summary.database_bytes / 1e6:.1f} MB) and "
               f"{summary.blobs} blobs ({summary.blob_bytes / 1e6:.1f} MB), {file.stat().st_size / 1e6:.1f} MB sealed")


@main.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_PASSPHRASE_FILE
def restore(file: Path, passphrase_file: Path | None) -> None:
    """Restore a backup FILE into an empty database and data directory, then bring it up to date."""
    from server.backups.archive import BackupError, read_backup
    from server.backups.sealed import SealError
    from server.config import Settings
    from server.models.blobs import make_store

    passphrase = _passphrase(passphrase_file, making=False)
    settings = Settings.from_env()
    store = make_store(settings)
    try:
        with open(file, "rb") as src, click.progressbar(length=file.stat().st_size, label="restoring",
                                                        file=sys.stderr) as bar:
            summary = read_backup(settings.database_url, store, src, passphrase, bar.update)
    except (BackupError, SealError) as exc:
        raise click.ClickException(f"{exc}; nothing was restored") from None
    upgrade_database(settings.database_url)
    click.echo(f"restored {summary.database} database (revision {summary.revision}) and {summary.blobs} blobs "
               f"({summary.blob_bytes / 1e6:.1f} MB); the database is up to date")


# --- blobs -------------------------------------------------------------------------------------------

@main.group()
def blobs() -> None:
    """The file store (form media, attachments): local directory or S3-compatible bucket."""


@blobs.command("migrate")
def blobs_migrate() -> None:
    """Copy every blob from HAMLET_DATA_DIR into the bucket of HAMLET_S3_BUCKET and verify each hash."""
    from sqlalchemy import text

    from server.config import Settings
    from server.db import make_engine
    from server.models.blobs import LocalBlobStore
    from server.models.s3_blobs import S3BlobStore, migrate_blobs

    settings = Settings.from_env()
    if settings.s3 is None:
        raise click.UsageError("set HAMLET_S3_BUCKET (and HAMLET_S3_ENDPOINT, _ACCESS_KEY, _SECRET_KEY, _REGION) "
                               "to the bucket the blobs should move to")
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        rows = [(sha, int(size)) for sha, size in conn.execute(text("SELECT sha256, size FROM blobs ORDER BY sha256"))]
    engine.dispose()
    source, target = LocalBlobStore(settings.data_dir), S3BlobStore(settings.s3)
    with click.progressbar(length=sum(size for _, size in rows), label="copying blobs", file=sys.stderr) as bar:
        copied, present, found = migrate_blobs(rows, source, target, bar.update)
    click.echo(f"{len(rows)} blobs: {copied} copied, {present} already in {target.describe()}; "
               f"{len(rows) - len(found)} verified by their SHA-256")
    if found:
        raise click.ClickException("these blobs could not be moved:\n  " + "\n  ".join(found))
    click.echo(f"the local copies under {source.root} can be removed once the server runs on the bucket")


# --- jobs --------------------------------------------------------------------------------------------

@main.group()
def jobs() -> None:
    """Background jobs (webhook deliveries) on the broker of HAMLET_BROKER_URL."""


@jobs.command("worker")
@click.option("--threads", default=4, show_default=True,
              help="jobs run at once by this process; one webhook holds at most HAMLET_WEBHOOK_PER_HOOK (2) of them")
@with_appcontext
def jobs_worker(threads: int) -> None:
    """Run jobs until stopped (SIGTERM or Ctrl-C); run one or more beside the web nodes. Each also hands
    out due webhook deliveries every second: new ones, retries, and any a crash left unsent."""
    import signal
    import threading

    settings = current_app.config["HAMLET"]
    queue = current_app.extensions["hamlet.jobs"]
    if queue.in_process:
        click.echo("warning: HAMLET_BROKER_URL is not set; this worker only runs jobs queued in its own process",
                   err=True)
    queue.start_worker(threads)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"running jobs from queue {settings.jobs_queue!r} with {threads} threads")
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        queue.stop()
