"""Boundary edits at the service level: plan_* -> preview (no writes) -> save (atomic).

The layout is drawn in tests/zones/conftest.py: area 1 (0..10 x 0..10) holds g1 0..4 x 0..6,
g2 4..10 x 0..6, g3 0..4 x 6..10 and g4 4..10 x 6..10; area 2 (10..20 x 0..10) is one grid.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
import shapely
from shapely.geometry import LineString, Point, mapping
from sqlalchemy import select

from gridsys import geo
from gridsys.errors import GridsysError, NotFound
from gridsys.incidents.models import Incident, IncidentEvent
from gridsys.incidents.deadlines import due_hours
from gridsys.people import services as people
from gridsys.people.models import GridAssignment
from gridsys import boundaries
from gridsys.zones import redraw
from gridsys.zones.models import Area, BoundaryRevision, Grid, Town
from gridsys.zones.services import locate
from tests.factories import cell
from tests.zones.conftest import SAFETY, act, at, grid_row, report, same_snapshot, snapshot, stored

REASON = "测试改界"
TINY = 1e-9  # degrees²: what floating-point noise may leave of a difference (about 10 m²)


def refusal(make, *args, **kw) -> GridsysError:
    with pytest.raises(GridsysError) as err:
        make(*args, **kw)
    return err.value


def refused_preview(session, plan) -> GridsysError:
    return refusal(boundaries.preview, session, plan)


def save(session, plan, **kw):
    result = boundaries.save(session, plan, actor="rd-admin", reason=REASON, **kw)
    session.commit()
    session.expire_all()
    return result


def reshape(session, code, geom, **kw):
    return redraw.plan_reshape(session, "grid", code, geom, **kw)


def active_union(session, area):
    return shapely.union_all([geo.from_db(g) for g in session.scalars(
        select(Grid.geom).where(Grid.area_id == area.id, Grid.retired_at.is_(None)))])


def assert_no_overlap(session, area):
    shapes = [geo.from_db(g) for g in session.scalars(
        select(Grid.geom).where(Grid.area_id == area.id, Grid.retired_at.is_(None)))]
    for i, a in enumerate(shapes):
        for b in shapes[i + 1:]:
            assert a.intersection(b).area < TINY


def same_shape(a, b) -> bool:
    return a.symmetric_difference(b).area < TINY


def located_at(session, x, y) -> str | None:
    grid = locate(session, *at(x, y)).grid
    return grid.code if grid else None


def near(location, geom) -> bool:
    return location is not None and len(location) == 2 and geom.buffer(1e-7).covers(Point(location))


def feature(code, geom, name="网格"):
    return {"type": "Feature", "properties": {"level": "grid", "code": code, "name": name},
            "geometry": mapping(geom)}


def collection(*features):
    return {"type": "FeatureCollection", "features": list(features)}


# --- reshape: neighbours follow -------------------------------------------------------------

def test_growing_grid_takes_exactly_that_ground_from_its_neighbour(session, layout):
    before = active_union(session, layout.a1)
    plan = reshape(session, layout.g1.code, cell(0, 0, 6, 6))
    assert {c.code for c in plan.changes} == {layout.g1.code, layout.g2.code}
    save(session, plan)
    assert stored(session, layout.g1.code).equals(cell(0, 0, 6, 6))
    assert stored(session, layout.g2.code).equals(cell(6, 0, 10, 6))
    assert stored(session, layout.g3.code).equals(cell(0, 6, 4, 10))
    assert stored(session, layout.g4.code).equals(cell(4, 6, 10, 10))
    assert same_shape(active_union(session, layout.a1), before)
    assert_no_overlap(session, layout.a1)
    assert stored(session, layout.a1.code, Area).equals(cell(0, 0, 10, 10))


def test_preview_reports_the_area_change_of_each_grid(session, layout):
    effect = boundaries.preview(session, reshape(session, layout.g1.code, cell(0, 0, 6, 6)))
    changes = {c["code"]: c for c in effect["changes"]}
    gained, lost = changes[layout.g1.code], changes[layout.g2.code]
    taken_m2 = geo.areas_m2(session, [cell(4, 0, 6, 6)])[0]
    assert gained["delta_m2"] == pytest.approx(taken_m2, rel=1e-3)
    assert lost["delta_m2"] == pytest.approx(-taken_m2, rel=1e-3)
    assert (gained["action"], effect["checks"]) == ("update", {"ok": True, "gap_opened_m2": 0.0,
                                                              "gap_closed_m2": 0.0})
    assert effect["neighbours"] == [layout.g2.code]


def test_freed_ground_goes_to_the_neighbour_sharing_the_longest_edge(session, layout):
    # The freed strip 2..4 x 0..6 shares 6 units with g2 and 2 with g3.
    plan = reshape(session, layout.g1.code, cell(0, 0, 2, 6))
    assert boundaries.preview(session, plan)["checks"]["gap_opened_m2"] == 0
    save(session, plan)
    assert stored(session, layout.g2.code).equals(cell(2, 0, 10, 6))
    assert stored(session, layout.g3.code).equals(cell(0, 6, 4, 10))
    assert same_shape(active_union(session, layout.a1), cell(0, 0, 10, 10))


def test_freed_ground_stays_a_reported_gap_when_the_admin_chooses(session, layout):
    plan = reshape(session, layout.g1.code, cell(0, 0, 2, 6), gap_policy="gap")
    effect = boundaries.preview(session, plan)
    freed_m2 = geo.areas_m2(session, [cell(2, 0, 4, 6)])[0]
    assert effect["checks"]["gap_opened_m2"] == pytest.approx(freed_m2, rel=1e-3)
    assert effect["neighbours"] == []
    save(session, plan)
    assert stored(session, layout.g2.code).equals(cell(4, 0, 10, 6))
    assert located_at(session, 3, 3) is None
    # Growing back into the gap closes it and takes nothing from anyone.
    effect = boundaries.preview(session, reshape(session, layout.g1.code, cell(0, 0, 4, 6)))
    assert effect["checks"]["gap_closed_m2"] == pytest.approx(freed_m2, rel=1e-3)
    assert effect["neighbours"] == []


def test_unknown_gap_policy_is_refused(session, layout):
    err = refusal(reshape, session, layout.g1.code, cell(0, 0, 2, 6), gap_policy="nobody")
    assert err.code == "gap_policy_unknown"


# --- refusals name the reason and the spot --------------------------------------------------

def test_grid_spilling_outside_its_area_is_refused_at_the_spill(session, layout):
    err = refusal(reshape, session, layout.g1.code, cell(0, -1, 4, 6))
    assert err.code == "outside_parent"
    assert near(err.details["location"], cell(0, -1, 4, 0))


def test_bowtie_is_refused_as_invalid_at_the_crossing(session, layout):
    bowtie = {"type": "Polygon", "coordinates": [[at(0, 0), at(4, 6), at(4, 0), at(0, 6), at(0, 0)]]}
    err = refusal(reshape, session, layout.g1.code, bowtie)
    assert err.code == "geometry_invalid"
    assert err.details["location"] == pytest.approx(list(at(2, 3)))


def test_reshape_cutting_a_neighbour_in_two_is_refused_at_the_smaller_piece(session, layout):
    err = refusal(reshape, session, layout.g1.code, cell(0, 0, 4, 6).union(cell(4, 1, 10, 2)))
    assert (err.code, err.details["other_code"]) == ("neighbour_split", layout.g2.code)
    assert near(err.details["location"], cell(4, 0, 10, 1))


def test_reshape_swallowing_a_neighbour_is_refused_naming_it(session, layout):
    err = refusal(reshape, session, layout.g1.code, cell(0, 0, 10, 6))
    assert (err.code, err.details["other_code"]) == ("neighbour_swallowed", layout.g2.code)


def test_reshape_swallowing_a_neighbour_is_refused_at_the_swallowed_grid(session, layout):
    err = refusal(reshape, session, layout.g1.code, cell(0, 0, 10, 6))
    assert near(err.details.get("location"), cell(4, 0, 10, 6))


def test_split_line_that_misses_the_grid_is_refused_at_the_line(session, layout):
    line = {"type": "LineString", "coordinates": [at(0, 8), at(4, 8)]}  # across g3, not g1
    err = refusal(redraw.plan_split, session, layout.g1.code, line)
    assert err.code == "split_line_invalid"
    assert near(err.details["location"], LineString([at(0, 8), at(4, 8)]))


def test_split_line_that_is_not_a_linestring_is_refused(session, layout):
    err = refusal(redraw.plan_split, session, layout.g1.code, {"type": "Point", "coordinates": at(2, 2)})
    assert err.code == "split_line_invalid"


def test_merge_of_grids_touching_at_a_corner_is_refused(session, layout):
    err = refusal(redraw.plan_merge, session, layout.g1.code, layout.g4.code)
    assert err.code == "merge_not_adjacent"
    assert near(err.details["location"], cell(4, 6, 10, 10))


def test_merge_across_areas_is_refused(session, layout):
    err = refusal(redraw.plan_merge, session, layout.g2.code, layout.g21.code)
    assert err.code == "merge_across_areas"


def test_move_to_an_area_the_grid_does_not_touch_is_refused(session, layout):
    err = refusal(redraw.plan_move, session, layout.g1.code, layout.a2.code)
    assert err.code == "move_not_adjacent"
    assert near(err.details["location"], cell(0, 0, 4, 6))


def test_unknown_grid_is_not_found(session, layout):
    err = refusal(reshape, session, layout.a1.code + "099", cell(0, 0, 4, 6))
    assert isinstance(err, NotFound) and err.code == "grid_not_found"


def test_delete_that_would_strand_open_incidents_is_refused(session, staff):
    incident = report(session, staff.w1, 2, 3)  # in g1, handled by w1; no leader, no town admin
    err = refused_preview(session, redraw.plan_delete(session, staff.g1.code, gap_policy="gap"))
    assert err.code == "incidents_stranded" and err.details["incident_codes"] == [incident.code]
    err = refusal(save, session, redraw.plan_delete(session, staff.g1.code, gap_policy="gap"))
    assert err.code == "incidents_stranded"
    assert grid_row(session, staff.g1.code).retired_at is None


def test_delete_leaving_a_gap_hands_incidents_to_the_area_leader(session, staff):
    incident = report(session, staff.w1, 2, 3)
    people.set_area_leader(session, staff.leader, staff.a1.code)
    session.commit()
    result = save(session, redraw.plan_delete(session, staff.g1.code, gap_policy="gap"))
    assert [(m["code"], m["to_grid"], m["to_handler"]) for m in result["moves"]] == \
        [(incident.code, None, "rd-leader")]
    stored_incident = session.get(Incident, incident.id)
    assert (stored_incident.grid_id, stored_incident.area_id, stored_incident.assignee_id) == \
        (None, staff.a1.id, staff.leader.id)


# --- split, merge, move, delete -------------------------------------------------------------

def test_split_makes_two_grids_that_add_up_to_the_original(session, layout):
    line = {"type": "LineString", "coordinates": [at(1, -1), at(1, 7)]}
    plan = redraw.plan_split(session, layout.g1.code, line, name="新网格")
    new_code = layout.a1.code + "005"
    save(session, plan)
    kept, new = stored(session, layout.g1.code), stored(session, new_code)
    assert kept.equals(cell(1, 0, 4, 6))  # the larger part keeps the code
    assert new.equals(cell(0, 0, 1, 6))
    assert sum(geo.areas_m2(session, [kept, new])) == pytest.approx(geo.areas_m2(session, [cell(0, 0, 4, 6)])[0])
    new_grid = grid_row(session, new_code)
    assert (new_grid.name, new_grid.area_id, new_grid.retired_at) == ("新网格", layout.a1.id, None)
    assert located_at(session, 0.5, 3) == new_code


def test_split_with_a_name_too_long_is_refused_before_saving(session, layout):
    line = {"type": "LineString", "coordinates": [at(1, -1), at(1, 7)]}
    err = refusal(lambda: boundaries.preview(session, redraw.plan_split(session, layout.g1.code, line, name="名" * 101)))
    assert err.code == "name_invalid"


def test_split_never_reuses_the_code_of_a_retired_grid(session, layout):
    save(session, redraw.plan_merge(session, layout.g2.code, layout.g4.code))  # retires ...004
    line = {"type": "LineString", "coordinates": [at(1, -1), at(1, 7)]}
    plan = redraw.plan_split(session, layout.g1.code, line)
    assert [c.code for c in plan.changes if c.old is None] == [layout.a1.code + "005"]


def test_split_never_reuses_the_code_a_moved_grid_left_behind(session, layout):
    old_code = layout.g2.code
    save(session, redraw.plan_move(session, old_code, layout.a2.code))
    line = {"type": "LineString", "coordinates": [at(1, -1), at(1, 7)]}
    plan = redraw.plan_split(session, layout.g1.code, line)
    assert [c.code for c in plan.changes if c.old is None] == [layout.a1.code + "005"]


def test_merge_keeps_the_lower_code_and_retires_the_other(session, staff):
    incident = report(session, staff.w1, 7, 3)  # in g2, handled by w2
    assert incident.assignee_id == staff.w2.id
    save(session, redraw.plan_merge(session, staff.g2.code, staff.g1.code))
    assert stored(session, staff.g1.code).equals(cell(0, 0, 10, 6))
    gone = grid_row(session, staff.g2.code)
    assert gone.retired_at is not None and geo.from_db(gone.geom).is_empty
    assert located_at(session, 7, 3) == staff.g1.code
    assert session.scalar(select(GridAssignment.valid_to).where(GridAssignment.grid_id == gone.id)) is not None
    moved = session.get(Incident, incident.id)
    assert (moved.grid_id, moved.assignee_id) == (staff.g1.id, staff.w1.id)


def test_retired_grid_is_gone_from_further_edits(session, layout):
    save(session, redraw.plan_merge(session, layout.g1.code, layout.g2.code))
    err = refusal(reshape, session, layout.g2.code, cell(4, 0, 10, 6))
    assert err.code == "grid_not_found"


def test_move_renumbers_the_grid_under_its_new_area_and_keeps_its_workers(session, staff):
    incident = report(session, staff.w1, 7, 3)  # in g2
    grid_id, old_code = staff.g2.id, staff.g2.code
    result = save(session, redraw.plan_move(session, old_code, staff.a2.code))
    new_code = staff.a2.code + "002"
    moved = grid_row(session, new_code)
    assert (moved.id, moved.area_id) == (grid_id, staff.a2.id)
    assert grid_row(session, old_code) is None
    assert stored(session, new_code).equals(cell(4, 0, 10, 6))
    a1, a2 = stored(session, staff.a1.code, Area), stored(session, staff.a2.code, Area)
    assert same_shape(a1, cell(0, 0, 10, 10).difference(cell(4, 0, 10, 6)))
    assert same_shape(a2, cell(4, 0, 20, 10).difference(cell(4, 6, 10, 10)))
    assert same_shape(shapely.union_all([a1, a2]), cell(0, 0, 20, 10))
    assert stored(session, staff.town.code, Town).equals(cell(0, 0, 20, 10))
    workers = session.scalars(select(GridAssignment.user_id).where(GridAssignment.grid_id == grid_id,
                                                                   GridAssignment.valid_to.is_(None))).all()
    assert workers == [staff.w2.id]
    assert [(m["from_area"], m["to_area"], m["to_grid"], m["to_handler"]) for m in result["moves"]] == \
        [(staff.a1.code, staff.a2.code, new_code, "rd-w2")]
    assert session.get(Incident, incident.id).area_id == staff.a2.id


def test_delete_gives_the_ground_to_the_longest_edge_neighbour(session, layout):
    save(session, redraw.plan_delete(session, layout.g1.code))
    assert stored(session, layout.g2.code).equals(cell(0, 0, 10, 6))  # 6 units of edge, g3 only 4
    assert stored(session, layout.g3.code).equals(cell(0, 6, 4, 10))
    assert grid_row(session, layout.g1.code).retired_at is not None
    assert same_shape(active_union(session, layout.a1), cell(0, 0, 10, 10))


# --- re-homing open incidents ---------------------------------------------------------------

@pytest.fixture
def around_the_edge(session, staff):
    """g1 grows to 0..6 x 0..6; incidents on both sides of the new edge x = 6 and far away."""
    found = dict(
        moving=report(session, staff.w1, 5, 3),        # g2 -> g1
        working=report(session, staff.w1, 5, 4),       # g2 -> g1, accepted by w2
        closed=report(session, staff.w1, 5, 2),        # g2, closed: stays
        beyond=report(session, staff.w1, 7, 3),        # g2 beyond the new edge: stays
        home=report(session, staff.w1, 2, 3),          # g1 already
        far=report(session, staff.w1, 15, 5),          # area 2
    )
    act(session, found["working"], staff.w2, "accept")
    act(session, found["closed"], staff.w2, "resolve", note="已处理")
    act(session, found["closed"], staff.admin, "close")
    return found


def moves_key(moves):
    return sorted((m["incident"], m["from_grid"], m["to_grid"], m["from_handler"], m["to_handler"]) for m in moves)


def test_rehoming_moves_exactly_the_open_incidents_whose_grid_changed(session, staff, around_the_edge):
    inc = around_the_edge
    before = {k: (i.grid_id, i.assignee_id) for k, i in inc.items()}
    plan = reshape(session, staff.g1.code, cell(0, 0, 6, 6))
    previewed = boundaries.preview(session, plan)["moves"]
    result = save(session, plan)
    expected = sorted((inc[k].id, staff.g2.code, staff.g1.code, "rd-w2", "rd-w1") for k in ("moving", "working"))
    assert moves_key(previewed) == moves_key(result["moves"]) == expected
    for key in ("moving", "working"):
        incident = session.get(Incident, inc[key].id)
        assert (incident.grid_id, incident.area_id, incident.assignee_id) == (staff.g1.id, staff.a1.id, staff.w1.id)
    for key in ("closed", "beyond", "home", "far"):
        incident = session.get(Incident, inc[key].id)
        assert (incident.grid_id, incident.assignee_id) == before[key], key


def test_each_moved_incident_gets_one_rehome_event_and_no_other_does(session, staff, around_the_edge):
    inc = around_the_edge
    save(session, reshape(session, staff.g1.code, cell(0, 0, 6, 6)))
    rehomed = session.execute(select(IncidentEvent.incident_id, IncidentEvent.actor_id, IncidentEvent.note,
                                     IncidentEvent.data).where(IncidentEvent.action == "rehome")).all()
    assert sorted(r[0] for r in rehomed) == sorted([inc["moving"].id, inc["working"].id])
    for _id, actor_id, note, data in rehomed:
        assert (actor_id, note) == (staff.admin.id, REASON)
        assert (data["from_grid"], data["to_grid"], data["from_handler"], data["to_handler"]) == \
            (staff.g2.code, staff.g1.code, "rd-w2", "rd-w1")


def test_incident_in_progress_whose_handler_changed_goes_back_to_assigned(session, staff, around_the_edge):
    working = around_the_edge["working"]
    assert session.get(Incident, working.id).status == "in_progress"
    save(session, reshape(session, staff.g1.code, cell(0, 0, 6, 6)))
    moved = session.get(Incident, working.id)
    assert (moved.status, moved.assignee_id) == ("assigned", staff.w1.id)
    event = session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == working.id)
                            .order_by(IncidentEvent.id.desc()).limit(1)).one()
    assert (event.action, event.from_status, event.to_status) == ("rehome", "in_progress", "assigned")


def test_incident_in_progress_whose_handler_stays_keeps_its_status(session, staff):
    working = report(session, staff.w1, 7, 3)  # in g2, w2
    act(session, working, staff.w2, "accept")
    save(session, redraw.plan_move(session, staff.g2.code, staff.a2.code))  # same workers, new area
    moved = session.get(Incident, working.id)
    assert (moved.status, moved.assignee_id, moved.area_id) == ("in_progress", staff.w2.id, staff.a2.id)


def test_unrouted_incident_picked_up_by_a_grid_gets_a_deadline(session, staff):
    save(session, reshape(session, staff.g1.code, cell(0, 0, 2, 6), gap_policy="gap"))
    lost = report(session, staff.w1, 3, 3)  # in the gap; no leader, no town admin: nobody
    assert (lost.status, lost.assignee_id, lost.due_at) == ("reported", None, None)
    save(session, reshape(session, staff.g1.code, cell(0, 0, 4, 6)))
    found = session.get(Incident, lost.id)
    assert (found.status, found.assignee_id) == ("assigned", staff.w1.id)
    assert found.due_at == found.dispatched_at + timedelta(hours=due_hours(found.category, found.priority))
    assert found.next_escalation_at == found.due_at


# --- revisions and restore ------------------------------------------------------------------

def test_save_writes_one_revision_per_changed_grid(session, layout):
    result = save(session, reshape(session, layout.g1.code, cell(0, 0, 6, 6)))
    revisions = session.scalars(select(BoundaryRevision).where(BoundaryRevision.id.in_(result["revisions"]))).all()
    by_code = {r.zone_code: r for r in revisions}
    assert len(revisions) == 2 and set(by_code) == {layout.g1.code, layout.g2.code}
    for r in revisions:
        assert (r.level, r.actor, r.reason, r.action) == ("grid", "rd-admin", REASON, "reshape")
        assert r.changed_at is not None
    assert geo.from_db(by_code[layout.g1.code].old_geom).equals(cell(0, 0, 4, 6))
    assert geo.from_db(by_code[layout.g1.code].new_geom).equals(cell(0, 0, 6, 6))
    assert geo.from_db(by_code[layout.g2.code].old_geom).equals(cell(4, 0, 10, 6))
    assert geo.from_db(by_code[layout.g2.code].new_geom).equals(cell(6, 0, 10, 6))


def test_save_reports_only_the_revisions_it_wrote(session, layout):
    a1 = layout.a1.code
    data = collection(feature(a1 + "001", cell(0, 0, 4, 6)),  # unchanged
                      feature(a1 + "002", cell(4, 0, 10, 10)), feature(a1 + "003", cell(0, 6, 4, 10)))
    result = save(session, redraw.plan_batch(session, a1, data))
    reported = session.scalars(select(BoundaryRevision).where(BoundaryRevision.id.in_(result["revisions"]))).all()
    assert sorted(r.zone_code for r in reported) == [a1 + "002", a1 + "004"]
    assert {r.reason for r in reported} == {REASON}


def test_save_without_a_reason_is_refused_and_writes_nothing(session, layout):
    before = snapshot(session)
    err = refusal(boundaries.save, session, reshape(session, layout.g1.code, cell(0, 0, 6, 6)), actor="rd-admin",
                  reason="  ")
    assert err.code == "reason_required"
    assert same_snapshot(before, snapshot(session))


def first_revision(session, code) -> BoundaryRevision:
    return session.scalars(select(BoundaryRevision).where(BoundaryRevision.zone_code == code)
                           .order_by(BoundaryRevision.id)).first()


def test_restore_brings_the_old_shape_back_and_neighbours_follow(session, layout):
    created = first_revision(session, layout.g1.code)
    save(session, reshape(session, layout.g1.code, cell(0, 0, 6, 6)))
    plan = redraw.plan_restore(session, layout.g1.code, created.id)
    assert boundaries.preview(session, plan)["checks"]["ok"]
    result = save(session, plan)
    assert stored(session, layout.g1.code).equals(cell(0, 0, 4, 6))
    assert stored(session, layout.g2.code).equals(cell(4, 0, 10, 6))
    actions = session.scalars(select(BoundaryRevision.action).where(BoundaryRevision.id.in_(result["revisions"])))
    assert set(actions) == {"restore"}


def test_restore_goes_through_the_same_checks(session, layout):
    created = first_revision(session, layout.g1.code)  # 0..4 x 0..6
    save(session, redraw.plan_split(session, layout.g1.code,
                                    {"type": "LineString", "coordinates": [at(1, -1), at(1, 7)]}))
    err = refusal(redraw.plan_restore, session, layout.g1.code, created.id)  # would swallow the new ...005
    assert (err.code, err.details["other_code"]) == ("neighbour_swallowed", layout.a1.code + "005")


def test_restore_of_another_grids_revision_is_not_found(session, layout):
    err = refusal(redraw.plan_restore, session, layout.g1.code, first_revision(session, layout.g2.code).id)
    assert err.code == "revision_not_found"


# --- preview writes nothing -------------------------------------------------------------------

PLANS = {
    "reshape": lambda s, w: reshape(s, w.g1.code, cell(0, 0, 6, 6)),
    "split": lambda s, w: redraw.plan_split(s, w.g2.code, {"type": "LineString",
                                                          "coordinates": [at(8, -1), at(8, 7)]}),
    "merge": lambda s, w: redraw.plan_merge(s, w.g1.code, w.g2.code),
    "move": lambda s, w: redraw.plan_move(s, w.g2.code, w.a2.code),
    "delete": lambda s, w: redraw.plan_delete(s, w.g2.code),
    "create": lambda s, w: redraw.plan_create(s, w.a1.code, cell(3, 2, 9, 4), "新网格"),
}


@pytest.mark.parametrize("kind", sorted(PLANS))
def test_preview_writes_nothing(session, staff, kind):
    people.set_area_leader(session, staff.leader, staff.a1.code)
    report(session, staff.w1, 5, 3)
    report(session, staff.w1, 9, 3)
    session.commit()
    before = snapshot(session)
    effect = boundaries.preview(session, PLANS[kind](session, staff))
    assert effect["moves"]  # something would move: the preview computed it without writing it
    assert same_snapshot(before, snapshot(session))


# --- area and town redraw ---------------------------------------------------------------------

def test_area_shrinking_past_its_grids_is_refused(session, layout):
    err = refusal(boundaries.preview, session, redraw.plan_reshape(session, "area", layout.a1.code,
                                                                cell(0, 0, 10, 8)))
    assert (err.code, err.details["zone_code"], err.details["other_code"]) == \
        ("children_outside", layout.a1.code, layout.g3.code)
    assert near(err.details["location"], cell(0, 8, 4, 10))


def test_area_growing_over_the_neighbours_grid_is_refused(session, layout):
    err = refusal(boundaries.preview, session, redraw.plan_reshape(session, "area", layout.a1.code,
                                                                cell(0, 0, 12, 10)))
    assert (err.code, err.details["zone_code"], err.details["other_code"]) == \
        ("children_outside", layout.a2.code, layout.g21.code)
    assert near(err.details["location"], cell(10, 0, 12, 10))


def test_area_growing_into_its_neighbours_gap_takes_that_ground(session, layout):
    save(session, reshape(session, layout.g21.code, cell(12, 0, 20, 10), gap_policy="gap"))
    plan = redraw.plan_reshape(session, "area", layout.a1.code, cell(0, 0, 12, 10))
    assert boundaries.preview(session, plan)["neighbours"] == [layout.a2.code]
    save(session, plan)
    assert same_shape(stored(session, layout.a1.code, Area), cell(0, 0, 12, 10))
    assert same_shape(stored(session, layout.a2.code, Area), cell(12, 0, 20, 10))
    assert stored(session, layout.town.code, Town).equals(cell(0, 0, 20, 10))


def test_town_shrinking_past_its_areas_is_refused(session, layout):
    plan = redraw.plan_reshape(session, "town", layout.town.code, cell(0, 0, 15, 10), gap_policy="gap")
    err = refusal(boundaries.preview, session, plan)
    assert (err.code, err.details["other_code"]) == ("children_outside", layout.a2.code)
    assert near(err.details["location"], cell(15, 0, 20, 10))


def test_area_spilling_outside_its_town_is_refused(session, layout):
    err = refusal(redraw.plan_reshape, session, "area", layout.a2.code, cell(10, 0, 20, 12))
    assert err.code == "outside_parent"
    assert near(err.details["location"], cell(10, 10, 20, 12))


# --- batch import for an area -------------------------------------------------------------------

def test_batch_replaces_four_grids_by_a_reshaped_one_and_two_new_ones(session, staff):
    people.set_area_leader(session, staff.leader, staff.a1.code)
    incident = report(session, staff.w1, 7, 3)  # in g2, which the batch retires
    a1 = staff.a1.code
    data = collection(feature(a1 + "001", cell(0, 0, 4, 10)), feature(a1 + "005", cell(4, 0, 10, 6), "新五"),
                      feature(a1 + "006", cell(4, 6, 10, 10), "新六"))
    plan = redraw.plan_batch(session, a1, data)
    assert boundaries.preview(session, plan)["checks"] == {"ok": True, "gap_opened_m2": 0.0, "gap_closed_m2": 0.0}
    save(session, plan)
    active = session.scalars(select(Grid.code).where(Grid.area_id == staff.a1.id, Grid.retired_at.is_(None))
                             .order_by(Grid.code)).all()
    assert active == [a1 + "001", a1 + "005", a1 + "006"]
    assert stored(session, a1 + "001").equals(cell(0, 0, 4, 10))
    assert grid_row(session, a1 + "005").name == "新五"
    assert same_shape(active_union(session, staff.a1), cell(0, 0, 10, 10))
    assert all(grid_row(session, a1 + seq).retired_at is not None for seq in ("002", "003", "004"))
    moved = session.get(Incident, incident.id)
    assert (moved.grid_id, moved.assignee_id) == (grid_row(session, a1 + "005").id, staff.leader.id)


def test_batch_feature_of_another_area_is_refused(session, layout):
    data = collection(feature(layout.a1.code + "001", cell(0, 0, 4, 6)), feature(layout.g21.code, cell(4, 0, 10, 6)))
    err = refusal(redraw.plan_batch, session, layout.a1.code, data)
    assert (err.code, err.details["feature_index"]) == ("batch_foreign_feature", 1)


def test_batch_of_overlapping_features_is_refused_at_the_overlap(session, layout):
    a1 = layout.a1.code
    data = collection(feature(a1 + "001", cell(0, 0, 5, 10)), feature(a1 + "002", cell(4, 0, 10, 10)))
    err = refused_preview(session, redraw.plan_batch(session, a1, data))
    assert err.code == "sibling_overlap"
    assert {err.details["zone_code"], err.details["other_code"]} == {a1 + "001", a1 + "002"}
    assert near(err.details["location"], cell(4, 0, 5, 10))


def test_batch_feature_spilling_outside_the_area_is_refused(session, layout):
    a1 = layout.a1.code
    err = refusal(redraw.plan_batch, session, a1, collection(feature(a1 + "001", cell(0, 0, 11, 10))))
    assert (err.code, err.details["zone_code"]) == ("outside_parent", a1 + "001")


def test_batch_reusing_a_retired_code_is_refused_or_revives_the_grid(session, layout):
    a1 = layout.a1.code
    save(session, redraw.plan_merge(session, layout.g2.code, layout.g4.code))  # retires ...004
    data = collection(feature(a1 + "001", cell(0, 0, 4, 6)), feature(a1 + "002", cell(4, 0, 10, 6)),
                      feature(a1 + "003", cell(0, 6, 4, 10)), feature(a1 + "004", cell(4, 6, 10, 10)))
    try:
        save(session, redraw.plan_batch(session, a1, data))
    except GridsysError:
        return  # refusing a retired code is a fine answer too
    assert located_at(session, 7, 8) == a1 + "004"


def test_a_residents_report_awaiting_registration_moves_but_stays_unregistered(session, staff):
    """A boundary move hands an unregistered resident's report to the new grid's worker for 立案,
    not straight into their work: it stays reported, undispatched, with its response deadline."""
    from gridsys.incidents.models import Notification
    from gridsys.residents import services as residents
    from tests.incidents.helpers import new_report
    lon, lat = at(5, 3)
    data = new_report(category=SAFETY)
    data.lon, data.lat = lon, lat
    waiting = residents.submit(session, data, secret="t").incident
    session.commit()
    due = waiting.due_at
    save(session, reshape(session, staff.g1.code, cell(0, 0, 6, 6)))
    moved = session.get(Incident, waiting.id)
    assert (moved.status, moved.assignee_id, moved.dispatched_at, moved.due_at) == ("reported", staff.w1.id, None, due)
    told = session.scalars(select(Notification.kind).where(Notification.user_id == staff.w1.id,
                                                           Notification.incident_id == waiting.id)).all()
    assert told == ["to_register"]


def test_each_event_records_where_the_incident_was_when_it_happened(session, staff, around_the_edge):
    """Evaluation counts an event in the grid of its time: a move does not rewrite the past."""
    moving = around_the_edge["moving"]
    save(session, reshape(session, staff.g1.code, cell(0, 0, 6, 6)))
    act(session, session.get(Incident, moving.id), staff.w1, "accept")
    places = session.execute(select(IncidentEvent.action, IncidentEvent.grid_id, IncidentEvent.area_id)
                             .where(IncidentEvent.incident_id == moving.id).order_by(IncidentEvent.id)).all()
    assert [tuple(p) for p in places] == [("report", staff.g2.id, staff.a1.id), ("dispatch", staff.g2.id, staff.a1.id),
                                          ("rehome", staff.g1.id, staff.a1.id), ("accept", staff.g1.id, staff.a1.id)]


def test_the_migrations_backfill_places_old_events_where_the_live_writers_do(session, staff, around_the_edge):
    """Migration 0012 fills grid and area of events written before it: blank them, run its upgrade,
    and the places match what the writers record today (a move's 'from' grid for the events before it)."""
    import importlib.util
    from pathlib import Path
    from types import SimpleNamespace
    from sqlalchemy import text
    moving = around_the_edge["moving"]
    save(session, reshape(session, staff.g1.code, cell(0, 0, 6, 6)))
    act(session, session.get(Incident, moving.id), staff.w1, "accept")
    live = session.execute(select(IncidentEvent.id, IncidentEvent.grid_id, IncidentEvent.area_id)
                           .order_by(IncidentEvent.id)).all()
    session.execute(text("ALTER TABLE incident_events DISABLE TRIGGER incident_events_append_only"))
    session.execute(text("UPDATE incident_events SET grid_id = NULL, area_id = NULL"))
    session.execute(text("ALTER TABLE incident_events ENABLE TRIGGER incident_events_append_only"))
    [path] = (Path(__file__).resolve().parents[2] / "migrations" / "versions").glob("*_0012_event_places.py")
    spec = importlib.util.spec_from_file_location("event_places", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    migration.op = SimpleNamespace(execute=lambda sql: session.execute(text(sql)),
                                   add_column=lambda *a, **k: None, create_index=lambda *a, **k: None)
    migration.upgrade()
    session.expire_all()
    backfilled = session.execute(select(IncidentEvent.id, IncidentEvent.grid_id, IncidentEvent.area_id)
                                 .order_by(IncidentEvent.id)).all()
    assert backfilled == live
