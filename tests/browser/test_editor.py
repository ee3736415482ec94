"""The administrator moves a boundary between two grids on the map, previews, saves, and the
change is in the grids' history (headless Chromium, laptop viewport)."""
from __future__ import annotations

import pytest

from shapely.affinity import scale
from shapely.geometry import box
from sqlalchemy import select

from gridsys import geo
from gridsys.zones.models import BoundaryRevision, Grid

pytestmark = pytest.mark.browser

AREA = "500106110005"  # no seeded incidents there: other browser tests keep their counts


def _neighbours(db):
    grids = {g.code: geo.from_db(g.geom) for g in db.scalars(select(Grid).where(Grid.code.startswith(AREA),
                                                                               Grid.retired_at.is_(None)))}
    first = sorted(grids)[0]
    other = max((c for c in grids if c != first),
                key=lambda c: grids[first].boundary.intersection(grids[c].boundary).length)
    return first, other, grids[first].area


def _grown(db, first, other):
    """``first`` taking a 100 m notch out of ``other`` at the middle of their shared edge, as
    [[lat, lng], …] for Leaflet: what dragging that edge on the map produces."""
    a = geo.from_db(db.scalar(select(Grid.geom).where(Grid.code == first)))
    b = geo.from_db(db.scalar(select(Grid.geom).where(Grid.code == other)))
    mid = a.boundary.intersection(b.boundary).interpolate(0.5, normalized=True)
    notch = b.intersection(box(mid.x - 0.0005, mid.y - 0.0005, mid.x + 0.0005, mid.y + 0.0005))
    grown = a.union(notch)
    assert grown.geom_type == "Polygon"
    return [[y, x] for x, y in grown.exterior.coords[:-1]]


SELECT = """code => { let hit = null;
  window.gridsysMap.grids.eachLayer(l => { if (l.feature.properties.code === code) hit = l; });
  hit.fire('click', {latlng: hit.getBounds().getCenter()}, true); }"""

# The edited outline, as Geoman leaves it after the corners were dragged.
SET_OUTLINE = """ring => { const layer = window.gridsysEditor.selected;
  layer.setLatLngs([ring.map(p => L.latLng(p[0], p[1]))]); }"""


def test_admin_reshapes_a_grid_previews_and_saves(open_page, db):
    first, other, area_before = _neighbours(db)
    page, log = open_page("laptop", "admin")
    page.goto("/map")
    page.wait_for_function("document.getElementById('map-box').dataset.ready === '1'")
    page.evaluate(SELECT, first)
    assert first in page.inner_text("#ed-selected")
    page.click("[data-act=reshape]")
    page.evaluate(SET_OUTLINE, _grown(db, first, other))
    page.click("#ed-preview")
    page.wait_for_function("document.getElementById('ed-effect').textContent.length > 0")
    effect = page.inner_text("#ed-effect")
    assert first in effect and other in effect
    assert db.scalar(select(BoundaryRevision.id).where(BoundaryRevision.zone_code == first,
                                                       BoundaryRevision.reason == "browser edit")) is None
    page.fill("#ed-reason", "browser edit")
    page.click("#ed-save")
    page.wait_for_function("document.getElementById('ed-message').className.includes('ok')")

    db.expire_all()
    reasons = {r.zone_code: r for r in db.scalars(select(BoundaryRevision)
                                                  .where(BoundaryRevision.reason == "browser edit"))}
    assert {first, other} <= set(reasons)
    assert reasons[first].actor == "admin"
    after = geo.from_db(db.scalar(select(Grid.geom).where(Grid.code == first)))
    assert after.area > area_before
    assert not after.equals(geo.from_db(reasons[first].old_geom))
    assert log.console_errors == [] and log.page_errors == [] and log.external == []


def test_a_refused_edit_marks_the_faulty_spot_and_saves_nothing(open_page, db):
    first, _, _ = _neighbours(db)
    before = db.scalar(select(Grid.version).where(Grid.code == first))
    page, log = open_page("laptop", "admin")
    page.goto("/map")
    page.wait_for_function("document.getElementById('map-box').dataset.ready === '1'")
    page.evaluate(SELECT, first)
    page.click("[data-act=reshape]")
    # An outline three times the grid's size spills out of the area: refused with a spot.
    grid = geo.from_db(db.scalar(select(Grid.geom).where(Grid.code == first)))
    page.evaluate(SET_OUTLINE, [[y, x] for x, y in scale(grid, 3, 3).exterior.coords[:-1]])
    with page.expect_response(lambda r: r.url.endswith("/redraw/preview")) as answer:
        page.click("#ed-preview")
    assert answer.value.status == 422
    assert answer.value.json()["error"]["code"] == "outside_parent"
    page.wait_for_function("document.getElementById('ed-message').className.includes('error')")
    assert page.is_disabled("#ed-save")
    assert page.locator("path.leaflet-interactive[stroke='#dc2626']").count() >= 1
    db.expire_all()
    assert db.scalar(select(Grid.version).where(Grid.code == first)) == before
    assert log.page_errors == [] and log.external == []
