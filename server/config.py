"""Settings, read once from HAMLET_* environment variables."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _int(env: dict, name: str, default: int) -> int:
    raw = env.get(name)
    return int(raw) if raw not in (None, "") else default


@dataclass(frozen=True)
class SignInLimits:
    """Failed password checks allowed within `window_minutes` before the next one is refused (429),
    counted in the database so that every worker and thread sees the same numbers."""

    window_minutes: int = 15
    # Guessing one account's password from one address.
    per_account_and_address: int = 5
    # One address trying many accounts (one password sprayed over every email).
    per_address: int = 30
    # Many addresses guessing one account; an address the account signed in from within
    # `known_address_days` is exempt, so such an attack does not lock the owner out.
    per_account: int = 100
    known_address_days: int = 30


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_dir: Path
    secret_key: str
    base_url: str | None = None
    admin_email: str | None = None
    admin_password: str | None = None
    # Largest form definition upload (XLSForm or XForm) and form media file.
    max_form_bytes: int = 10 * 1024 * 1024
    # Largest submission POST; advertised to Collect in X-OpenRosa-Accept-Content-Length.
    max_submission_bytes: int = 100_000_000
    # A household roster of 10,000 people is an error or an attack, not a household.
    max_repeat_instances: int = 5000
    # "auto": run ODK Validate when Java is installed; "on": require it; "off": never.
    odk_validate: str = "auto"
    session_hours: int = 24
    # The dashboard's map draws its points offline; with a tile URL ({z}/{x}/{y}) it draws tiles under them.
    map_tiles: str | None = None
    map_attribution: str | None = None
    sign_in: SignInLimits = field(default_factory=SignInLimits)
    # Proxies in front of the server whose X-Forwarded-* headers are believed (client address for the
    # sign-in throttle, https for Basic auth and secure cookies). None by default: a client that reaches
    # gunicorn directly could otherwise claim https or any address; set 1 behind nginx or a load balancer.
    trusted_proxies: int = 0
    # Email (docs/deploying.md): smtp://, smtps:// or smtp+starttls://[user:password@]host[:port]; None: email off.
    smtp_url: str | None = None
    smtp_user: str | None = None
    smtp_password: str | None = None
    mail_from: str | None = None
    # Seconds an SMTP conversation may take; mail is sent while the request waits, so it stays short.
    smtp_timeout: int = 10
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict | None = None, **overrides) -> Settings:
        env = dict(os.environ if env is None else env)
        instance = Path(env.get("HAMLET_INSTANCE_DIR", "instance")).resolve()
        default_db = f"sqlite:///{instance / 'hamlet.db'}"
        values: dict[str, Any] = dict(
            database_url=normalise_database_url(env.get("HAMLET_DATABASE_URL") or default_db),
            data_dir=Path(env.get("HAMLET_DATA_DIR") or instance / "data").resolve(),
            secret_key=env.get("HAMLET_SECRET_KEY") or _dev_secret(instance),
            base_url=(env.get("HAMLET_BASE_URL") or "").rstrip("/") or None,
            admin_email=env.get("HAMLET_ADMIN_EMAIL") or None,
            admin_password=env.get("HAMLET_ADMIN_PASSWORD") or None,
            max_form_bytes=_int(env, "HAMLET_MAX_FORM_BYTES", 10 * 1024 * 1024),
            max_submission_bytes=_int(env, "HAMLET_MAX_SUBMISSION_BYTES", 100_000_000),
            odk_validate=(env.get("HAMLET_ODK_VALIDATE") or "auto").lower(),
            max_repeat_instances=_int(env, "HAMLET_MAX_REPEAT_INSTANCES", 5000),
            session_hours=_int(env, "HAMLET_SESSION_HOURS", 24),
            trusted_proxies=_int(env, "HAMLET_TRUSTED_PROXIES", 0),
            map_tiles=(env.get("HAMLET_MAP_TILES") or "").strip() or None,
            map_attribution=(env.get("HAMLET_MAP_ATTRIBUTION") or "").strip() or None,
            smtp_url=(env.get("HAMLET_SMTP_URL") or "").strip() or None,
            smtp_user=env.get("HAMLET_SMTP_USER") or None,
            smtp_password=env.get("HAMLET_SMTP_PASSWORD") or None,
            mail_from=(env.get("HAMLET_MAIL_FROM") or "").strip() or None,
            smtp_timeout=_int(env, "HAMLET_SMTP_TIMEOUT", 10),
        )
        values.update(overrides)
        return cls(**values)


def normalise_database_url(url: str) -> str:
    """Accept the postgres:// and postgresql:// spellings of hosting platforms; use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _dev_secret(instance: Path) -> str:
    """Without HAMLET_SECRET_KEY, keep a random key in the instance folder so sessions survive restarts."""
    path = instance / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        instance.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker won the race
            return path.read_text().strip()
        with os.fdopen(fd, "w") as f:
            f.write(key)
        return key
