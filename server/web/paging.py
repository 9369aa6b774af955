"""One page of a list, for the pages' tables: what it shows, and where the other pages are."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    items: Sequence
    number: int          # 1-based
    pages: int
    total: int
    size: int

    @property
    def first(self) -> int:
        """The 1-based position of the first item shown (0 when there is none)."""
        return (self.number - 1) * self.size + 1 if self.items else 0

    @property
    def last(self) -> int:
        return self.first + len(self.items) - 1 if self.items else 0


def page_number(raw: str | None) -> int:
    """A page number from the query string: anything that is not a positive integer is page 1."""
    try:
        return max(1, int(raw or 1))
    except ValueError:
        return 1


def paginate(items: Sequence, number: int, size: int) -> Page:
    """The `number`-th page of `size` items (a number past the end shows the last page)."""
    pages = max(1, -(-len(items) // size))
    number = min(max(1, number), pages)
    start = (number - 1) * size
    return Page(items[start:start + size], number, pages, len(items), size)
