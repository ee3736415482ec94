"""Duty assignments with history: primaries, backups, area leaders, town admins, gaps."""
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gridsys.errors import GridsysError
from gridsys.people import gaps, services
from gridsys.people.models import AreaLeader, GridAssignment, TownAdmin
from gridsys.vocabulary import ASSIGNABLE_DUTIES
from tests.factories import cell, make_area, make_grid, make_town, make_user


@pytest.fixture
def zones(session):
    town = make_town(session)
    area = make_area(session, town, 1, cell(0, 0, 5, 10))
    return town, area, make_grid(session, area, 1, cell(0, 0, 5, 5))


def refused(code, fn, *args, **kw):
    with pytest.raises(GridsysError) as err:
        fn(*args, **kw)
    assert err.value.code == code
    return err.value


def current(session, grid, duty):
    return session.scalars(select(GridAssignment).where(
        GridAssignment.grid_id == grid.id, GridAssignment.duty == duty, GridAssignment.valid_to.is_(None))
        .order_by(GridAssignment.id)).all()


def test_primary_and_backups(session, zones):
    _, _, grid = zones
    wang, li, zhao = (make_user(session, n, ["grid_worker"]) for n in ("wang", "li", "zhao"))
    primary = services.assign_grid(session, wang, grid.code, "safety")
    services.assign_grid(session, li, grid.code, "safety", backup=True)
    services.assign_grid(session, zhao, grid.code, "safety", backup=True)
    assert primary.current and not primary.backup and primary.valid_from is not None
    assert [(a.user.username, a.backup) for a in current(session, grid, "safety")] == [
        ("wang", False), ("li", True), ("zhao", True)]


def test_second_primary_is_refused(session, zones):
    _, _, grid = zones
    wang, li = make_user(session, "wang", ["grid_worker"]), make_user(session, "li", ["grid_worker"])
    services.assign_grid(session, wang, grid.code, "safety")
    error = refused("duty_taken", services.assign_grid, session, li, grid.code, "safety")
    assert error.status == 409
    assert [a.user.username for a in current(session, grid, "safety")] == ["wang"]
    # another duty on the same grid is free
    services.assign_grid(session, li, grid.code, "culture")


def test_replace_ends_the_old_primary_and_keeps_history(session, zones):
    _, _, grid = zones
    wang, li = make_user(session, "wang", ["grid_worker"]), make_user(session, "li", ["grid_worker"])
    old = services.assign_grid(session, wang, grid.code, "safety")
    new = services.assign_grid(session, li, grid.code, "safety", replace=True)
    assert old.valid_to is not None and not old.current
    assert new.current and old.valid_to >= old.valid_from
    history = session.scalars(select(GridAssignment).where(GridAssignment.grid_id == grid.id)
                              .order_by(GridAssignment.id)).all()
    assert [(a.user.username, a.current) for a in history] == [("wang", False), ("li", True)]


def test_replace_leaves_backups_alone(session, zones):
    _, _, grid = zones
    wang, li, zhao = (make_user(session, n, ["grid_worker"]) for n in ("wang", "li", "zhao"))
    services.assign_grid(session, wang, grid.code, "safety")
    backup = services.assign_grid(session, zhao, grid.code, "safety", backup=True)
    services.assign_grid(session, li, grid.code, "safety", replace=True)
    assert backup.current


def test_same_person_twice_is_refused(session, zones):
    _, _, grid = zones
    wang = make_user(session, "wang", ["grid_worker"])
    services.assign_grid(session, wang, grid.code, "safety", backup=True)
    refused("already_assigned", services.assign_grid, session, wang, grid.code, "safety")
    refused("already_assigned", services.assign_grid, session, wang, grid.code, "safety", backup=True)
    assert len(current(session, grid, "safety")) == 1


def test_reassigning_after_the_end_is_allowed(session, zones):
    _, _, grid = zones
    wang = make_user(session, "wang", ["grid_worker"])
    first = services.assign_grid(session, wang, grid.code, "safety")
    services.end_assignment(session, "grid", first.id)
    assert services.assign_grid(session, wang, grid.code, "safety").current


