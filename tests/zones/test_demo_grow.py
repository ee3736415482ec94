"""Every grid of the demo town grown by 50 m (kept inside its area) previews without a crash
(issue 12: a grow whose overlap with a neighbour was only a shared edge ended in 500,
"'LineString' object has no attribute 'geoms'" in _drop_slivers)."""
from __future__ import annotations

import json
from pathlib import Path

from shapely.geometry import LineString, Point, mapping, shape

from gridsys import boundaries
from gridsys.errors import GridsysError
from gridsys.zones import redraw
from gridsys.zones.transfer import import_zones

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo_town.geojson"
FIFTY_METRES = 50 / 111_000   # degrees, near enough at this latitude


def test_growing_any_demo_grid_previews_or_is_refused_never_crashes(session):
    data = json.loads(DEMO.read_text(encoding="utf-8"))
    import_zones(session, data, actor="test")
    session.commit()
    areas = {f["properties"]["code"]: shape(f["geometry"]) for f in data["features"]
             if len(f["properties"]["code"]) == 12}
    previewed, refused = [], []
    for f in data["features"]:
        code = f["properties"]["code"]
        if len(code) != 15:
            continue
        grown = shape(f["geometry"]).buffer(FIFTY_METRES, join_style=2).intersection(areas[code[:12]])
        if grown.geom_type != "Polygon":
            continue
        try:
            with session.begin_nested():
                boundaries.preview(session, redraw.plan_reshape(session, "grid", code, mapping(grown)))
            previewed.append(code)
        except GridsysError as exc:   # a stable refusal is an answer; anything else is the bug
            refused.append((code, exc.code))
    assert len(previewed) >= 25, (previewed, refused)
    assert {c for _, c in refused} <= {"sibling_overlap", "neighbour_split", "neighbour_swallowed"}


def test_an_overlap_that_is_only_an_edge_or_a_point_is_no_overlap(session):
    for touching in (LineString([(0, 0), (1, 0)]), Point(0, 0)):
        assert redraw._drop_slivers(session, redraw._polygonal(touching, "grid")).is_empty
