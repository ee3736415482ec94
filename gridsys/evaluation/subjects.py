"""What an evaluation is of (a town, area, grid or person) and whether the viewer may see it.

Scoped through the one access helper's ``Scope``: a town's figures are its administrators' (and the
system administrator's), an area's also its leader's, a grid's also its workers'; a person's are
their own, and their leaders' and administrators' where they work. Anything else is the same 404
as a code that does not exist. Retired grids stay visible: last year's figures name them.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from ..errors import GridsysError, NotFound
from ..inputs import text_or_none
from ..people import access
from ..people.models import AreaLeader, GridAssignment, User
from ..zones.models import Area, Grid, Town

KINDS = ("town", "area", "grid", "person")


@dataclass(frozen=True)
class Subject:
    kind: str          # town | area | grid | person
    id: int
    code: str          # the zone's code, or the person's username
    name: str
    town_id: int | None  # the town it belongs to (None for a person)

    def as_json(self) -> dict:
        return {"kind": self.kind, "code": self.code, "name": self.name}


def _sees_town(scope: access.Scope, town_id: int) -> bool:
    return scope.everything or town_id in scope.town_ids


def _sees_area(scope: access.Scope, area: Area) -> bool:
    return _sees_town(scope, area.town_id) or area.id in scope.area_ids


def _sees_grid(scope: access.Scope, grid: Grid) -> bool:
    return _sees_area(scope, grid.area) or grid.id in scope.grid_ids


def _sees_person(session: Session, scope: access.Scope, person: User) -> bool:
    if scope.everything or person.id == scope.user_id:
        return True
    if not (scope.area_ids or scope.town_ids):
        return False
    in_reach = or_(Area.id.in_(scope.area_ids), Area.town_id.in_(scope.town_ids))
    works_there = exists(select(GridAssignment.id).join(Grid, Grid.id == GridAssignment.grid_id)
                         .join(Area, Area.id == Grid.area_id)
                         .where(GridAssignment.user_id == person.id, GridAssignment.valid_to.is_(None), in_reach))
    leads_there = exists(select(AreaLeader.id).join(Area, Area.id == AreaLeader.area_id)
                         .where(AreaLeader.user_id == person.id, AreaLeader.valid_to.is_(None), in_reach))
    return bool(session.scalar(select(or_(works_there, leads_there))))


def _missing(kind: str, code: str):
    """The same 404 as for a code that does not exist."""
    if kind == "town":
        raise NotFound("town_not_found", f"no town with code {code}", zone_code=code)
    if kind == "area":
        raise NotFound("area_not_found", f"no area with code {code}", zone_code=code)
    raise NotFound("grid_not_found", f"no grid with code {code}", zone_code=code)


def resolve(session: Session, scope: access.Scope, kind, code) -> Subject:
    """The subject ``kind``/``code`` if the viewer may see its figures, else a 404."""
    kind = (text_or_none(kind, "scope_invalid", "scope") or "").strip()
    if kind not in KINDS:
        raise GridsysError("scope_invalid", f"scope is one of {', '.join(KINDS)}", allowed=list(KINDS), status=400)
    code = (text_or_none(code, "code_invalid", "code") or "").strip()[:40]
    if not code:
        raise GridsysError("code_required", "code names the town, area or grid (its code), or the person "
                                            "(their username)", status=400)
    if kind == "person":
        person = session.scalar(select(User).where(User.username == code.lower()))
        if person is None or not _sees_person(session, scope, person):
            raise NotFound("person_not_found", f"no person {code!r}", username=code)
        return Subject("person", person.id, person.username, person.display_name, None)
    model = {"town": Town, "area": Area, "grid": Grid}[kind]
    zone = session.scalar(select(model).where(model.code == code))
    seen = zone is not None and {"town": lambda z: _sees_town(scope, z.id), "area": lambda z: _sees_area(scope, z),
                                 "grid": lambda z: _sees_grid(scope, z)}[kind](zone)
    if not seen:
        _missing(kind, code)
    town_id = {"town": lambda z: z.id, "area": lambda z: z.town_id, "grid": lambda z: z.area.town_id}[kind](zone)
    return Subject(kind, zone.id, zone.code, zone.name, town_id)


def default_for(session: Session, user: User, scope: access.Scope) -> Subject | None:
    """The dashboard's first view: the widest thing the viewer watches (their town, else their area,
    else themselves)."""
    if scope.everything:
        town = session.scalar(select(Town).order_by(Town.code).limit(1))
    else:
        town = session.scalar(select(Town).where(Town.id.in_(scope.town_ids)).order_by(Town.code).limit(1))
    if town is not None:
        return Subject("town", town.id, town.code, town.name, town.id)
    area = session.scalar(select(Area).where(Area.id.in_(scope.area_ids)).order_by(Area.code).limit(1))
    if area is not None:
        return Subject("area", area.id, area.code, area.name, area.town_id)
    return Subject("person", user.id, user.username, user.display_name, None)


def towns_published_by(session: Session, scope: access.Scope) -> list[Town]:
    """The towns whose results the viewer may publish: every town for an administrator (the same
    towns ``_sees_town`` lets them evaluate)."""
    query = select(Town).order_by(Town.code)
    if not scope.everything:
        query = query.where(Town.id.in_(scope.town_ids))
    return list(session.scalars(query))
