"""Paged lists (people, zones, gaps): page sizes, next/previous links, page_invalid, and query
plans on a few hundred rows: the page's query reads an index, not the whole table."""
import re

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from gridsys import paging
from gridsys.geo import STORAGE_SRID
from gridsys.people import access, gaps, views, zone_pages
from gridsys.zones.models import Grid
from tests.factories import login_as

N = 300


@pytest.fixture
def crowd(session, world):
    """N more people, N more grids in area 2 and N more areas in the town, written set-based, analysed."""
    a2 = world.areas[1]
    session.execute(text(
        "INSERT INTO users (username, display_name, password_hash, active) "
        "SELECT 'p' || lpad(n::text, 3, '0'), '人员' || n, 'x', n % 7 <> 0 FROM generate_series(1, :n) n"), {"n": N})
    session.execute(text(
        "INSERT INTO grids (code, area_id, name, geom) "
        "SELECT :area || lpad((n + 2)::text, 3, '0'), :area_id, '网格' || n, "
        "ST_MakeEnvelope(5 + n * 0.01, 0, 5.005 + n * 0.01, 0.005, :srid) FROM generate_series(1, :n) n"),
        {"area": a2.code, "area_id": a2.id, "srid": STORAGE_SRID, "n": N})
    session.execute(text(
        "INSERT INTO areas (code, town_id, name, geom) "
        "SELECT :town || lpad((n + 2)::text, 3, '0'), :town_id, '片区' || n, "
        "ST_Multi(ST_MakeEnvelope(20 + n * 0.1, 0, 20.05 + n * 0.1, 0.05, :srid)) FROM generate_series(1, :n) n"),
        {"town": world.town.code, "town_id": world.town.id, "srid": STORAGE_SRID, "n": N})
    session.execute(text("ANALYZE users, grids, areas, towns, grid_assignments"))
    return world


@pytest.fixture
def admin(client, crowd):
    client.set_cookie("lang", "en")
    return login_as(client, crowd.admin)


def rows(page: str) -> int:
    return len(re.findall(r"<tr[ >]", page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]))


def test_people_are_listed_a_page_at_a_time_by_username(admin):
    first = admin.get("/admin/people").get_data(as_text=True)
    assert rows(first) == views.PEOPLE_PAGE_SIZE
    assert 'rel="next" href="/admin/people?page=2"' in first and 'rel="prev"' not in first
    assert f"{N + 3} people, {views.PEOPLE_PAGE_SIZE} a page" in first
    assert "admin1" in first and "p001" in first    # by username: admin1, leader1 … p001 …
    last_number = -(-(N + 3) // views.PEOPLE_PAGE_SIZE)
    last = admin.get(f"/admin/people?page={last_number}").get_data(as_text=True)
    assert rows(last) == (N + 3) % views.PEOPLE_PAGE_SIZE or views.PEOPLE_PAGE_SIZE
    assert 'rel="next"' not in last and f'rel="prev" href="/admin/people?page={last_number - 1}"' in last
    assert "worker1" in last
    beyond = admin.get(f"/admin/people?page={last_number + 1}")
    assert beyond.status_code == 200 and rows(beyond.get_data(as_text=True)) == 0


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", "99999999999"])
def test_a_page_that_is_not_a_page_number_is_refused(admin, value):
    for path in ("/admin/people", "/admin/gaps", "/zones"):
        response = admin.get(f"{path}?page={value}")
        assert response.status_code == 400, path
        assert "page_invalid" in response.get_data(as_text=True), path


def test_gaps_are_listed_a_page_at_a_time(admin, crowd, session):
    page = admin.get("/admin/gaps").get_data(as_text=True)
    assert rows(page) == gaps.GAPS_PAGE_SIZE and 'rel="next" href="/admin/gaps?page=2"' in page
    every = gaps.duty_gaps(session)
    assert len(every) == N + 4        # every grid lacks some duty (worker1 covers only general on g11)
    pages = [gaps.duty_gaps_page(session, n) for n in range(1, 9)]
    assert [len(p.items) for p in pages] == [50, 50, 50, 50, 50, 50, 4, 0]
    assert [g.code for p in pages for g, _ in p.items] == [g.code for g, _ in every]
    assert [m for p in pages for _, m in p.items] == [m for _, m in every]
    assert "general" not in dict((g.code, m) for g, m in every)[crowd.grids[0].code]


def test_zones_are_listed_a_page_at_a_time(admin, crowd):
    first = admin.get("/zones").get_data(as_text=True)
    assert first.count('<td class="code">') == zone_pages.ZONES_PAGE_SIZE
    assert f'<td class="code">{crowd.town.code}</td>' in first     # the town, then its areas by code
    assert 'rel="next" href="/zones?page=2"' in first
    total = 1 + 2 + N
    last = admin.get(f"/zones?page={-(-total // zone_pages.ZONES_PAGE_SIZE)}").get_data(as_text=True)
    assert last.count('<td class="code">') == total % zone_pages.ZONES_PAGE_SIZE and 'rel="next"' not in last


def test_a_leader_pages_only_their_zones(client, crowd):
    page = login_as(client, crowd.leader).get("/zones").get_data(as_text=True)
    assert page.count('<td class="code">') == 2 and 'rel="next"' not in page   # the town and area 1


def plan(session, query) -> str:
    sql = query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    return "\n".join(session.execute(text(f"EXPLAIN {sql}")).scalars())


def uses_index(explained: str, table: str) -> bool:
    """An Index Scan / Index Only Scan of ``table`` (or a Bitmap Index Scan of one of its indexes), no Seq Scan."""
    index = re.search(rf"Index (Only )?Scan (Backward )?using \S+ on {table}\b", explained) or \
        re.search(rf"Bitmap Index Scan on ix_{table}_|Bitmap Index Scan on uq_{table}_|Bitmap Index Scan on {table}_",
                  explained)
    return index is not None and f"Seq Scan on {table}" not in explained


def test_the_pages_queries_read_indexes(session, crowd):
    people = plan(session, views.people_query().limit(51))
    assert uses_index(people, "users"), people
    lacking = plan(session, gaps.gaps_query(visible=access.where(access.scope_for(session, crowd.admin), Grid))
                   .limit(51))
    assert uses_index(lacking, "grids"), lacking
    scoped = plan(session, gaps.gaps_query(visible=access.where(access.scope_for(session, crowd.leader), Grid))
                  .limit(51))
    assert uses_index(scoped, "grids"), scoped
    # Towns and areas (zone_pages.parents_query) are not checked here: a union of the two sorted
    # by code (6 000 rows at city scale); its cost is the sort, the coverage is computed per page.


def test_page_numbers(session):
    assert paging.page_number({}) == 1 and paging.page_number({"page": "3"}) == 3
