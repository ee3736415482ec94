"""The administrator moves a boundary between two grids on the map, previews, saves, and the
change is in the grids' history; a change after the preview must be previewed again, and Save
writes exactly what the preview showed; the map and the preview are on screen together on a
laptop (1366×768) and a phone (390×844). Headless Chromium."""
from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest

import shapely
from shapely.affinity import scale
from shapely.geometry import Point, box
from shapely.ops import linemerge
from sqlalchemy import select

from gridsys import create_app, geo
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


def _grown(db, first, other, along=0.5):
    """``first`` taking a 100 m notch out of ``other`` at ``along`` (0..1) of their shared edge, as
    [[lat, lng], …] for Leaflet: what dragging that edge on the map produces."""
    return [[y, x] for x, y in _notched(db, first, other, along)[0].exterior.coords[:-1]]


def _notched(db, first, other, along=0.5):
    """(first grown by the notch, the notch) as shapely polygons."""
    a = geo.from_db(db.scalar(select(Grid.geom).where(Grid.code == first)))
    b = geo.from_db(db.scalar(select(Grid.geom).where(Grid.code == other)))
    edge = linemerge(a.boundary.intersection(b.boundary))   # the shared edge may come in pieces:
    edge = max(getattr(edge, "geoms", [edge]), key=lambda piece: piece.length)   # along its longest
    mid = edge.interpolate(along, normalized=True)
    notch = b.intersection(box(mid.x - 0.0005, mid.y - 0.0005, mid.x + 0.0005, mid.y + 0.0005))
    # snapped to 1e-9° (0.1 mm): in floating point the notch's side and a's may miss each other by
    # 1e-15 where the edge bends, and the union would come out in two pieces
    grown = shapely.union(a, notch, grid_size=1e-9)
    assert grown.geom_type == "Polygon"
    return grown, notch


SELECT = """code => { let hit = null;
  window.gridsysMap.grids.eachLayer(l => { if (l.feature.properties.code === code) hit = l; });
  hit.fire('click', {latlng: hit.getBounds().getCenter()}, true); }"""

# The edited outline, as Geoman leaves it after the corners were dragged (its vertex handles
# redrawn on the new outline).
SET_OUTLINE = """ring => { const layer = window.gridsysEditor.selected;
  layer.setLatLngs([ring.map(p => L.latLng(p[0], p[1]))]);
  if (layer.pm.enabled()) { layer.pm.disable(); layer.pm.enable({snappable: true, allowSelfIntersection: false}); } }"""


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


# --- only the plan last previewed is saved ------------------------------------------------------

# The screen position of the Geoman vertex marker of the selected grid nearest to [lat, lng].
VERTEX_AT = """target => { const layer = window.gridsysEditor.selected, map = window.gridsysMap.map;
  const markers = layer.pm._markers.flat(3);
  const want = L.latLng(target[0], target[1]);
  const best = markers.reduce((a, m) => (!a || m.getLatLng().distanceTo(want) < a.getLatLng().distanceTo(want)) ? m : a,
                              null);
  const r = best._icon.getBoundingClientRect();
  return {x: r.left + r.width / 2, y: r.top + r.height / 2, metres: best.getLatLng().distanceTo(want)}; }"""

# The area after the edit that the preview shows for a grid.
EFFECT_ROW = """code => { const row = [...document.querySelectorAll('#ed-effect tbody tr')]
  .find(tr => tr.querySelector('[data-col=grid]').textContent.startsWith(code));
  return row ? parseFloat(row.querySelector('[data-col=after]').textContent) : null; }"""


def _open_editor(open_page, viewport, db, first, other, along):
    page, log = open_page(viewport, "admin")
    page.goto("/map")
    page.wait_for_function("document.getElementById('map-box').dataset.ready === '1'")
    page.evaluate(SELECT, first)
    page.click("[data-act=reshape]")
    page.evaluate(SET_OUTLINE, _grown(db, first, other, along))
    return page, log


def _preview(page):
    with page.expect_response(lambda r: "/preview" in r.url) as answer:
        page.click("#ed-preview:visible, #ed-repreview:visible")
    assert answer.value.status == 200, answer.value.json()
    page.wait_for_function("!document.getElementById('ed-save').disabled")


def test_a_change_after_the_preview_must_be_previewed_again(open_page, db):
    first, other, _ = _neighbours(db)
    page, log = _open_editor(open_page, "laptop", db, first, other, 0.2)
    grown, notch = _notched(db, first, other, 0.2)
    _preview(page)
    shown_first = page.evaluate(EFFECT_ROW, first)
    assert page.is_hidden("#ed-stale")

    # Drag the notch's inner corner 40 px deeper into the neighbour, as a person would.
    corner = max(notch.exterior.coords[:-1], key=lambda c: geo.from_db(
        db.scalar(select(Grid.geom).where(Grid.code == first))).distance(Point(c)))
    page.evaluate("c => window.gridsysMap.map.setView(L.latLng(c[1], c[0]), 18, {animate: false})", list(corner))
    page.wait_for_timeout(300)   # the vertex markers are placed for the new view (a loaded machine is slow)
    spot = page.evaluate(VERTEX_AT, [corner[1], corner[0]])
    assert spot["metres"] < 1
    assert page.evaluate("([x, y]) => document.elementFromPoint(x, y).classList.contains('marker-icon')",
                         [spot["x"], spot["y"]]), "the vertex is what a finger there would grab"
    page.mouse.move(spot["x"], spot["y"])
    page.wait_for_timeout(100)
    page.mouse.down()
    page.wait_for_timeout(100)
    page.mouse.move(spot["x"] + 40, spot["y"] + 40, steps=12)   # a person's drag, not a jump
    page.wait_for_timeout(100)
    page.mouse.up()

    page.wait_for_function("document.getElementById('ed-save').disabled")
    assert page.is_visible("#ed-stale")
    page.fill("#ed-reason", "stale preview")
    assert page.is_disabled("#ed-save")

    _preview(page)  # again, of the shape as it is now
    assert page.is_hidden("#ed-stale")
    shown = page.evaluate(EFFECT_ROW, first)
    assert shown is not None and abs(shown - shown_first) > 1  # the drag changed the area previewed
    page.click("#ed-save")
    page.wait_for_function("document.getElementById('ed-message').className.includes('ok')")

    db.expire_all()
    stored = geo.from_db(db.scalar(select(Grid.geom).where(Grid.code == first)))
    assert geo.areas_m2(db, [stored])[0] == pytest.approx(shown, abs=0.2)
    revision = db.scalar(select(BoundaryRevision).where(BoundaryRevision.zone_code == first,
                                                         BoundaryRevision.reason == "stale preview"))
    assert revision is not None
    assert log.console_errors == [] and log.page_errors == [] and log.external == []


