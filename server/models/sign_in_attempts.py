"""Password attempts per account and client address, shared by every worker through the database.

One row per password check under way or failed (`attempt`), and one per account and address that
recently signed in (`known`). server/auth/throttle.py decides from these rows whether a check may
run; this module holds only the table and its SQL. The account is a keyed hash of the email as
typed, never the text: people sometimes type their password into the email field."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Index, String, bindparam, delete, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime

ATTEMPT = "attempt"   # a check under way, or one that failed
KNOWN = "known"       # the account signed in from this address at `at`


class SignInAttempt(Base):
    __tablename__ = "sign_in_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # HMAC-SHA256 of the email as typed (trimmed, lower-case), whether or not such an account exists.
    account: Mapped[str] = mapped_column(String(64))
    # The client's IP address; an IPv6 client's /64 network, since one host holds a whole /64.
    address: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_sign_in_attempts_account_at", "account", "at"),
        Index("ix_sign_in_attempts_address_at", "address", "at"),
        Index("ix_sign_in_attempts_at", "at"),
    )


_t = SignInAttempt.__table__


def reserve(conn: Connection, account: str, address: str, at: datetime) -> int:
    """A row for a check about to run, so that concurrent checks in other workers count it."""
    return conn.execute(insert(_t).values(account=account, address=address, kind=ATTEMPT, at=at)
                        .returning(_t.c.id)).scalar_one()


def _standing_statement():
    def nth(offset: str, *who: str):
        q = select(_t.c.at).where(_t.c.kind == ATTEMPT, _t.c.at >= bindparam("since"), _t.c.id != bindparam("not_id"))
        for column in who:
            q = q.where(_t.c[column] == bindparam(column))
        return q.order_by(_t.c.at.desc()).offset(bindparam(offset)).limit(1).scalar_subquery()

    known = (select(_t.c.at).where(_t.c.kind == KNOWN, _t.c.account == bindparam("account"),
                                   _t.c.address == bindparam("address"))
             .order_by(_t.c.at.desc()).limit(1).scalar_subquery())
    return select(known, nth("first", "account", "address"), nth("skip_both", "account", "address"),
                  nth("skip_address", "address"), nth("skip_account", "account"))


# Built once: a Digest-signed request runs it every time, and building it cost more than running it.
_STANDING = _standing_statement()


def standing(conn: Connection, account: str, address: str, since: datetime, n_both: int, n_address: int,
             n_account: int, not_id: int) -> tuple[datetime | None, ...]:
    """In one round trip, what a check needs: (when the account last signed in from this address, its
    latest attempt from it, and the n-th latest attempt for account and address, for the address, for
    the account, all since `since` and besides the row `not_id`), each None when there is none."""
    return tuple(conn.execute(_STANDING, {"account": account, "address": address, "since": since, "first": 0,
                                          "not_id": not_id,
                                          "skip_both": n_both - 1, "skip_address": n_address - 1,
                                          "skip_account": n_account - 1}).one())


def forget(conn: Connection, attempt_id: int) -> None:
    conn.execute(delete(_t).where(_t.c.id == attempt_id))


def succeeded(conn: Connection, account: str, address: str, at: datetime, remember: bool) -> None:
    """A right password: this account's failures from this address are cleared (never another
    address's), and the address is remembered as the account's when `remember`."""
    conn.execute(delete(_t).where(_t.c.account == account, _t.c.address == address,
                                  _t.c.kind.in_((ATTEMPT, KNOWN) if remember else (ATTEMPT,))))
    if remember:
        conn.execute(insert(_t).values(account=account, address=address, kind=KNOWN, at=at))


def purge(conn: Connection, attempts_before: datetime, known_before: datetime) -> None:
    """Rows too old to matter: failures outside the window, addresses not used for a long time."""
    conn.execute(delete(_t).where(_t.c.at < attempts_before, _t.c.kind == ATTEMPT))
    conn.execute(delete(_t).where(_t.c.at < known_before, _t.c.kind == KNOWN))
