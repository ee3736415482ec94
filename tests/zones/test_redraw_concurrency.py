"""Two administrators redrawing the same grid on two real connections: the versions they
previewed and the row locks of the save serialise them.

These tests cannot run inside the usual rolled-back transaction (the second connection would
not see the first one's rows), so their fixture commits a small town of its own (code
500106903, away from every other test town) and deletes it afterwards. The event log is
append-only by trigger; the clean-up disables that trigger inside its own transaction only.
"""
from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridsys import geo
from gridsys.errors import Conflict
from gridsys.incidents import services as incidents
from gridsys.incidents.catalogue import load_catalogue
from gridsys.incidents.models import Category, Incident, IncidentEvent
from gridsys.people import services as people
from gridsys.people.models import User
from gridsys import boundaries
from gridsys.zones import redraw
from gridsys.zones.models import BoundaryRevision, Grid
from tests.factories import cell, make_area, make_grid, make_town, password_hash
from tests.committed import Racer, backend_pid, clean_up, wait_until_blocked
from tests.incidents.helpers import CATALOGUE
from tests.zones.conftest import at

TOWN = "500106903"
AREA = TOWN + "001"
G1, G2 = AREA + "001", AREA + "002"
USERNAMES = ("rdc-w1", "rdc-w2")
WAIT_S = 10


@pytest.fixture
def committed(engine):
    """Town 130..140 x 100..110 = one area = g1 (130..135) + g2 (135..140), a safety worker on each;
    removed again at the end (and before, should an interrupted run have left them behind)."""
    _clean_up(engine)
    with Session(engine, expire_on_commit=False) as s:
        before = set(s.scalars(select(Category.code)))
        load_catalogue(s, CATALOGUE.read_bytes())
        new_codes = set(s.scalars(select(Category.code))) - before
        town = make_town(s, TOWN, cell(130, 100, 140, 110), name="改界并发测试镇")
        area = make_area(s, town, 1, cell(130, 100, 140, 110))
        make_grid(s, area, 1, cell(130, 100, 135, 110))
        make_grid(s, area, 2, cell(135, 100, 140, 110))
        workers = []
        for username, grid in zip(USERNAMES, (G1, G2)):
            worker, _ = people.create_user(s, username, roles=["grid_worker"], password_hash=password_hash())
            people.assign_grid(s, worker, grid, "safety")
            workers.append(worker.id)
        s.commit()
        found = SimpleNamespace(w1=workers[0], w2=workers[1])
    try:
        yield found
    finally:
        _clean_up(engine, new_codes)


def _clean_up(engine, category_codes=()):
    clean_up(engine, TOWN, USERNAMES, category_codes)


def g1_to(x1):
    return cell(130, 100, x1, 110)


def saved(session, x1, versions=None, reason="并发改界"):
    """What the save endpoint does: plan with the rows locked, then save."""
    return boundaries.save(session, redraw.plan_reshape(session, "grid", G1, g1_to(x1), lock=True), actor="rdc-admin",
                       reason=reason, expected_versions=versions)


def previewed(session, x1) -> dict:
    """What the preview endpoint does: plan, preview, roll back."""
    effect = boundaries.preview(session, redraw.plan_reshape(session, "grid", G1, g1_to(x1)))
    session.rollback()
    return effect


def shapes_and_versions(engine) -> dict:
    with Session(engine) as s:
        return {code: (geo.from_db(geom), version) for code, geom, version in
                s.execute(select(Grid.code, Grid.geom, Grid.version).where(Grid.code.in_([G1, G2])))}


def test_second_save_of_the_same_previewed_versions_is_stale(engine, committed):
    with Session(engine, expire_on_commit=False) as first, Session(engine, expire_on_commit=False) as second:
        mine, theirs = previewed(first, 137), previewed(second, 136)
        assert mine["versions"] == theirs["versions"] == {G1: 1, G2: 1}  # both read version N
        saved(first, 137, mine["versions"])
        first.commit()
        with pytest.raises(Conflict) as err:
            saved(second, 136, theirs["versions"])
        second.rollback()
    assert err.value.code == "stale_boundary"
    stored = shapes_and_versions(engine)
    assert stored[G1][0].equals(g1_to(137)) and stored[G1][1] == 2
    assert stored[G2][0].equals(cell(137, 100, 140, 110)) and stored[G2][1] == 2


def test_save_without_versions_waits_for_the_first_and_works_on_its_result(engine, committed):
    with Session(engine, expire_on_commit=False) as setup:
        lon, lat = at(136.5, 105)  # in g2; g1 growing to 137 takes it, shrinking to 136 gives it back
        incident, _ = incidents.create_incident(setup, setup.get(User, committed.w1), incidents.NewIncident(
            client_uuid=uuid.uuid4(), lon=lon, lat=lat, category="0201", description="并发改界"))
        setup.commit()
        incident_id = incident.id
    with Session(engine, expire_on_commit=False) as first, Session(engine, expire_on_commit=False) as second:
        pid = backend_pid(second)
        saved(first, 137)  # holds the grid rows locked, not yet committed
        racer = Racer(lambda: saved(second, 136))
        wait_until_blocked(engine, pid, racer)
        first.commit()
        racer.join()
        assert racer.error is None, racer.error
        second.commit()
    stored = shapes_and_versions(engine)
    assert stored[G1][0].equals(g1_to(136)) and stored[G1][1] == 3
    assert stored[G2][0].equals(cell(136, 100, 140, 110)) and stored[G2][1] == 3
    with Session(engine) as check:
        latest = check.scalars(select(BoundaryRevision).where(BoundaryRevision.zone_code == G1)
                               .order_by(BoundaryRevision.id.desc()).limit(1)).one()
        assert geo.from_db(latest.old_geom).equals(g1_to(137))  # planned on the first one's result
        found = check.get(Incident, incident_id)
        assert (found.grid.code, found.assignee_id) == (G2, committed.w2)
        moves = check.execute(select(IncidentEvent.data).where(IncidentEvent.incident_id == incident_id,
                                                               IncidentEvent.action == "rehome")
                              .order_by(IncidentEvent.id)).scalars().all()
        assert [(m["from_grid"], m["to_grid"]) for m in moves] == [(G2, G1), (G1, G2)]
        assert check.scalar(select(func.count()).select_from(BoundaryRevision)
                            .where(BoundaryRevision.zone_code.in_([G1, G2]))) == 6



def test_a_session_that_previewed_without_rolling_back_still_sees_the_newer_save(engine, committed):
    """The save locks the rows and reads them afresh, even where the session already holds them."""
    with Session(engine, expire_on_commit=False) as first, Session(engine, expire_on_commit=False) as second:
        theirs = boundaries.preview(second, redraw.plan_reshape(second, "grid", G1, g1_to(136)))  # version N held
        saved(first, 137)
        first.commit()
        with pytest.raises(Conflict) as err:
            saved(second, 136, theirs["versions"])
        second.rollback()
    assert err.value.code == "stale_boundary"
    assert shapes_and_versions(engine)[G1][0].equals(g1_to(137))
