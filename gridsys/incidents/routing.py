"""Routing: point -> grid -> category -> duty -> the grid's worker holding that duty.

Fallbacks in order: the duty's backups, the grid's general worker (then its backups), the
area leader, the town administrators (属地兜底). The decision is returned as data so it can
be recorded on the event log and shown in either language.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import case, select
from sqlalchemy.orm import Session, joinedload

from ..people.models import AreaLeader, GridAssignment, TownAdmin, User, UserRole
from ..zones.services import Location
from .models import Category


def has_role(user_model, role: str):
    """Only people who still hold the role are routed to (an assignment outlives a removed role)."""
    return select(UserRole.user_id).where(UserRole.user_id == user_model.id, UserRole.role == role).exists()


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
                   GridAssignment.valid_to.is_(None), User.active, has_role(User, "grid_worker"))
            .order_by(case((GridAssignment.duty == duty, 0), else_=1), GridAssignment.backup,
                      GridAssignment.valid_from, GridAssignment.id)
            .limit(1))


def chosen_worker(session: Session, grid_id: int, duty: str) -> GridAssignment | None:
    return session.scalar(select(GridAssignment).options(joinedload(GridAssignment.user))
                          .where(GridAssignment.id == grid_worker_choice(grid_id, duty).scalar_subquery()))


def area_leader(session: Session, area_id: int | None) -> User | None:
    if area_id is None:
        return None
    return session.scalar(select(User).join(AreaLeader, AreaLeader.user_id == User.id)
                          .where(AreaLeader.area_id == area_id, AreaLeader.valid_to.is_(None), User.active,
                                 has_role(User, "area_leader")))


def town_admins(session: Session, town_id: int) -> list[User]:
    return list(session.scalars(select(User).join(TownAdmin, TownAdmin.user_id == User.id)
                                .where(TownAdmin.town_id == town_id, TownAdmin.valid_to.is_(None), User.active,
                                       has_role(User, "admin"))
                                .order_by(TownAdmin.valid_from, TownAdmin.id)))


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


DUTY_NAMES = {
    "zh": {"civilization": "创文工作", "safety": "平安综治", "civil_affairs": "民政救济", "culture": "文化建设",
           "legal": "法制宣传", "counseling": "心理咨询", "general": "综合"},
    "en": {"civilization": "civilization", "safety": "safety", "civil_affairs": "civil affairs",
           "culture": "culture", "legal": "legal publicity", "counseling": "counseling", "general": "general"},
}


def reason_text(data: dict, locale: str = "en") -> str:
    """The routing decision as a sentence people read ("routed to X as 平安综治 worker of grid …")."""
    if not data:
        return ""
    lang = "zh" if locale == "zh" else "en"
    duty = DUTY_NAMES[lang].get(data.get("duty"), data.get("duty"))
    who, grid, area, town = data.get("assignee"), data.get("grid"), data.get("area"), data.get("town")
    rule = data.get("rule")
    if lang == "zh":
        texts = {
            "duty_primary": f"派给 {who}：网格 {grid} 的{duty}网格员",
            "duty_backup": f"派给 {who}：网格 {grid} 的{duty}备岗网格员（无在岗主责）",
            "general_primary": f"派给 {who}：网格 {grid} 无{duty}网格员，由综合网格员处理",
            "general_backup": f"派给 {who}：网格 {grid} 无{duty}及综合主责网格员，由备岗处理",
            "area_leader": f"派给 {who}：片区 {area} 的包片领导（" +
                           (f"网格 {grid} 无可派网格员" if grid else "该点不在任何网格内") + "，属地兜底）",
            "town_admin": f"派给 {who}：镇 {town} 的管理员（" +
                          ("片区无包片领导" if area else "该点不在任何片区内") + "，属地兜底）",
            "unassigned": f"未能派遣：镇 {town} 没有可派的人员",
        }
    else:
        texts = {
            "duty_primary": f"routed to {who} as {duty} worker of grid {grid}",
            "duty_backup": f"routed to {who} as backup {duty} worker of grid {grid} (no active primary)",
            "general_primary": f"routed to {who} as general worker of grid {grid} (no {duty} worker)",
            "general_backup": f"routed to {who} as backup general worker of grid {grid} "
                              f"(no {duty} or general primary)",
            "area_leader": f"routed to {who} as leader of area {area} (" +
                           (f"no worker available on grid {grid}" if grid else "the point is in no grid") + ")",
            "town_admin": f"routed to {who} as administrator of town {town} (" +
                          ("the area has no leader" if area else "the point is in no area") + ")",
            "unassigned": f"not dispatched: town {town} has nobody to route to",
        }
    return texts.get(rule, rule or "")
