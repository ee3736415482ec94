"""Pages of a list (people, zones, gaps): the ``page`` query parameter and one page of a select(),
ordered by an indexed column so LIMIT/OFFSET reads an index, never the whole table.
(The incidents' lists keep their own Filters.page and page_of: they join and count differently.)"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .inputs import whole_number

MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class Page:
    items: list
    number: int           # from 1
    size: int
    more: bool            # a next page exists
    total: int | None = None   # None where counting would cost a scan of the table

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.more else None

    @property
    def pages(self) -> int | None:
        return None if self.total is None else max(1, -(-self.total // self.size))


def page_number(args) -> int:
    """The ``page`` query parameter: 1 when absent, else a whole number from 1 (``page_invalid``)."""
    return whole_number(args.get("page") or 1, "page_invalid", "page", 1, MAX_PAGE)


def page_of(session: Session, query, number: int, size: int, *, count: bool = False,
            rows: bool = False) -> Page:
    """One page of ``query`` (already ordered): one row more than the page is read to know whether
    another follows. ``count`` adds the total (a second query); ``rows`` keeps whole rows instead
    of the first column's objects."""
    limited = query.limit(size + 1).offset((number - 1) * size)
    items = list(session.execute(limited).all() if rows else session.scalars(limited).all())
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) if count else None
    return Page(items[:size], number, size, len(items) > size, total)