@pytest.mark.parametrize("duty", ["cleaning", "", "SAFETY"])
def test_unknown_duty_is_refused(session, zones, duty):
    wang = make_user(session, "wang", ["grid_worker"])
    refused("duty_unknown", services.assign_grid, session, wang, zones[2].code, duty)


def test_all_six_duties_and_general_are_assignable(session, zones):
    wang = make_user(session, "wang", ["grid_worker"])
    assert set(ASSIGNABLE_DUTIES) == {"civilization", "safety", "civil_affairs", "culture", "legal",
                                      "counseling", "general"}
    for duty in ASSIGNABLE_DUTIES:
        services.assign_grid(session, wang, zones[2].code, duty)
    assert gaps.duty_gaps(session) == []


def test_non_worker_cannot_be_assigned_to_a_grid(session, zones):
    leader = make_user(session, "li", ["area_leader", "admin"])
    refused("role_missing", services.assign_grid, session, leader, zones[2].code, "safety")


def test_deactivated_worker_cannot_be_assigned(session, zones):
    wang = make_user(session, "wang", ["grid_worker"])
    services.set_active(session, wang, False)
    refused("account_inactive", services.assign_grid, session, wang, zones[2].code, "safety")


def test_unknown_grid_is_not_found(session, zones):
    wang = make_user(session, "wang", ["grid_worker"])
    error = refused("grid_not_found", services.assign_grid, session, wang, "500106901001999", "safety")
    assert error.status == 404


def test_database_refuses_a_second_current_primary(session, zones):
    _, _, grid = zones
    wang, li = make_user(session, "wang", ["grid_worker"]), make_user(session, "li", ["grid_worker"])
    services.assign_grid(session, wang, grid.code, "safety")
    with pytest.raises(IntegrityError, match="uq_grid_assignments_primary"):
        with session.begin_nested():
            session.add(GridAssignment(user_id=li.id, grid_id=grid.id, duty="safety", backup=False))
            session.flush()
    # a current backup and an ended primary are both fine
    with session.begin_nested():
        session.add(GridAssignment(user_id=li.id, grid_id=grid.id, duty="safety", backup=True))
        session.add(GridAssignment(user_id=li.id, grid_id=grid.id, duty="culture", backup=False,
                                   valid_to=services.now()))
        session.flush()


def test_database_refuses_a_second_current_leader(session, zones):
    _, area, _ = zones
    wang, li = make_user(session, "wang", ["area_leader"]), make_user(session, "li", ["area_leader"])
    services.set_area_leader(session, wang, area.code)
    with pytest.raises(IntegrityError, match="uq_area_leaders_current"):
        with session.begin_nested():
            session.add(AreaLeader(user_id=li.id, area_id=area.id))
            session.flush()


# --- area leaders and town admins ---------------------------------------------------------------

def test_new_area_leader_replaces_the_old_one_keeping_history(session, zones):
    _, area, _ = zones
    wang, li = make_user(session, "wang", ["area_leader"]), make_user(session, "li", ["area_leader"])
    first = services.set_area_leader(session, wang, area.code)
    assert services.set_area_leader(session, wang, area.code) is first  # idempotent
    second = services.set_area_leader(session, li, area.code)
    assert first.valid_to is not None and second.current
    rows = session.scalars(select(AreaLeader).where(AreaLeader.area_id == area.id).order_by(AreaLeader.id)).all()
    assert [(r.user.username, r.current) for r in rows] == [("wang", False), ("li", True)]


def test_one_leader_may_lead_several_areas(session, zones):
    town, area, _ = zones
    other = make_area(session, town, 2, cell(5, 0, 10, 10))
    wang = make_user(session, "wang", ["area_leader"])
    services.set_area_leader(session, wang, area.code)
    services.set_area_leader(session, wang, other.code)
    assert len(session.scalars(select(AreaLeader).where(AreaLeader.user_id == wang.id,
                                                        AreaLeader.valid_to.is_(None))).all()) == 2


