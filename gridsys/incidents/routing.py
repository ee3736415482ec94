"""Routing: point -> grid -> category -> duty -> the grid's worker holding that duty.

Fallbacks in order: the duty's backups, the grid's general worker (then its backups), the
area leader, the town administrators (属地兜底). The decision is returned as data so it can
be recorded on the event log and shown in either language (``reason_text``, from the catalogue).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ARRAY, Integer, any_, bindparam, case, select
from sqlalchemy.orm import Session, joinedload

from ..people.models import AreaLeader, GridAssignment, TownAdmin, User, UserRole
from ..wording import DUTY_NAMES, N_, name, text
from ..zones.services import Location
from .models import Category


def has_role(user_id, role: str):
    """Only people who still hold the role are routed to (an assignment outlives a removed role).
    ``user_id``: the column (or value) of the person's id."""
    return select(UserRole.user_id).where(UserRole.user_id == user_id, UserRole.role == role).exists()


def inactive_people():
    """select() of the deactivated people's ids: few, read from their own partial index. Testing a
    person against this set, rather than joining ``users`` for ``active``, spares a look-up of
    each person when a query walks thousands of assignments (every area's leader). ``NOT IN``
    this set is a hashed subplan while the set fits in work_mem x hash_mem_multiplier (8 MB by
    default: over 100 000 deactivated accounts); a ``NOT EXISTS`` anti-join, which has no such
    limit, made the one-area lookup of an urgent report twice as slow (0.65 -> 1.2 ms)."""
    return select(User.id).where(~User.active)


@dataclass
class Routing:
    assignee: User | None
    assigned_as: str | None  # a duty, "area_leader", "town_admin" or None
    rule: str
    data: dict = field(default_factory=dict)


def grid_worker_choice(grid_id, duty):
    """The rule for a grid's worker, as a query of the chosen assignment's id: the duty's
    primary, then its backups, then the grid's general worker and its backups; only active
    people who still hold the grid_worker role. ``grid_id`` and ``duty`` may be values or columns
    (so a caller can fold the choice into a query of its own)."""
    return (select(GridAssignment.id).join(User, User.id == GridAssignment.user_id)
            .where(GridAssignment.grid_id == grid_id, GridAssignment.duty.in_([duty, "general"]),
                   GridAssignment.valid_to.is_(None), User.active, has_role(User.id, "grid_worker"))
            .order_by(case((GridAssignment.duty == duty, 0), else_=1), GridAssignment.backup,
                      GridAssignment.valid_from, GridAssignment.id)
            .limit(1))


def chosen_worker(session: Session, grid_id: int, duty: str) -> GridAssignment | None:
    return session.scalar(select(GridAssignment).options(joinedload(GridAssignment.user))
                          .where(GridAssignment.id == grid_worker_choice(grid_id, duty).scalar_subquery()))


def area_leader(session: Session, area_id: int | None) -> User | None:
    return None if area_id is None else area_leaders(session, [area_id]).get(area_id)


def current_leaders(*columns):
    """select(columns) over the areas' current leaders who are active and still hold the role: the
    one rule for who leads an area (here, and the work queues' areas without a leader). Columns of
    ``AreaLeader``; a caller wanting the person joins ``User`` on ``AreaLeader.user_id``."""
    return (select(*columns).select_from(AreaLeader)
            .where(AreaLeader.valid_to.is_(None), AreaLeader.user_id.not_in(inactive_people()),
                   has_role(AreaLeader.user_id, "area_leader")))


def area_leaders(session: Session, area_ids) -> dict[int, User]:
    """The active leader of each of these areas, in one query: {area id: its leader}, areas without
    one left out."""
    rows = session.execute(current_leaders(AreaLeader.area_id, User).join(User, AreaLeader.user_id == User.id)
                           .where(AreaLeader.area_id == any_(_ids(area_ids)))
                           .order_by(AreaLeader.area_id, AreaLeader.valid_from, AreaLeader.id)).all()
    found: dict[int, User] = {}
    for area_id, user in rows:
        found.setdefault(area_id, user)
    return found


