"""The city dataset (bench/city.py) at a tiny scale (2 towns, 200 grids, 4 000 incidents), built
into databases of this test's own in the private cluster and dropped at the end: the zones tile,
every incident sits in its grid, each event log replays to its incident as the lifecycle would
have written it, escalations agree with the sweep's rules, and the mix has every status."""
from __future__ import annotations

import os

import pytest
import shapely
from shapely.ops import unary_union

from bench import city, city_build
from gridsys import localdb
from gridsys.incidents.models import CHANNELS, OPEN_STATUSES, RATINGS, STATUSES

SCALE = 0.002
NAMES = [f"gridsys_city_test_{os.getpid()}", f"gridsys_city_test_{os.getpid()}_again"]
OPEN = "('" + "', '".join(OPEN_STATUSES) + "')"
BUILT_AT = "(SELECT (value #>> '{}')::timestamptz FROM bench_meta WHERE key = 'built_at')"
# Events the lifecycle records without a transition (creation, and the sweep's escalations).
NOT_TRANSITIONS = "action IN ('report', 'dispatch', 'to_register', 'unrouted') OR (action = 'escalate' AND actor_id IS NULL)"

pytestmark = pytest.mark.skipif(bool(os.environ.get("GRIDSYS_TEST_DATABASE_URL")),
                                reason="builds databases of its own in the private cluster")


@pytest.fixture(scope="module")
def built():
    localdb.start()
    try:
        city.ensure(SCALE, database=NAMES[0], dump=False)
        with city_build.connect(localdb.url(NAMES[0])) as conn:
            yield conn
    finally:
        for name in NAMES:
            localdb.drop_database(name)


def rows(conn, sql: str, params=None) -> list[tuple]:
    return conn.execute(sql, params).fetchall()


def one(conn, sql: str, params=None):
    return conn.execute(sql, params).fetchone()[0]


def shapes(conn, sql: str) -> dict:
    """{parent id: [shapely geometries]} from rows of (parent id, WKB)."""
    found: dict = {}
    for parent, wkb in rows(conn, sql):
        found.setdefault(parent, []).append(shapely.from_wkb(bytes(wkb)))
    return found


@pytest.mark.parametrize("children, parents", [
    ("SELECT area_id, ST_AsBinary(geom) FROM grids", "SELECT id, ST_AsBinary(geom) FROM areas"),
    ("SELECT town_id, ST_AsBinary(geom) FROM areas", "SELECT id, ST_AsBinary(geom) FROM towns"),
])
def test_zones_tile_their_parent_without_gaps_or_overlaps(built, children, parents):
    pieces, whole = shapes(built, children), {k: v[0] for k, v in shapes(built, parents).items()}
    assert pieces.keys() == whole.keys()
    for parent, parts in pieces.items():
        union = unary_union(parts)
        assert union.symmetric_difference(whole[parent]).area <= 1e-9 * whole[parent].area
        assert abs(sum(p.area for p in parts) - union.area) <= 1e-9 * union.area   # no overlap


def test_grids_are_irregular_polygons_of_about_a_hundred_vertices_around_chongqing(built):
    assert rows(built, "SELECT count(*), min(ST_NPoints(geom)), max(ST_NPoints(geom)), bool_and(ST_IsValid(geom)) "
                       "FROM grids") == [(200, 101, 101, True)]
    lon, lat = rows(built, "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(ST_Collect(geom)) c FROM towns) x")[0]
    assert 105.5 < lon < 107.5 and 29 < lat < 30
    assert one(built, "SELECT count(DISTINCT round(ST_Area(geom)::numeric, 12)) FROM grids") == 200


def test_every_incident_lies_in_its_grid_with_its_area_and_town(built):
    assert one(built, "SELECT count(*) FROM incidents") == 4000
    assert one(built, """SELECT count(*) FROM incidents i JOIN grids g ON g.id = i.grid_id JOIN areas a ON a.id = g.area_id
                         WHERE NOT ST_Covers(g.geom, i.geom) OR i.area_id <> g.area_id OR i.town_id <> a.town_id""") == 0
    assert one(built, """SELECT count(*) FROM incidents i WHERE NOT EXISTS (
                             SELECT 1 FROM grid_assignments a WHERE a.grid_id = i.grid_id AND a.user_id = i.assignee_id
                             AND a.duty = i.assigned_as AND a.valid_to IS NULL)""") == 0


