"""Answers of the intake hot path remembered for a second, per worker process.

ODK Collect sends HEAD then POST for every upload, and an enumerator's phone sends a day's work in
one burst: the same token, project and form are looked up again and again within milliseconds,
and those lookups were a third of a submission's CPU. A `Recent` cache keeps each answer for
`ttl` seconds. Any change to the rows it depends on, made through this process, empties it at once
(SQLAlchemy session events below); another worker sees the change within `ttl` seconds — a revoked
key, a closed form or a withdrawn role stops working within a second everywhere."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

_caches: list[Recent] = []


class Recent:
    def __init__(self, name: str, watched: Callable[[], tuple[type, ...]], ttl: float = 1.0, size: int = 10_000):
        self.name, self._watched, self.ttl, self.size = name, watched, ttl, size
        self._items: dict[Any, tuple[float, Any]] = {}
        _caches.append(self)

    def get(self, key):
        hit = self._items.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        return None

    def put(self, key, value) -> None:
        if len(self._items) >= self.size:
            self._items.clear()
        self._items[key] = (time.monotonic() + self.ttl, value)

    def clear(self) -> None:
        self._items.clear()

    def watches(self, cls: type) -> bool:
        return issubclass(cls, self._watched())


@event.listens_for(Session, "do_orm_execute")
def _forget_on_bulk_change(state) -> None:
    if (state.is_delete or state.is_update) and state.bind_mapper is not None:
        cls = state.bind_mapper.class_
        for cache in _caches:
            if cache.watches(cls):
                cache.clear()


@event.listens_for(Session, "after_flush")
def _forget_on_change(session: Session, _context) -> None:
    changed = {type(o) for o in (*session.new, *session.dirty, *session.deleted)}
    if not changed:
        return
    for cache in _caches:
        if cache._items and any(cache.watches(cls) for cls in changed):
            cache.clear()
