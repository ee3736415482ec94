"""Work queues: what waits for this person, by role, most urgent first.

The handler's 待受理 ``to_accept``, 处理中 ``in_progress`` and 被退回 ``returned`` (返工); the grid
worker's and leader's 待立案 ``to_register`` (residents' reports); the leader's 待核查 ``to_verify``,
督办 ``escalated``, 即将超期 ``due_soon`` and 不满意 ``unsatisfied`` (a resident's 回访 to decide on);
the administrator's ``unassigned`` and their level-2 ``escalated``.
Each queue is one SQL condition, so the counts of all of a person's queues are one query.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (ARRAY, DateTime, Integer, and_, any_, bindparam, case, cast, false, func, literal,
                        literal_column, or_, select, true)
from sqlalchemy.orm import Session

from ..clock import now
from .. import db, settings
from ..settings import Settings
from ..errors import GridsysError
from ..people.access import Scope
from ..people.models import AreaLeader, User
from . import routing
from ..zones.models import Area
from .models import OPEN_STATUSES, Incident, IncidentEscalation

QUEUES = ("to_accept", "in_progress", "returned", "to_register", "to_verify", "escalated", "due_soon", "unsatisfied",
          "unassigned")
HANDLER_QUEUES = ("to_accept", "in_progress", "returned")
# Open and not yet resolved: what a deadline still applies to.
WORKING = ("assigned", "in_progress", "reopened")


def of(user: User) -> tuple[str, ...]:
    """The queues this person has, in the order they are shown."""
    roles = user.roles
    names: list[str] = []
    if roles & {"grid_worker", "area_leader", "admin"}:
        names += HANDLER_QUEUES   # anyone may be handed an incident (a leader takes one over)
    if roles & {"grid_worker", "area_leader"}:
        names.append("to_register")
    if "area_leader" in roles:
        names += ["to_verify", "escalated", "due_soon", "unsatisfied"]
    if "admin" in roles:   # what falls to them where an area has no leader, level 2, and the unrouted
        names += [n for n in ("to_register", "to_verify", "escalated", "unsatisfied", "unassigned") if n not in names]
    return tuple(names)


@dataclass(frozen=True)
class _Asker:
    """What a queue's condition needs of who asks: their id, whether they administer, and the areas
    and towns of their scope (None: none). Values for a list's query; bound parameters for the
    counts' statement, which is built once per shape of asker (counts_template)."""
    id: Any
    admin: bool
    everything: bool
    area_ids: Any
    town_ids: Any

    @classmethod
    def of(cls, user: User, scope: Scope) -> "_Asker":
        return cls(user.id, "admin" in user.roles, scope.everything, sorted(scope.area_ids) or None,
                   sorted(scope.town_ids) or None)


def _managed(asker: _Asker, rows=Incident):
    """Incidents in the zones this person leads or administers (not merely the grids they work).
    ``rows``: Incident, or IncidentEscalation (the escalated queue's)."""
    if asker.everything:
        return true()
    zones = [column.in_(ids) for column, ids in ((rows.area_id, asker.area_ids), (rows.town_id, asker.town_ids))
             if ids is not None]
    return or_(*zones) if zones else false()


def _leaderless(leaderless=None, rows=Incident) -> list:
    """Incidents whose area has no active leader, and those that lie in no area: what
    deadlines.holders gives the town's administrators at level 1, so their queues must hold it too.
    Two alternatives, so that a count reads each from an index. ``leaderless``: the array of
    leaderless_areas(), when one statement asks it of several queues (default: its own); ``rows``:
    as for _managed."""
    ids = leaderless_areas() if leaderless is None else leaderless
    return [rows.area_id.is_(None), rows.area_id == any_(cast(ids, ARRAY(Integer)))]  # ANY((array))


def leaderless_areas():
    """The ids of the areas without a current leader (routing.current_leaders) as one array, read
    once per statement: few or none once leaders are assigned (at city scale, none of 5 000), so
    each queue finds their incidents by its index on area_id instead of testing every candidate
    against the thousands of areas that have one. (Before any leader is named, every area is in
    it, and each queue looks each area up: as many index probes as areas.)"""
    return (select(func.coalesce(func.array_agg(Area.id), literal_column("'{}'::int[]")))
            .where(Area.id.not_in(routing.current_leaders(AreaLeader.area_id))).scalar_subquery())