def test_area_leader_refusals(session, zones):
    worker = make_user(session, "wang", ["grid_worker"])
    refused("role_missing", services.set_area_leader, session, worker, zones[1].code)
    leader = make_user(session, "li", ["area_leader"])
    refused("area_not_found", services.set_area_leader, session, leader, "500106901999")
    services.set_active(session, leader, False)
    refused("account_inactive", services.set_area_leader, session, leader, zones[1].code)


def test_town_admins_are_several_and_idempotent(session, zones):
    town = zones[0]
    wang, li = make_user(session, "wang", ["admin"]), make_user(session, "li", ["admin"])
    first = services.add_town_admin(session, wang, town.code)
    assert services.add_town_admin(session, wang, town.code) is first
    services.add_town_admin(session, li, town.code)
    rows = session.scalars(select(TownAdmin).where(TownAdmin.town_id == town.id, TownAdmin.valid_to.is_(None))).all()
    assert sorted(r.user.username for r in rows) == ["li", "wang"]
    refused("role_missing", services.add_town_admin, session, make_user(session, "zhao", ["area_leader"]),
            town.code)
    refused("town_not_found", services.add_town_admin, session, wang, "500106999")


def test_end_assignment(session, zones):
    town, area, grid = zones
    wang = make_user(session, "wang", ["grid_worker", "area_leader", "admin"])
    rows = {"grid": services.assign_grid(session, wang, grid.code, "safety"),
            "area": services.set_area_leader(session, wang, area.code),
            "town": services.add_town_admin(session, wang, town.code)}
    for kind, row in rows.items():
        assert services.end_assignment(session, kind, row.id) is row
        assert row.valid_to is not None
        refused("assignment_not_found", services.end_assignment, session, kind, row.id)
    refused("assignment_not_found", services.end_assignment, session, "planet", rows["grid"].id)
    refused("assignment_not_found", services.end_assignment, session, "grid", 10 ** 9)


# --- gaps --------------------------------------------------------------------------------------

def test_duty_gaps_lists_grids_and_duties_without_a_current_primary(session, zones):
    _, area, g1 = zones
    g2 = make_grid(session, area, 2, cell(0, 5, 5, 10))
    wang, li = make_user(session, "wang", ["grid_worker"]), make_user(session, "li", ["grid_worker"])
    for duty in ASSIGNABLE_DUTIES:
        if duty != "legal":
            services.assign_grid(session, wang, g1.code, duty)
    services.assign_grid(session, li, g1.code, "legal", backup=True)  # a backup does not fill the gap
    ended = services.assign_grid(session, li, g2.code, "general")
    services.end_assignment(session, "grid", ended.id)  # an ended primary does not either
    services.assign_grid(session, li, g2.code, "safety")
    lacking = [(g.code, missing) for g, missing in gaps.duty_gaps(session)]
    assert lacking == [(g1.code, ["legal"]),
                    (g2.code, [d for d in ASSIGNABLE_DUTIES if d != "safety"])]
    assert gaps.duty_gaps(session, area_ids=[area.id + 1000]) == []


@pytest.mark.parametrize("lose_cover", [
    lambda session, user: services.set_active(session, user, False),
    lambda session, user: services.set_roles(session, user, ["area_leader"]),
], ids=["deactivated", "role removed"])
def test_duty_gaps_do_not_count_workers_who_cannot_be_routed_to(session, zones, lose_cover):
    _, _, grid = zones
    wang = make_user(session, "wang", ["grid_worker"])
    for duty in ASSIGNABLE_DUTIES:
        services.assign_grid(session, wang, grid.code, duty)
    assert gaps.duty_gaps(session) == []
    lose_cover(session, wang)
    assert [(g.code, missing) for g, missing in gaps.duty_gaps(session)] == [
        (grid.code, list(ASSIGNABLE_DUTIES))]
