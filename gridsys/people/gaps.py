"""Coverage gaps: grids in service that lack a current primary worker for a duty (what the
administrators act on, /admin/gaps, and the evaluation's duty_gaps)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from .. import paging
from ..errors import GridsysError
from ..vocabulary import ASSIGNABLE_DUTIES
from ..zones.models import CODE_LENGTH, Grid
from .models import GridAssignment, User, UserRole

GAPS_PAGE_SIZE = 50


def _duties_covered():
    """How many of the assignable duties the outer query's grid has a current primary worker for,
    one that routing would actually reach (active, still a grid worker): a correlated probe of
    the grid's own assignments. (As one NOT EXISTS per duty joined by OR, the planner hashed every
    current assignment seven times on each request: 2.5 s a page at 100 000 grids.)"""
    return (select(func.count(distinct(GridAssignment.duty))).join(User, User.id == GridAssignment.user_id)
            .where(GridAssignment.grid_id == Grid.id, GridAssignment.duty.in_(ASSIGNABLE_DUTIES),
                   GridAssignment.valid_to.is_(None), ~GridAssignment.backup, User.active,
                   select(UserRole.user_id).where(UserRole.user_id == User.id,
                                                  UserRole.role == "grid_worker").exists())
            .scalar_subquery())


def gaps_query(area_ids=None, visible=None):
    """The select() of grids lacking a primary worker for a duty, by code (the grids' unique index,
    walked until a page is full: gaps are few, so the first page costs a few thousand probes)."""
    query = (select(Grid).where(Grid.retired_at.is_(None), _duties_covered() < len(ASSIGNABLE_DUTIES))
             .order_by(Grid.code))
    if area_ids is not None:
        query = query.where(Grid.area_id.in_(area_ids))
    if visible is not None:
        query = query.where(visible)
    return query


def _with_missing(session: Session, grids) -> list[tuple[Grid, list[str]]]:
    covered = {(g, d) for g, d in session.execute(
        select(GridAssignment.grid_id, GridAssignment.duty).join(User, User.id == GridAssignment.user_id).where(
            GridAssignment.grid_id.in_([g.id for g in grids]), GridAssignment.valid_to.is_(None),
            ~GridAssignment.backup, User.active,
            select(UserRole.user_id).where(UserRole.user_id == User.id, UserRole.role == "grid_worker").exists()))
    } if grids else set()
    return [(g, [d for d in ASSIGNABLE_DUTIES if (g.id, d) not in covered]) for g in grids]


def gaps_by_duty(session: Session, visible) -> tuple[int, dict[str, int]]:
    """How many grids among ``visible`` lack a worker for a duty, and how many lack each duty."""
    grids = session.scalars(gaps_query(visible=visible)).all()
    by_duty: dict[str, int] = {}
    for _grid, duties in _with_missing(session, grids):
        for duty in duties:
            by_duty[duty] = by_duty.get(duty, 0) + 1
    return len(grids), dict(sorted(by_duty.items()))


def duty_gaps(session: Session, area_ids=None) -> list[tuple[Grid, list[str]]]:
    """Grids that lack a current primary worker for one or more duties (what admins act on), each
    with the duties it lacks. Every one of them: the pages use duty_gaps_page."""
    return _with_missing(session, session.scalars(gaps_query(area_ids)).all())


@dataclass(frozen=True)
class GapsPage:
    """One page of duty_gaps. Its links carry the code they continue from (``after`` the last
    grid shown, ``before`` the first), so a later page costs what the first does; ``number`` is the
    page's number as its link gave it (None when a link came without one), shown only."""
    items: list[tuple[Grid, list[str]]]
    number: int | None
    size: int
    after: str | None      # the next page's link: the grids after this code (None: no next page)
    before: str | None     # the previous page's link: the grids before this code (None: the first page)

    @property
    def first(self) -> bool:
        return self.before is None and self.number == 1

    @property
    def next_number(self) -> int | None:
        return self.number + 1 if self.number else None

    @property
    def previous_number(self) -> int | None:
        return self.number - 1 if self.number and self.number > 1 else None


def page_args(args) -> dict:
    """duty_gaps_page's arguments from a page's query: ``page`` (paging.page_number; None when a
    link gives ``after`` or ``before`` without it), and ``after`` or ``before``, a grid code."""
    found = {}
    for name in ("after", "before"):
        value = args.get(name)
        if value is None:
            continue
        if not (len(value) == CODE_LENGTH["grid"] and value.isascii() and value.isdigit()):
            raise GridsysError("page_invalid", f"{name} is the {CODE_LENGTH['grid']}-digit code of a grid, "
                                               "as the page's links give it", status=400)
        found[name] = value
    if len(found) > 1:
        raise GridsysError("page_invalid", "a page is either after or before a grid, not both", status=400)
    number = paging.page_number(args)
    return {**found, "number": None if found and args.get("page") is None else number}


def duty_gaps_page(session: Session, number: int | None = 1, visible=None, *, after: str | None = None,
                   before: str | None = None) -> GapsPage:
    """One page (GAPS_PAGE_SIZE grids by code) of duty_gaps; no total (counting reads every grid).
    From ``after`` or ``before`` a grid code it reads on from there (the grids' code index, walked
    until a page is full: what page 1 costs); from a bare ``number`` it skips the pages before
    (OFFSET: the grids before them are probed again, ~40 ms a page at 100 000 grids)."""
    query = gaps_query(visible=visible)
    size = GAPS_PAGE_SIZE
    if before is not None:
        grids = list(session.scalars(query.where(Grid.code < before).order_by(None)
                                     .order_by(Grid.code.desc()).limit(size + 1)))
        if len(grids) <= size:   # nothing before these: that is the first page, and it is whole
            return duty_gaps_page(session, 1, visible)
        grids = grids[:size][::-1]
        return GapsPage(_with_missing(session, grids), number, size, after=grids[-1].code, before=grids[0].code)
    if after is not None:
        query = query.where(Grid.code > after)
    else:
        number = number or 1
        query = query.offset((number - 1) * size)
    grids = list(session.scalars(query.limit(size + 1)))
    more, grids = len(grids) > size, grids[:size]
    earlier = after is not None or number > 1
    return GapsPage(_with_missing(session, grids), number, size, after=grids[-1].code if more else None,
                    before=(grids[0].code if grids else after) if earlier else None)