def _theirs(asker: _Asker, leader_part, *admin_parts, rows=Incident) -> list:
    """A leader's part in the areas they lead, and an administrator's parts in their towns
    (``rows``: as for _managed)."""
    parts = []
    if asker.area_ids is not None:
        parts.append(and_(rows.area_id.in_(asker.area_ids), leader_part))
    if asker.admin:
        parts += [and_(_managed(asker, rows), part) for part in admin_parts]
    return parts or [false()]


def condition(name: str, user: User, scope: Scope, rules: Settings, at: datetime | None = None):
    """The SQL condition of queue ``name`` for this person (``rules``: how soon is "due soon")."""
    own = own_condition(name, user, scope, rules, at)
    if name in ROWS:   # the incidents its own rows name, as one array computed first: as a semi-join,
        # the planner read all of incidents to match the administrator's 105 000 escalated (0.96 s a
        # page); an array is looked up by primary key.
        return Incident.id == any_(cast(select(func.array_agg(ROWS[name].incident_id)).where(own)
                                        .scalar_subquery(), ARRAY(Integer)))
    return own


def own_condition(name: str, user: User, scope: Scope, rules: Settings, at: datetime | None = None):
    """condition() over the queue's own rows: IncidentEscalation's for ``escalated`` (ROWS), else
    Incident's."""
    at = at or now()
    common, alternatives = _parts(name, _Asker.of(user, scope), at, _due_soon_until(rules, at))
    return and_(*common, or_(*alternatives))


# The table each queue's own conditions test (own_condition, ordering).
ROWS = {"escalated": IncidentEscalation}


def _due_soon_until(rules: Settings, at: datetime) -> datetime:
    """The end of the "due soon" window that starts at ``at``."""
    return at + timedelta(hours=rules.due_soon_hours)


def _parts(name: str, asker: _Asker, at, soon, leaderless=None) -> tuple[list, list]:
    """Queue ``name``'s condition for ``asker`` as (what every incident in it meets, the
    alternatives it ORs): a count reads each alternative from the queue's index on its own and
    stops early in each, where one OR is read whole. ``at``: now, ``soon``: the end of "due soon"
    (values, or parameters in counts_template); ``leaderless``: as for _leaderless."""
    mine = Incident.assignee_id == asker.id
    if name == "to_accept":     # assigned to them, not yet accepted (a reopened one is "returned")
        return [Incident.status == "assigned"], [mine]
    if name == "in_progress":
        return [Incident.status == "in_progress"], [mine]
    if name == "returned":      # 返工: sent back by the verifier
        return [Incident.status == "reopened"], [mine]
    if name == "to_register":   # residents' reports awaiting 立案: the routed worker's, and their leader's
        return [Incident.status == "reported", Incident.channel != "staff"], \
            [mine, *_theirs(asker, true(), *_leaderless(leaderless))]
    if name == "unsatisfied":   # closed, rated 不满意, not yet reviewed: reopen it or confirm the closure
        return [Incident.status == "closed", Incident.rating == "unsatisfied", Incident.review.is_(None)], \
            _theirs(asker, true(), *_leaderless(leaderless))
    if name == "to_verify":     # resolved in the areas they lead (administrators: where no one leads)
        return [Incident.status == "resolved"], _theirs(asker, true(), *_leaderless(leaderless))
    if name == "escalated":     # up to them: level 1 for leaders of its area, level 2 for administrators
        e = IncidentEscalation   # (open ones only, by its indexes)
        return [e.level > 0], _theirs(asker, e.level == 1, e.level == 2,
                                      *[and_(e.level == 1, part) for part in _leaderless(leaderless, e)], rows=e)
    if name == "due_soon":      # still on time, due within the next hours
        return [Incident.status.in_(WORKING), Incident.due_at > at, Incident.due_at <= soon], [_managed(asker)]
    if name == "unassigned":    # routed to nobody
        return [Incident.status.in_(OPEN_STATUSES), Incident.assignee_id.is_(None)], [_managed(asker)]
    raise _unknown()


def _unknown() -> GridsysError:
    return GridsysError("queue_unknown", f"queue is one of {', '.join(QUEUES)}", status=400)


def check(name) -> str:
    if name not in QUEUES:
        raise _unknown()
    return name