def test_each_event_log_replays_to_its_incident(built):
    assert one(built, """SELECT count(*) FROM incident_events e JOIN incidents i ON i.id = e.incident_id
                         WHERE e.grid_id IS DISTINCT FROM i.grid_id OR e.area_id IS DISTINCT FROM i.area_id
                            OR e.at < i.created_at OR e.at >= """ + BUILT_AT) == 0
    chain = rows(built, """SELECT count(*) FILTER (WHERE k = 1 AND action <> 'report'),
                                  count(*) FILTER (WHERE k = 2 AND action NOT IN ('dispatch', 'to_register', 'unrouted')),
                                  count(*) FILTER (WHERE k > 1 AND from_status IS DISTINCT FROM before),
                                  count(*) FILTER (WHERE at < previous_at)
                           FROM (SELECT action, from_status, at,
                                        row_number() OVER (PARTITION BY incident_id ORDER BY id) AS k,
                                        lag(to_status) OVER (PARTITION BY incident_id ORDER BY id) AS before,
                                        lag(at) OVER (ORDER BY id) AS previous_at FROM incident_events) x""")
    assert chain == [(0, 0, 0, 0)]
    assert one(built, f"""SELECT count(*) FROM incidents i JOIN LATERAL (
                              SELECT (array_agg(to_status ORDER BY id DESC))[1] AS last_status,
                                     count(*) FILTER (WHERE NOT ({NOT_TRANSITIONS})) AS transitions,
                                     max(at) FILTER (WHERE NOT ({NOT_TRANSITIONS}) AND action <> 'rate') AS acted,
                                     max(at) FILTER (WHERE action = 'resolve') AS resolved,
                                     max(at) FILTER (WHERE action = 'close') AS closed
                              FROM incident_events e WHERE e.incident_id = i.id) e ON true
                          WHERE e.last_status <> i.status OR i.version <> e.transitions + 1
                             OR i.updated_at <> coalesce(e.acted, i.created_at)
                             OR i.resolved_at IS DISTINCT FROM CASE WHEN i.status IN ('resolved', 'closed') THEN e.resolved END
                             OR i.closed_at IS DISTINCT FROM CASE WHEN i.status = 'closed' THEN e.closed END""") == 0


def test_escalations_agree_with_the_last_escalate_event_and_the_sweeps_schedule(built):
    assert one(built, """SELECT count(*) FROM incidents i
                         LEFT JOIN LATERAL (SELECT at, data FROM incident_events e WHERE e.incident_id = i.id
                                            AND action = 'escalate' ORDER BY id DESC LIMIT 1) l ON true
                         WHERE (i.escalation_level > 0) <> (i.escalation_trigger IS NOT NULL)
                            OR i.escalated_at IS DISTINCT FROM l.at
                            OR (i.escalation_level > 0 AND ((l.data ->> 'level')::int <> i.escalation_level
                                                            OR l.data ->> 'trigger' <> i.escalation_trigger))""") == 0
    assert one(built, f"""SELECT count(*) FROM incidents i JOIN categories c ON c.code = i.category_code
                          WHERE next_escalation_at IS DISTINCT FROM CASE WHEN status IN {OPEN} THEN CASE escalation_level
                              WHEN 0 THEN due_at WHEN 1 THEN escalated_at + make_interval(hours => c.escalate_after_hours)
                              END END""") == 0
    assert one(built, f"SELECT count(*) FROM incidents WHERE next_escalation_at < {BUILT_AT}") == 0   # none left due
    assert {r[0] for r in rows(built, "SELECT DISTINCT escalation_trigger FROM incidents")} == \
        {None, "overdue", "urgent", "manual", "stale"}


