"""A few months of demo history, so the evaluation's charts are not empty on a fresh `make run`.

Every incident goes through the real services (routing, lifecycle transitions, escalation, ratings)
with past times, so the event log, notices and figures are exactly what the app would have
written. Seeded: the same demo town gets the same history. Grids differ in how often their
workers are late, so the ranking has a worst grid to drill into; the last days stay open.
"""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from shapely.geometry import Point
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import geo, settings
from ..clock import now
from ..incidents import deadlines, lifecycle, services
from ..incidents.models import Category, Incident
from ..people.models import AreaLeader, GridAssignment, User
from ..zones.models import Area, Grid, Town
from . import periods

PER_DAY = (2, 6)          # staff and residents' reports a day in the whole town
RESIDENT_SHARE = 0.25
NOTES = {"resolve": "已现场处置完毕", "reopen": "复核未达标，请返工", "extend": "需协调相关部门，申请延期",
         "decline": "经核实不属于受理范围，已告知来电人", "cancel": "重复上报，撤销"}


@dataclass
class _Grid:
    grid: Grid
    shape: object        # shapely polygon (WGS 84)
    workers: list[User]
    leader: User | None
    lateness: float      # how often this grid's work is late


def _random_point(rng: random.Random, shape) -> tuple[float, float]:
    minx, miny, maxx, maxy = shape.bounds
    for _ in range(200):
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if shape.contains(Point(x, y)):
            return x, y
    point = shape.representative_point()
    return point.x, point.y


def _grids(session: Session, town: Town, rng: random.Random) -> list[_Grid]:
    leaders = {a: u for a, u in session.execute(
        select(AreaLeader.area_id, User).join(User, User.id == AreaLeader.user_id)
        .where(AreaLeader.valid_to.is_(None)))}
    found = []
    for grid in session.scalars(select(Grid).join(Area, Area.id == Grid.area_id)
                                .where(Area.town_id == town.id, Grid.retired_at.is_(None)).order_by(Grid.code)):
        workers = list(session.scalars(select(User).join(GridAssignment, GridAssignment.user_id == User.id)
                                       .where(GridAssignment.grid_id == grid.id, GridAssignment.valid_to.is_(None))
                                       .order_by(User.username).distinct()))
        if workers:
            found.append(_Grid(grid, geo.from_db(grid.geom), workers, leaders.get(grid.area_id),
                               rng.choice((0.03, 0.05, 0.08, 0.1, 0.15, 0.25, 0.4))))
    return found


def load_history(session: Session, town_code: str, months: int = 4, *, seed: int = 16,
                 today: datetime | None = None) -> int:
    """Reports over the last ``months`` whole months and this month so far, each taken as far through
    its life as its age allows; returns how many. Nothing if the town has incidents already."""
    town = session.scalar(select(Town).where(Town.code == town_code))
    if town is None or months <= 0:
        return 0
    if session.scalar(select(Incident.id).where(Incident.town_id == town.id).limit(1)) is not None:
        return 0
    rng = random.Random(seed)
    grids = _grids(session, town, rng)
    admin = session.scalar(select(User).where(User.username == "admin"))
    categories = list(session.scalars(select(Category).where(Category.active).order_by(Category.code)))
    if not grids or admin is None or not categories:
        return 0
    zone = settings.of(session).zone
    today = (today or now()).astimezone(zone)
    first = periods.months_back(periods.last_month(zone, today.date()), months, zone).start
    made, day = 0, first
    while day < today - timedelta(hours=2):
        for _ in range(rng.randint(*PER_DAY)):
            at = day + timedelta(hours=rng.uniform(7, 20))
            if at < today - timedelta(hours=1):
                _life(session, rng, rng.choice(grids), rng.choice(categories), at, today, admin)
                made += 1
        session.flush()
        day += timedelta(days=1)
    return made


def _life(session, rng, place: _Grid, category: Category, at: datetime, today: datetime, admin: User) -> None:
    lon, lat = _random_point(rng, place.shape)
    resident = category.resident_choice and rng.random() < RESIDENT_SHARE
    reporter = None if resident else rng.choice(place.workers)
    data = services.NewIncident(client_uuid=uuid.UUID(int=rng.getrandbits(128)), lon=lon, lat=lat,
                                category=category.code, description=f"{category.name_zh}（演示数据）")
    incident, _ = services.create_incident(session, reporter, data, at=at, channel="resident" if resident else "staff",
                                           contact={"phone": "13900000000", "name": "演示居民"} if resident else None)
    boss = place.leader or admin
    late = rng.random() < place.lateness
    clock = at

    def step(action, actor, after, **kw) -> bool:
        nonlocal clock
        clock = clock + timedelta(hours=after)
        if clock >= today:
            return False
        lifecycle.transition(session, incident, actor, action, at=clock, note=NOTES.get(action, ""), **kw)
        return True

    if resident:
        if rng.random() < 0.1:
            step("decline", boss, rng.uniform(1, 8))
            return
        named = None if incident.assignee_id else place.workers[0].username   # routing found nobody
        if not step("register", boss, rng.uniform(0.5, category.response_hours * (1.6 if late else 0.8)),
                    assignee=named):
            return
    elif rng.random() < 0.03:
        step("cancel", reporter, rng.uniform(0.2, 2))
        return
    handler = incident.assignee or boss
    started = "accept" if incident.status == "assigned" else "take"   # a report routing could not place
    if not step(started, handler, rng.uniform(0.2, 6 if late else 2)):
        return
    due = deadlines.due_hours(category, incident.priority)
    if late and rng.random() < 0.3:
        if not step("extend", boss, due * 0.5, hours=max(4, due // 2)):
            return
        due += max(4, due // 2)
    took = due * rng.uniform(1.1, 2.5) if late else due * rng.uniform(0.1, 0.6)
    if late and incident.escalation_level == 0 and at + timedelta(hours=due) < today:
        lifecycle.escalate(session, incident, at + timedelta(hours=due + 0.1), trigger="overdue")
    if not step("resolve", handler, took):
        return
    if rng.random() < 0.08:
        if not step("reopen", boss, rng.uniform(1, 12)) or not step("resolve", handler, rng.uniform(2, 12)):
            return
    if not step("close", boss, rng.uniform(0.5, 10 if late else 4)):
        return
    if resident and rng.random() < 0.8:
        clock += timedelta(hours=rng.uniform(2, 48))
        if clock < today:
            lifecycle.rate(session, incident, rng.choices(("satisfied", "basically", "unsatisfied"), (7, 2, 1))[0],
                           via="web", at=clock)