def ordering(name: str, at: datetime | None = None, rows=Incident) -> tuple:
    """Most urgent first: escalated higher, then overdue, urgent, the nearest deadline; a
    verification queue by how long it has waited. ``rows``: Incident, or IncidentEscalation (the
    escalated queue's own, which copies these columns)."""
    at = at or now()
    if name == "to_verify":
        return (Incident.resolved_at.asc().nulls_last(), Incident.id)
    level, urgent, key = ((rows.level, rows.urgent, rows.incident_id) if rows is IncidentEscalation
                          else (Incident.escalation_level, Incident.priority == "urgent", Incident.id))
    return (level.desc(), case((rows.due_at < at, 0), else_=1), case((urgent, 0), else_=1),
            rows.due_at.asc().nulls_last(), key)


COUNT_CAP = 100   # a queue's count stops here ("99+"), as the unread count does


def counts(session: Session, user: User, scope: Scope, at: datetime | None = None,
           cap: int = COUNT_CAP) -> dict[str, int]:
    """The number waiting in each of this person's queues, up to ``cap`` each (``cap`` means that
    many or more): one query of one count per queue, each answered from the queue's own index and
    stopping at ``cap``, so it costs what the queues hold up to that, not the scope's size."""
    names = of(user)
    if not names:
        return {}
    db.planned_for_parameters(session)
    statement, values = _counts_call(user, scope, settings.of(session), at or now(), cap)
    row = session.execute(statement, values).one()
    return {n: int(row._mapping[n]) for n in names}


def counts_statement(user: User, scope: Scope, rules: Settings, at: datetime, cap: int = COUNT_CAP):
    """The select() of counts(), its parameters bound: one column per queue of this person."""
    statement, values = _counts_call(user, scope, rules, at, cap)
    return statement.params(values)


def _counts_call(user: User, scope: Scope, rules: Settings, at: datetime, cap: int) -> tuple:
    """counts()'s statement for this shape of asker, and the values of its parameters."""
    asker = _Asker.of(user, scope)
    statement = counts_template(of(user), asker.admin, asker.everything, asker.area_ids is not None,
                                asker.town_ids is not None, cap)
    values = {"user_id": asker.id, "at": at, "soon": _due_soon_until(rules, at)}
    values.update({k: v for k, v in (("area_ids", asker.area_ids), ("town_ids", asker.town_ids)) if v is not None})
    return statement, values


@functools.lru_cache(maxsize=64)
def counts_template(names: tuple[str, ...], admin: bool, everything: bool, areas: bool, towns: bool, cap: int):
    """The counts' select() for one shape of asker (their queues, whether they administer, whether
    their scope has areas, towns or everything), with who asks, their zones and the time as bound
    parameters: built once, since building its twenty-odd subqueries cost more than running them
    (2.2 ms of SQLAlchemy a page header, plus 0.6 ms for its cache key)."""
    asker = _Asker(bindparam("user_id", type_=Integer), admin, everything,
                   bindparam("area_ids", expanding=True) if areas else None,
                   bindparam("town_ids", expanding=True) if towns else None)
    at, soon = (bindparam(name, type_=DateTime(timezone=True)) for name in ("at", "soon"))
    leaderless = None
    if admin:   # once, for every queue
        leaderless = select(leaderless_areas().label("ids")).cte("leaderless").select().scalar_subquery()
    return select(*[func.least(_capped_count(*_parts(n, asker, at, soon, leaderless), cap, COUNT_ORDER.get(n, ())),
                               cap).label(n) for n in names])


# Read in the order of the queue's index, so that a count walks it (index only) and stops at the
# cap. Unordered, the planner (which takes escalation for independent of being open, and so a
# hundredth as common as it is) read all 113 000 open incidents by deadline to find the 550 at
# level 1, and the residents' reports of every town from the table (5 000 pages) for an admin.
COUNT_ORDER = {"escalated": (IncidentEscalation.level, IncidentEscalation.area_id),
               "to_register": (Incident.assignee_id, Incident.area_id)}


def _capped_count(common: list, alternatives: list, cap: int, order: tuple = ()):
    """How many rows meet ``common`` and any of ``alternatives``, up to ``cap`` from each: a sum of
    counts of each alternative less the ones before it (null counted as false), so that each is read
    from the index alone (the columns they test are the index's) and nothing is counted twice."""
    counts = []
    for n, alternative in enumerate(alternatives):
        earlier = [~func.coalesce(a, false()) for a in alternatives[:n]]
        counts.append(select(func.count()).select_from(
            select(literal(1)).where(*common, alternative, *earlier).order_by(*order).limit(cap).subquery())
            .scalar_subquery())
    return sum(counts[1:], counts[0])