def test_the_mix_has_every_status_channel_and_rating_and_about_a_fifth_urgent(built):
    assert {r[0] for r in rows(built, "SELECT DISTINCT status FROM incidents")} == set(STATUSES)
    assert {r[0] for r in rows(built, "SELECT DISTINCT channel FROM incidents")} == set(CHANNELS)
    assert {r[0] for r in rows(built, "SELECT DISTINCT rating FROM incidents WHERE rating IS NOT NULL")} == set(RATINGS)
    assert {r[0] for r in rows(built, "SELECT DISTINCT cancel_reason FROM incidents WHERE status = 'cancelled'")} == \
        {"declined", "other"}
    assert 0.14 < one(built, "SELECT avg((priority = 'urgent')::int) FROM incidents") < 0.22
    assert one(built, f"SELECT count(*) FROM incidents WHERE status IN {OPEN} AND due_at < {BUILT_AT}") > 0  # overdue
    assert one(built, "SELECT count(*) FROM categories WHERE active") == \
        one(built, "SELECT count(DISTINCT category_code) FROM incidents")


def test_codes_are_unique_and_numbered_as_the_app_numbers_them(built):
    assert rows(built, r"""SELECT count(*) - count(DISTINCT i.code),
                                 count(*) FILTER (WHERE i.code !~ ('^' || g.code || '-' || to_char(i.created_at AT TIME ZONE
                                     'Asia/Shanghai', 'YYYYMMDD') || '-[0-9]{3,}$'))
                          FROM incidents i JOIN grids g ON g.id = i.grid_id""") == [(0, 0)]
    assert one(built, """SELECT count(*) FROM (
                             SELECT g.code, (i.created_at AT TIME ZONE 'Asia/Shanghai')::date AS day,
                                    max(split_part(i.code, '-', 3)::int) AS last
                             FROM incidents i JOIN grids g ON g.id = i.grid_id GROUP BY 1, 2) x
                         LEFT JOIN incident_counters c ON c.prefix = x.code AND c.day = x.day
                         WHERE c.last IS DISTINCT FROM x.last""") == 0


def test_one_dense_area_whose_leader_has_its_open_incidents_and_thousands_unread(built):
    meta = city.meta(NAMES[0])
    by_area = rows(built, f"""SELECT a.code, count(*) FROM incidents i JOIN areas a ON a.id = i.area_id
                              WHERE i.status IN {OPEN} GROUP BY 1 ORDER BY 2 DESC""")
    assert by_area[0] == (meta["dense_area"], meta["dense_open_target"]) and meta["dense_open_target"] == 200
    assert by_area[1][1] < by_area[0][1] / 5
    assert one(built, """SELECT max(n) FROM (SELECT count(*) AS n FROM notifications n JOIN area_leaders l
                         ON l.user_id = n.user_id WHERE n.read_at IS NULL GROUP BY n.user_id) x""") >= 1000


def test_constraints_and_indexes_are_all_back_and_valid(built, database_url):
    query = """SELECT c.relname, i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
               JOIN pg_class c ON c.oid = x.indrelid WHERE c.relnamespace = 'public'::regnamespace AND x.indisvalid
               UNION ALL SELECT conrelid::regclass::text, conname FROM pg_constraint
               WHERE connamespace = 'public'::regnamespace AND convalidated"""
    with city_build.connect(database_url) as fresh:
        expected = set(rows(fresh, query))
    assert set(rows(built, query)) - {("bench_meta", "bench_meta_pkey")} == expected


def test_seeded_a_second_build_is_the_same_city_and_a_marked_database_is_reused(built):
    same = ("SELECT md5(string_agg(encode(ST_AsBinary(geom), 'hex'), '' ORDER BY code)) FROM grids",
            "SELECT md5(string_agg(client_uuid::text || category_code || channel || priority || grid_id "
            "|| encode(ST_AsBinary(geom), 'hex'), '' ORDER BY client_uuid)) FROM incidents")
    city.ensure(SCALE, database=NAMES[1], dump=False)
    with city_build.connect(localdb.url(NAMES[1])) as again:
        assert [one(again, q) for q in same] == [one(built, q) for q in same]
    built_at = city.meta(NAMES[1])["built_at"]
    city.ensure(SCALE, database=NAMES[1], dump=False)
    assert city.meta(NAMES[1])["built_at"] == built_at
