"""Paged lists (people, zones, gaps): page sizes, next/previous links, page_invalid, and query
plans on a few hundred rows: the page's query reads an index, not the whole table."""
import html
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


def gap_codes(page: str) -> list[str]:
    return re.findall(r'<span class="code">(\d{15})</span>', page)


def link(page: str, rel: str) -> str | None:
    found = re.search(rf'rel="{rel}" href="([^"]+)"', page)
    return html.unescape(found.group(1)) if found else None


def test_gaps_are_listed_a_page_at_a_time(admin, crowd, session):
    every = gaps.duty_gaps(session)
    assert len(every) == N + 4        # every grid lacks some duty (worker1 covers only general on g11)
    assert "general" not in dict((g.code, m) for g, m in every)[crowd.grids[0].code]
    # The next links go on from each page's last grid: every gap once, in order, 50 a page.
    path, pages, next_links = "/admin/gaps", [], []
    while path:
        page = admin.get(path).get_data(as_text=True)
        pages.append(page)
        path = link(page, "next")
        next_links.append(path)
    assert [len(gap_codes(p)) for p in pages] == [50, 50, 50, 50, 50, 50, 4]
    assert [c for p in pages for c in gap_codes(p)] == [g.code for g, _ in every]
    assert next_links[0] == f"/admin/gaps?after={every[49][0].code}&page=2" and next_links[-1] is None
    assert [f"Page {n}" in p for n, p in enumerate(pages, 1)] == [True] * 7
    # ... and the previous links from each page's first grid lead back through the same pages.
    assert link(pages[0], "prev") is None
    back, path = [], link(pages[-1], "prev")
    while path:
        page = admin.get(path).get_data(as_text=True)
        back.append(gap_codes(page))
        path = link(page, "prev")
    assert back == [gap_codes(p) for p in pages[-2::-1]]
    # A bare page number still works (it skips the pages before), and its links go on by code.
    third = admin.get("/admin/gaps?page=3").get_data(as_text=True)
    assert gap_codes(third) == gap_codes(pages[2]) and link(third, "next") == next_links[2]
    assert [[g.code for g, _ in gaps.duty_gaps_page(session, n).items] for n in range(1, 9)] == \
        [gap_codes(p) for p in pages] + [[]]
    assert [m for n in range(1, 8) for _, m in gaps.duty_gaps_page(session, n).items] == [m for _, m in every]


@pytest.mark.parametrize("query", ["after=abc", "after=1", "before=50010600100200%31x",
                                   "after=\uff15" + "0" * 14, "after=500106901002001&before=500106901002060"])
def test_a_gaps_link_that_names_no_grid_is_refused(admin, query):
    response = admin.get(f"/admin/gaps?{query}")
    assert response.status_code == 400 and "page_invalid" in response.get_data(as_text=True)


def test_gaps_links_at_either_end(admin, crowd, session):
    every = [g.code for g, _ in gaps.duty_gaps(session)]
    # Before the 10th gap there are only 9: that is the first page, shown whole and numbered 1.
    start = admin.get(f"/admin/gaps?before={every[9]}&page=4").get_data(as_text=True)
    assert gap_codes(start) == every[:50] and link(start, "prev") is None and "Page 1" in start
    # After the last gap: nothing, a way back, no way on; a link without a number shows none.
    end = admin.get(f"/admin/gaps?after={every[-1]}").get_data(as_text=True)
    assert gap_codes(end) == [] and "Nothing here." in end and "Page " not in end
    assert link(end, "next") is None and link(end, "prev") == f"/admin/gaps?before={every[-1]}"
    assert gap_codes(admin.get(link(end, "prev")).get_data(as_text=True)) == every[-51:-1]
    # A page after a code that is no grid's (a grid renumbered since) goes on from where it would be.
    between = admin.get(f"/admin/gaps?after={every[60][:-1]}0").get_data(as_text=True)
    assert gap_codes(between)[0] <= every[60]


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
    later = plan(session, gaps.gaps_query(visible=access.where(access.scope_for(session, crowd.admin), Grid))
                 .where(Grid.code > crowd.grids[0].code).limit(51))
    assert uses_index(later, "grids") and "Index Cond: ((code)::text >" in later, later
    # Towns and areas (zone_pages.parents_query) are not checked here: a union of the two sorted
    # by code (6 000 rows at city scale); its cost is the sort, the coverage is read (stored).


def test_page_numbers(session):
    assert paging.page_number({}) == 1 and paging.page_number({"page": "3"}) == 3
