"""The demo people on the demo town: who exists, what they cover, and that they can log in."""
from collections import Counter

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridsys.cli import DATA, DEMO_TOWN
from gridsys.people import gaps, services
from gridsys.people.demo import load_demo_people
from gridsys.people.models import AreaLeader, GridAssignment, TownAdmin, User
from gridsys.zones.models import Area, Grid
from gridsys.zones.transfer import import_zones, load_json


@pytest.fixture(scope="module")
def demo_loaded(engine):
    """The demo town and people, loaded once for this module (about 3 s) in a transaction of its
    own that is rolled back when the module ends."""
    with engine.connect() as conn:
        outer = conn.begin()
        with Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False) as s:
            import_zones(s, load_json((DATA / "demo_town.geojson").read_bytes()), actor="t")
            people = load_demo_people(s, DEMO_TOWN)
            s.commit()  # releases the savepoint; the outer transaction stays open
        yield conn, people
        outer.rollback()


@pytest.fixture
def demo(demo_loaded):
    """(session, {role: {password, usernames}}): each test's changes are rolled back."""
    conn, people = demo_loaded
    with Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False) as s:
        yield s, people


def test_demo_people_cover_the_demo_town(demo):
    session, demo = demo
    users = session.scalars(select(User)).all()
    by_role = Counter(role for u in users for role in u.roles)
    assert by_role == {"admin": 1, "area_leader": 5, "grid_worker": 96}
    assert len(users) == 102 and all(u.active and not u.must_change_password for u in users)
    assert {role: len(info["usernames"]) for role, info in demo.items()} == {
        "admin": 1, "area_leader": 5, "grid_worker": 96}

    leaders = session.execute(select(Area.code, User.username).join(AreaLeader, AreaLeader.area_id == Area.id)
                              .join(User, User.id == AreaLeader.user_id)
                              .where(AreaLeader.valid_to.is_(None)).order_by(Area.code)).all()
    areas = session.scalars(select(Area.code).order_by(Area.code)).all()
    assert [a for a, _ in leaders] == areas and len({u for _, u in leaders}) == 5
    assert session.scalar(select(func.count()).select_from(TownAdmin)) == 1

    assert gaps.duty_gaps(session) == []
    assert session.scalar(select(func.count()).select_from(GridAssignment)) == \
        session.scalar(select(func.count()).select_from(Grid)) * 7
    assert len(set(u.phone for u in users)) == 102


def test_every_demo_account_logs_in_with_its_role_password(demo):
    session, demo = demo
    users = session.scalars(select(User)).all()
    for role, info in demo.items():
        holders = [u for u in users if role in u.roles]
        assert sorted(info["usernames"]) == sorted(u.username for u in holders)
        # one hash per role, so one real login per role covers every holder (scrypt ~0.1 s a check)
        assert len({u.password_hash for u in holders}) == 1 and holders[0].password_hash.startswith("scrypt:")
        assert services.authenticate(session, holders[-1].username, info["password"], "demo").id == holders[-1].id
    assert len({info["password"] for info in demo.values()}) == 3


def test_loading_the_demo_twice_creates_nothing_new(demo):
    session, _first = demo
    before = {m: session.scalar(select(func.count()).select_from(m))
              for m in (User, GridAssignment, AreaLeader, TownAdmin)}
    again = load_demo_people(session, DEMO_TOWN)
    assert all(info["usernames"] == [] for info in again.values())
    assert {m: session.scalar(select(func.count()).select_from(m)) for m in before} == before


def test_demo_needs_the_demo_town(session):
    with pytest.raises(ValueError, match="not loaded"):
        load_demo_people(session, DEMO_TOWN)
