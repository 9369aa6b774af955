"""Settings, read once from HAMLET_* environment variables."""
from __future__ import annotations

import logging
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


def _s3(env: dict) -> S3Settings | None:
    bucket = (env.get("HAMLET_S3_BUCKET") or "").strip()
    if not bucket:
        return None
    return S3Settings(bucket=bucket, endpoint=(env.get("HAMLET_S3_ENDPOINT") or "").strip() or None,
                      access_key=env.get("HAMLET_S3_ACCESS_KEY") or None,
                      secret_key=env.get("HAMLET_S3_SECRET_KEY") or None,
                      region=(env.get("HAMLET_S3_REGION") or "").strip() or None)


@dataclass(frozen=True)
class S3Settings:
    """An S3-compatible bucket for blobs (AWS S3, MinIO, Ceph, Garage…): HAMLET_S3_* (docs/deploying.md)."""

    bucket: str
    endpoint: str | None = None  # None: AWS's own endpoint for the region
    access_key: str | None = None  # None: boto3's usual chain (instance role, ~/.aws, AWS_* variables)
    secret_key: str | None = None
    region: str | None = None

    def __repr__(self) -> str:  # never print the secret into a log or a traceback
        return f"S3Settings(bucket={self.bucket!r}, endpoint={self.endpoint!r}, region={self.region!r})"


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_dir: Path
    secret_key: str = field(repr=False)
    base_url: str | None = None
    admin_email: str | None = None
    admin_password: str | None = field(default=None, repr=False)
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
    # Blobs in an S3-compatible bucket instead of under data_dir (several web nodes share one store).
    s3: S3Settings | None = None
    # Jobs (webhook deliveries) on RabbitMQ or Redis, run by `hamlet jobs worker`; None: in-process.
    broker_url: str | None = None
    jobs_queue: str = "hamlet"
    # Webhook receivers on loopback or private addresses are refused unless the operator allows them.
    webhook_allow_private: bool = False
    # A failed delivery is retried after 30 s, doubling up to an hour, for a day (docs/webhooks.md).
    webhook_backoff_ms: tuple[int, int] = (30_000, 3_600_000)
    # At most this many deliveries of one webhook in the workers' hands at once: a slow receiver holds
    # no more threads than this, the rest go on to the other hooks (docs/webhooks.md).
    webhook_per_hook: int = 2
    # How often the dispatcher looks for due deliveries (new ones, retries, lost jobs).
    webhook_poll_seconds: float = 1.0
    # A message the SMTP server refused is tried again after a minute, doubling up to 30 min, for 6 hours.
    mail_backoff_ms: tuple[int, int] = (60_000, 1_800_000)
    sign_in: SignInLimits = field(default_factory=SignInLimits)
    # Proxies in front of the server whose X-Forwarded-* headers are believed (client address for the
    # sign-in throttle, https for Basic auth and secure cookies). None by default: a client that reaches
    # gunicorn directly could otherwise claim https or any address; set 1 behind nginx or a load balancer.
    trusted_proxies: int = 0
    # Email (docs/deploying.md): smtp://, smtps:// or smtp+starttls://[user:password@]host[:port]; None: email off.
    smtp_url: str | None = None
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
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
            secret_key=env.get("HAMLET_SECRET_KEY") or _dev_secret(instance, env),
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
            s3=_s3(env),
            broker_url=(env.get("HAMLET_BROKER_URL") or "").strip() or None,
            jobs_queue=(env.get("HAMLET_JOBS_QUEUE") or "hamlet").strip(),
            webhook_allow_private=(env.get("HAMLET_WEBHOOK_ALLOW_PRIVATE") or "").strip().lower() in ("1", "true", "yes"),
            webhook_per_hook=max(1, _int(env, "HAMLET_WEBHOOK_PER_HOOK", 2)),
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


def _dev_secret(instance: Path, env: dict) -> str:
    """Without HAMLET_SECRET_KEY, keep a random key in the instance folder so sessions survive restarts.
    That key is this machine's alone: on PostgreSQL or a shared bucket (several nodes, likely) say so,
    since a Digest nonce one node signs would fail on the next."""
    if (env.get("HAMLET_DATABASE_URL") or "").startswith("postgres") or env.get("HAMLET_S3_BUCKET"):
        logging.getLogger("hamlet").warning(
            "HAMLET_SECRET_KEY is not set: using a key kept in %s; set the same HAMLET_SECRET_KEY on every node "
            "of a deployment with several web nodes (docs/deploying.md#several-web-nodes)", instance)
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
