"""Coverage gaps: grids in service that lack a current primary worker for a duty (what the
administrators act on, /admin/gaps, and the evaluation's duty_gaps)."""
from __future__ import annotations

import dataclasses

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from .. import paging
from ..vocabulary import ASSIGNABLE_DUTIES
from ..zones.models import Grid
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


def duty_gaps_page(session: Session, number: int, visible=None) -> paging.Page:
    """One page (GAPS_PAGE_SIZE grids by code) of duty_gaps; no total (counting reads every grid)."""
    page = paging.page_of(session, gaps_query(visible=visible), number, GAPS_PAGE_SIZE)
    return dataclasses.replace(page, items=_with_missing(session, page.items))
