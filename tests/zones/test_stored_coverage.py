"""Stored coverage figures (town_coverage, area_coverage, kept by the triggers of migration 0015):
after every kind of write (factories, import, each redraw, set-based SQL) they equal what
services.coverage computes from the geometries, and a write that changes no shape leaves them be.

The layout of tests/zones/conftest.py: area 1 (0..10 x 0..10) holds g1 0..4 x 0..6, g2 4..10 x 0..6,
g3 0..4 x 6..10 and g4 4..10 x 6..10; area 2 (10..20 x 0..10) is one grid.
"""
from __future__ import annotations

import json

import pytest
from shapely.geometry import mapping
from sqlalchemy import select, text

from gridsys import boundaries, geo
from gridsys.zones import redraw, services
from gridsys.zones.models import Area, AreaCoverage, Town, TownCoverage
from gridsys.zones.transfer import import_zones
from tests.factories import cell, login_as, make_user
from tests.zones.conftest import at

REASON = "测试覆盖率"


def parent_codes(session) -> list[str]:
    return [*session.scalars(select(Town.code)), *session.scalars(select(Area.code))]


def figures(session) -> dict:
    """code -> (children, coverage %, gap m², overlap m²) as stored, read afresh."""
    return {r.code: (r.children, r.coverage_pct, r.gap_m2, r.overlap_m2)
            for r in services.stored_coverage(session, parent_codes(session))}


def assert_stored_is_live(session) -> dict:
    """Every town and area has stored figures, and they are what coverage() computes now."""
    session.flush()
    stored = services.stored_coverage(session, parent_codes(session))
    live = services.coverage(session)
    assert [(r.level, r.code, r.name, r.children) for r in stored] == \
        [(r.level, r.code, r.name, r.children) for r in live]
    for kept, now in zip(stored, live):
        for name in ("area_m2", "covered_m2", "overlap_m2"):
            assert getattr(kept, name) == pytest.approx(getattr(now, name), abs=1e-3), (kept.code, name)
    return figures(session)


def m2(session, geom) -> float:
    return geo.areas_m2(session, [geom])[0]


def save(session, plan):
    boundaries.save(session, plan, actor="rd-admin", reason=REASON)
    session.commit()


def test_zones_written_by_the_factories_have_their_figures(session, layout):
    found = assert_stored_is_live(session)
    assert found[layout.town.code][0] == 2 and found[layout.a1.code][0] == 4 and found[layout.a2.code][0] == 1
    for code, (_children, pct, gap, overlap) in found.items():   # spheroidal noise: tens of m² of 200 km²
        assert pct == pytest.approx(100.0, abs=1e-3) and gap < 100 and overlap < 1, code


def test_a_reshape_that_leaves_a_gap_shows_it(session, layout):
    save(session, redraw.plan_reshape(session, "grid", layout.g1.code, cell(0, 0, 2, 6), gap_policy="gap"))
    found = assert_stored_is_live(session)
    children, pct, gap, _overlap = found[layout.a1.code]
    assert children == 4 and gap == pytest.approx(m2(session, cell(2, 0, 4, 6)), rel=1e-4)
    assert pct < 99
    assert found[layout.town.code][1] == pytest.approx(100.0, abs=1e-3)   # the areas still tile the town
    # Growing back closes it.
    save(session, redraw.plan_reshape(session, "grid", layout.g1.code, cell(0, 0, 4, 6)))
    assert assert_stored_is_live(session)[layout.a1.code][1] == pytest.approx(100.0, abs=1e-3)


def test_a_deleted_grid_no_longer_counts(session, layout):
    save(session, redraw.plan_delete(session, layout.g4.code, gap_policy="gap"))
    children, _pct, gap, _overlap = assert_stored_is_live(session)[layout.a1.code]
    assert children == 3 and gap == pytest.approx(m2(session, cell(4, 6, 10, 10)), rel=1e-4)


def test_split_merge_and_move_keep_the_figures(session, layout):
    line = {"type": "LineString", "coordinates": [at(7, -1), at(7, 7)]}
    save(session, redraw.plan_split(session, layout.g2.code, line, name="新网格"))
    assert assert_stored_is_live(session)[layout.a1.code][0] == 5
    save(session, redraw.plan_merge(session, layout.g1.code, layout.g3.code))
    assert assert_stored_is_live(session)[layout.a1.code][0] == 4
    # A move renumbers the grid under area 2 and redraws both areas (and so their town's figures).
    save(session, redraw.plan_move(session, layout.g4.code, layout.a2.code))
    found = assert_stored_is_live(session)
    assert (found[layout.a1.code][0], found[layout.a2.code][0]) == (3, 2)
    assert found[layout.a2.code][1] == pytest.approx(100.0, abs=1e-3)
    area2 = geo.from_db(session.scalar(select(Area.geom).where(Area.id == layout.a2.id)))
    stored_m2 = session.scalar(select(AreaCoverage.area_m2).where(AreaCoverage.area_id == layout.a2.id))
    assert stored_m2 == pytest.approx(m2(session, area2), rel=1e-9)
    assert stored_m2 > m2(session, cell(10, 0, 20, 10))