def towns_admins(session: Session, town_ids) -> dict[int, list[User]]:
    """The active administrators of each of these towns, in one query: {town id: them, in order},
    towns without any left out."""
    rows = session.execute(select(TownAdmin.town_id, User).join(User, TownAdmin.user_id == User.id)
                           .where(TownAdmin.town_id == any_(_ids(town_ids)), TownAdmin.valid_to.is_(None), User.active,
                                  has_role(User.id, "admin"))
                           .order_by(TownAdmin.town_id, TownAdmin.valid_from, TownAdmin.id)).all()
    found: dict[int, list[User]] = {}
    for town_id, user in rows:
        found.setdefault(town_id, []).append(user)
    return found


def _ids(ids):
    """Ids as one array parameter: a sweep asks for thousands of areas, and an IN list of that many
    parameters is a new statement to parse and plan each time."""
    return bindparam("ids", list(ids), type_=ARRAY(Integer), unique=True)


def town_admins(session: Session, town_id: int) -> list[User]:
    return towns_admins(session, [town_id]).get(town_id, [])


NOT_LOOKED_UP = object()


def route(session: Session, where: Location, category: Category, *, chosen=NOT_LOOKED_UP) -> Routing:
    """Who handles an incident of ``category`` at ``where``, and why. ``chosen`` is the grid's
    worker assignment when the caller already looked it up with grid_worker_choice (or None)."""
    duty = category.duty
    base = {"duty": duty, "category": category.code, "level": where.level, "town": where.town.code,
            "area": where.area.code if where.area else None, "grid": where.grid.code if where.grid else None}
    if where.grid is not None:
        if chosen is NOT_LOOKED_UP:
            chosen = chosen_worker(session, where.grid.id, duty) if where.grid.id is not None else None
        if chosen is not None:
            kind = f"{'duty' if chosen.duty == duty else 'general'}_{'backup' if chosen.backup else 'primary'}"
            return Routing(chosen.user, chosen.duty, kind, {**base, "rule": kind, "assignee": chosen.user.username})
    leader = area_leader(session, where.area.id if where.area else None)
    if leader is not None:
        return Routing(leader, "area_leader", "area_leader", {**base, "rule": "area_leader",
                                                              "assignee": leader.username})
    admins = town_admins(session, where.town.id)
    if admins:
        return Routing(admins[0], "town_admin", "town_admin", {**base, "rule": "town_admin",
                                                               "assignee": admins[0].username})
    return Routing(None, None, "unassigned", {**base, "rule": "unassigned", "assignee": None})


# The decision as a sentence people read, one msgid per rule (and per fallback's cause).
REASONS = {
    "duty_primary": N_("routed to %(who)s as %(duty)s worker of grid %(grid)s"),
    "duty_backup": N_("routed to %(who)s as backup %(duty)s worker of grid %(grid)s (no active primary)"),
    "general_primary": N_("routed to %(who)s as general worker of grid %(grid)s (no %(duty)s worker)"),
    "general_backup": N_("routed to %(who)s as backup general worker of grid %(grid)s "
                         "(no %(duty)s or general primary)"),
    "area_leader": N_("routed to %(who)s as leader of area %(area)s (no worker available on grid %(grid)s)"),
    "area_leader_in_no_grid": N_("routed to %(who)s as leader of area %(area)s (the point is in no grid)"),
    "town_admin": N_("routed to %(who)s as administrator of town %(town)s (the area has no leader)"),
    "town_admin_in_no_area": N_("routed to %(who)s as administrator of town %(town)s (the point is in no area)"),
    "unassigned": N_("not dispatched: town %(town)s has nobody to route to"),
}


def reason_text(data: dict, locale: str = "en") -> str:
    """The routing decision as a sentence people read ("routed to X as Safety & order worker of grid …"),
    in ``locale`` (a rule's words, so no Flask: the caller names the language)."""
    if not data:
        return ""
    rule, grid, area = data.get("rule"), data.get("grid"), data.get("area")
    if rule == "area_leader" and not grid:
        rule = "area_leader_in_no_grid"
    elif rule == "town_admin" and not area:
        rule = "town_admin_in_no_area"
    if rule not in REASONS:
        return rule or ""
    return text(locale, REASONS[rule], who=data.get("assignee"), grid=grid, area=area, town=data.get("town"),
                duty=name(locale, DUTY_NAMES, data.get("duty")))