def test_the_api_refuses_a_save_the_page_did_not_preview(open_page, db):
    """Even a page that skips its own check (a stale script, a hand-made request) cannot save an
    unpreviewed shape: the API answers preview_required and writes nothing."""
    first, other, _ = _neighbours(db)
    before = db.scalar(select(Grid.version).where(Grid.code == first))
    page, log = _open_editor(open_page, "laptop", db, first, other, 0.7)
    status = page.evaluate("""code => fetch('/api/v1/grids/' + code + '/redraw', {method: 'POST',
        credentials: 'same-origin', headers: {'Content-Type': 'application/json',
        'X-CSRFToken': document.querySelector('meta[name="csrf-token"]').content},
        body: JSON.stringify({geometry: window.gridsysEditor.selected.toGeoJSON(false).geometry, reason: 'x'})})
      .then(r => r.json().then(b => [r.status, b.error.code]))""", first)
    assert status == [422, "preview_required"]
    db.expire_all()
    assert db.scalar(select(Grid.version).where(Grid.code == first)) == before
    assert log.page_errors == []


# --- the map and the preview on screen together ---------------------------------------------------

ON_SCREEN = """() => { const r = id => document.getElementById(id).getBoundingClientRect();
  const header = document.querySelector('.topbar').getBoundingClientRect().bottom;
  const map = r('map-box'), sheet = r('ed-sheet'), effect = r('ed-effect'), panel = r('editor');
  const inside = (x, y, id) => { const hit = document.elementFromPoint(x, y); return !!hit && !!hit.closest('#' + id); };
  return {w: innerWidth, h: innerHeight, header: header, map: [map.left, map.top, map.right, map.bottom],
          sheet: [sheet.left, sheet.top, sheet.right, sheet.bottom], effect: [effect.left, effect.top, effect.right,
          effect.bottom], panel: [panel.left, panel.top, panel.right, panel.bottom],
          mapSeen: inside((map.left + map.right) / 2, (map.top + map.bottom) / 2, 'map-box'),
          effectSeen: inside(effect.left + 20, effect.top + 20, 'ed-effect')}; }"""


@pytest.mark.parametrize("viewport", ["laptop", "phone"])
def test_the_map_and_the_preview_are_on_screen_together(open_page, db, viewport):
    first, other, _ = _neighbours(db)
    page, log = _open_editor(open_page, viewport, db, first, other, 0.5)
    _preview(page)
    box = page.evaluate(ON_SCREEN)
    left, top, right, bottom = box["map"]
    assert 0 <= left and right <= box["w"] + 0.5, box            # the whole map, across
    assert box["header"] - 0.5 <= top and bottom <= box["h"] + 0.5, box  # and down, under the header
    assert bottom - top >= 200, box
    e_left, e_top, e_right, _ = box["effect"]
    assert 0 <= e_left and e_right <= box["w"] + 0.5, box
    assert box["header"] <= e_top and e_top + 60 <= box["h"], box  # the preview's first lines show
    if viewport == "phone":
        assert bottom <= box["sheet"][1] + 0.5, box  # the sheet does not cover the map
    else:
        assert box["panel"][1] <= e_top and e_top + 60 <= box["panel"][3], box  # inside the panel's view
        assert right <= box["panel"][0], box  # side by side
    assert box["mapSeen"] and box["effectSeen"], box
    page.click("#ed-discard")
    assert page.is_hidden("#ed-sheet")
    assert log.page_errors == []


# --- the history: local time, words instead of tokens ---------------------------------------------

def test_the_history_shows_local_time_and_chinese_words(open_page, db):
    first, _, _ = _neighbours(db)
    page, log = open_page("laptop", "admin")
    page.goto("/lang/zh")
    page.goto("/map")
    page.wait_for_function("document.getElementById('map-box').dataset.ready === '1'")
    page.evaluate(SELECT, first)
    page.click("[data-act=history]")
    page.wait_for_selector("#ed-history ol.timeline li")
    rows = page.locator("#ed-history ol.timeline li")
    latest = db.scalars(select(BoundaryRevision).where(BoundaryRevision.zone_code == first)
                        .order_by(BoundaryRevision.id.desc())).first()
    local = latest.changed_at.astimezone(ZoneInfo(create_app().config["TIMEZONE"])).strftime("%Y-%m-%d %H:%M")
    assert rows.first.locator("time").inner_text() == local
    text = page.inner_text("#ed-history")
    assert not re.search(r"\b(create|update|reshape|import|batch|delete|move|restore)\b", text), text
    assert "导入" in text  # the test town came in by an import
    assert page.inner_text("#ed-cancel") == "放弃修改"
    assert log.page_errors == []
