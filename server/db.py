"""Engine, per-request session and the declarative base; Alembic migrations live in migrations/."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import MetaData, Table, create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    if TYPE_CHECKING:
        # Every model maps one Table (none is mapped to a join or a select), so Core statements may
        # take Model.__table__ where SQLAlchemy types it as any FromClause.
        __table__: ClassVar[Table]


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # WAL lets readers run beside the one writer; foreign keys are off by default in SQLite.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # No pre-ping: it costs a round trip per request; stale connections are recycled instead.
    # JIT off: PostgreSQL compiles an export's or report's plan to machine code first (measured 1-2 s
    # before the first row of a 100k-household export), which is never won back by queries that
    # stream rows to a client.
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=False, pool_recycle=1800,
                         connect_args={"options": "-c jit=off"})


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


class SessionNeeded(Exception):
    """Code given a `ConnectionOnly` asked for more than its connection: run it again with a Session."""


class ConnectionOnly:
    """A stand-in for a Session that has only a connection in a transaction, for intake's hot path.

    Taking in a submission needs nothing of the ORM (its statements go through `db.connection()`), yet a
    Session's transaction bookkeeping cost ~70 µs of the ~1.1 ms of Python a submission takes, more than
    any step of its own (bench/README.md, session 9). Anything but `connection()`, `commit()`,
    `rollback()`, `close()` and `info` raises SessionNeeded, so the caller rolls back and runs the same
    code again with a real Session: a resend, an edit, an entity update, a cache being filled. Code that
    knows early that it will need the ORM says so with `require_session`, before it writes anything."""

    def __init__(self, engine: Engine):
        self._conn = engine.connect()
        try:
            self._begin()
        except BaseException:
            self._conn.close()
            raise
        self.info: dict = {}

    def _begin(self) -> None:
        # Begun explicitly, never left to the first statement: intake's own statement goes through the
        # driver's cursor, which SQLAlchemy does not see, and `commit()` would then find nothing begun to
        # commit (the pool's reset would roll the rows back after a 201).
        self._conn.begin()

    def connection(self) -> Connection:
        return self._conn

    def commit(self) -> None:
        self._conn.commit()

    def rollback(self) -> None:
        """As a Session does after a rollback, whatever comes next runs in a new transaction."""
        self._conn.rollback()
        self._begin()

    def close(self) -> None:
        self._conn.close()   # what was not committed is rolled back as the pool takes the connection

    def __getattr__(self, name: str):
        if name.startswith("__"):   # copy, pickle and debuggers probe for these
            raise AttributeError(name)
        raise SessionNeeded(name)


def require_session(db: Session | ConnectionOnly, why: str) -> None:
    """Before any write of a step that will need the ORM: a lean transaction gives way to a Session now,
    not after doing the submission's work for nothing."""
    if isinstance(db, ConnectionOnly):
        raise SessionNeeded(why)


from sqlalchemy import DateTime, TypeDecorator  # noqa: E402


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both SQLite (which keeps none) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        if value is not None and dialect.name == "sqlite":
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def isoformat(value: datetime | None) -> str | None:
    """Central's timestamp format: ISO 8601 in UTC with milliseconds and a Z."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