def _feature(level, code, name, geom) -> dict:
    return {"type": "Feature", "properties": {"level": level, "code": code, "name": name},
            "geometry": json.loads(json.dumps(mapping(geom)))}


def test_an_import_creating_and_redrawing_zones_keeps_the_figures(session):
    town, area = "500106911", "500106911001"
    first = {"type": "FeatureCollection", "features": [
        _feature("town", town, "导入镇", cell(30, 0, 40, 10)),
        _feature("area", area, "导入片区", cell(30, 0, 40, 10)),
        _feature("grid", area + "001", "甲", cell(30, 0, 35, 10)),
        _feature("grid", area + "002", "乙", cell(35, 0, 40, 10))]}
    import_zones(session, first, actor="t")
    assert assert_stored_is_live(session)[area][:2] == (2, pytest.approx(100.0, abs=1e-3))
    second = json.loads(json.dumps(first))
    second["features"][3]["geometry"] = mapping(cell(35, 0, 40, 5))
    second["features"].append(_feature("area", "500106911002", "空片区", cell(40, 0, 45, 10)))
    second["features"][0]["geometry"] = mapping(cell(30, 0, 45, 10))
    import_zones(session, second, actor="t")
    found = assert_stored_is_live(session)
    assert found[area][2] == pytest.approx(m2(session, cell(35, 5, 40, 10)), rel=1e-4)
    assert found["500106911002"][:2] == (0, 0.0)                # an area without grids covers nothing
    assert found[town][:2] == (2, pytest.approx(100.0, abs=1e-3))


def test_set_based_sql_keeps_the_figures_too(session, layout):
    """Loads that bypass the app (the benchmarks' datasets, an operator's SQL) are kept as well."""
    srid = geo.STORAGE_SRID
    session.execute(text("DELETE FROM grids WHERE area_id = :a"), {"a": layout.a2.id})
    assert assert_stored_is_live(session)[layout.a2.code][:2] == (0, 0.0)
    session.execute(text(
        "INSERT INTO grids (code, area_id, name, geom) SELECT :area || lpad(n::text, 3, '0'), :area_id, '网格' || n, "
        "ST_MakeEnvelope(106.1 + (n - 1) * 0.02, 29.0, 106.1 + n * 0.02, 29.1, :srid) FROM generate_series(1, 4) n"),
        {"area": layout.a2.code, "area_id": layout.a2.id, "srid": srid})
    assert assert_stored_is_live(session)[layout.a2.code][:2] == (4, pytest.approx(80.0, rel=1e-3))
    session.execute(text("UPDATE grids SET area_id = :a1 WHERE code = :code"),
                    {"a1": layout.a1.id, "code": layout.a2.code + "001"})   # now outside its area: 0 covered
    found = assert_stored_is_live(session)
    assert (found[layout.a1.code][0], found[layout.a2.code][0]) == (5, 3)


def test_a_write_that_changes_no_shape_leaves_the_figures_be(session, layout):
    def versions():   # where each stored row is: an UPDATE writes a new version elsewhere
        return session.execute(text("SELECT (SELECT array_agg(ctid::text ORDER BY area_id) FROM area_coverage), "
                                    "(SELECT array_agg(ctid::text ORDER BY town_id) FROM town_coverage)")).one()
    before = versions()
    session.execute(text("UPDATE grids SET name = name || '改', version = version + 1"))
    session.execute(text("UPDATE areas SET name = name || '改'"))
    session.execute(text("UPDATE towns SET name = name || '改'"))
    assert versions() == before
    session.execute(text("UPDATE grids SET geom = geom WHERE code = :code"), {"code": layout.g1.code})
    assert versions() == before
    session.execute(text("UPDATE grids SET geom = ST_Translate(geom, 0, 0.000001) WHERE code = :code"),
                    {"code": layout.g1.code})
    changed = versions()
    assert changed[0][0] != before[0][0] and changed[0][1:] == before[0][1:] and changed[1] == before[1]


def test_a_town_or_area_deleted_takes_its_figures_along(session):
    town = services.save_zone(session, "town", "500106912", "删除镇", cell(50, 0, 60, 10), actor="t")
    area = services.save_zone(session, "area", "500106912001", "删除片区", cell(50, 0, 60, 10), actor="t")
    assert assert_stored_is_live(session)[town.code][0] == 1
    session.delete(area)
    session.flush()
    assert session.get(AreaCoverage, area.id) is None
    assert assert_stored_is_live(session)[town.code][:2] == (0, 0.0)
    session.delete(town)
    session.flush()
    assert session.get(TownCoverage, town.id) is None


def test_the_zones_page_shows_the_stored_figures(client, session, layout):
    save(session, redraw.plan_delete(session, layout.g4.code, gap_policy="gap"))
    admin = make_user(session, "cov-admin", ["admin"])
    session.commit()
    client.set_cookie("lang", "en")
    page = login_as(client, admin).get("/zones").get_data(as_text=True)
    pct = figures(session)[layout.a1.code][1]
    row = page.split(f'<td class="code">{layout.a1.code}</td>', 1)
    assert row[0].rsplit("<tr", 1)[1].startswith(' class="area gap"')
    assert f"{pct:.2f}%" in row[1].split("</tr>", 1)[0] and pct == pytest.approx(76.0, abs=0.1)
