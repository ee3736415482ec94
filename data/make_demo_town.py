#!/usr/bin/env python3
"""Generate data/demo_town.geojson: a synthetic town -> area -> grid hierarchy.

The demo town is Zengjia town (曾家镇), Shapingba district, Chongqing, centred
near 106.33 E, 29.62 N and roughly 8 km x 6 km.  The boundaries are invented
(they only *look* hand-drawn); they are not the real administrative borders.

How exact tiling is achieved (by construction, not by clipping):
  * a 7 x 5 lattice of cells is laid over the town; every lattice vertex gets a
    deterministic pseudo-random jitter and is rounded to 7 decimals;
  * every cell edge gets jittered intermediate point(s), also rounded, that are
    stored once per edge and therefore shared verbatim by both neighbouring
    cells (interior edges: 1 mid-point; outer edges: 3 points);
  * a grid is one cell polygon; an area is the union of a contiguous block of
    cells; the town is the union of all cells.  Because neighbouring cells use
    bit-identical vertices, the unions are exact.

Usage:  python data/make_demo_town.py [output.geojson]
Requires: Python >= 3.11, shapely >= 2.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import sys
from pathlib import Path

import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping
from shapely.geometry.polygon import orient
from shapely.ops import unary_union

SEED = 20240611
NDIGITS = 7

TOWN = {"code": "500106110", "name": "曾家镇", "name_en": "Zengjia Town"}

# Lattice: 7 columns x 5 rows.  Centre 106.33 E / 29.62 N.
# At 29.62 N: 1 deg lon ~ 96.8 km, 1 deg lat ~ 110.9 km.
NCOLS, NROWS = 7, 5
CENTER_LON, CENTER_LAT = 106.33, 29.62
WIDTH_DEG = 8.0 / 96.8  # ~8 km east-west
HEIGHT_DEG = 6.0 / 110.9  # ~6 km north-south
DX = WIDTH_DEG / NCOLS
DY = HEIGHT_DEG / NROWS
X0 = CENTER_LON - WIDTH_DEG / 2
Y0 = CENTER_LAT - HEIGHT_DEG / 2

# Cell -> area assignment, written north (top) to south (bottom);
# "." = no cell (dropped corner, gives the irregular outline).
LAYOUT = [
    ". B B B C C .",
    "B B A A C C C",
    "D D A A A C C",
    "D D A A A A E",
    ". D D E E E E",
]

# Area key -> (3-digit suffix, Chinese stem, English stem)
AREAS = {
    "A": ("001", "场镇", "Changzhen"),
    "B": ("002", "白鹤", "Baihe"),
    "C": ("003", "虎峰", "Hufeng"),
    "D": ("004", "石门", "Shimen"),
    "E": ("005", "龙泉", "Longquan"),
}

VERTEX_JITTER = 0.20  # fraction of cell size
MID_ALONG_JITTER = 0.10  # fraction of edge length, along the edge
MID_PERP_JITTER = 0.10  # fraction of edge length, perpendicular to the edge


def rnd(v: float) -> float:
    return round(v, NDIGITS)


def rpt(x: float, y: float) -> tuple[float, float]:
    return (rnd(x), rnd(y))


def parse_layout() -> dict[tuple[int, int], str]:
    """Return {(col, row): area_key}; row 0 is the southernmost row."""
    cells: dict[tuple[int, int], str] = {}
    assert len(LAYOUT) == NROWS
    for top_index, line in enumerate(LAYOUT):
        tokens = line.split()
        assert len(tokens) == NCOLS, line
        row = NROWS - 1 - top_index
        for col, tok in enumerate(tokens):
            if tok != ".":
                assert tok in AREAS, tok
                cells[(col, row)] = tok
    return cells


def build_lattice(rng: random.Random) -> dict[tuple[int, int], tuple[float, float]]:
    verts = {}
    for j in range(NROWS + 1):
        for i in range(NCOLS + 1):
            x = X0 + i * DX + rng.uniform(-VERTEX_JITTER, VERTEX_JITTER) * DX
            y = Y0 + j * DY + rng.uniform(-VERTEX_JITTER, VERTEX_JITTER) * DY
            verts[(i, j)] = rpt(x, y)
    return verts


def edge_key(a: tuple[int, int], b: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    return (a, b) if a <= b else (b, a)


def cell_corners(col: int, row: int) -> list[tuple[int, int]]:
    """Lattice indices of a cell's corners in counter-clockwise order (SW, SE, NE, NW)."""
    return [(col, row), (col + 1, row), (col + 1, row + 1), (col, row + 1)]


def build_edge_points(cells, verts, rng: random.Random):
    """Jittered intermediate points per lattice edge, ordered from key[0] to key[1]."""
    usage: dict = {}
    for (col, row) in sorted(cells):
        c = cell_corners(col, row)
        for k in range(4):
            key = edge_key(c[k], c[(k + 1) % 4])
            usage[key] = usage.get(key, 0) + 1
    points = {}
    for key in sorted(usage):
        (ax, ay), (bx, by) = verts[key[0]], verts[key[1]]
        ex, ey = bx - ax, by - ay
        length = math.hypot(ex, ey)
        nx, ny = -ey / length, ex / length
        ts = (0.5,) if usage[key] == 2 else (0.25, 0.5, 0.75)  # outer edges: more wiggle
        pts = []
        for t in ts:
            t2 = t + rng.uniform(-MID_ALONG_JITTER, MID_ALONG_JITTER) / len(ts)
            off = rng.uniform(-MID_PERP_JITTER, MID_PERP_JITTER) * length / len(ts) ** 0.5
            pts.append(rpt(ax + ex * t2 + nx * off, ay + ey * t2 + ny * off))
        points[key] = pts
    return points


def cell_polygon(col, row, verts, edge_pts) -> Polygon:
    c = cell_corners(col, row)
    ring = []
    for k in range(4):
        a, b = c[k], c[(k + 1) % 4]
        ring.append(verts[a])
        mids = edge_pts[edge_key(a, b)]
        ring.extend(mids if a <= b else list(reversed(mids)))
    return orient(Polygon(ring), 1.0)


def as_multipolygon(geom) -> MultiPolygon:
    assert geom.geom_type == "Polygon", f"expected one Polygon, got {geom.geom_type}"
    assert len(geom.interiors) == 0, "unexpected hole"
    return MultiPolygon([orient(geom, 1.0)])


def feature(level: str, code: str, name: str, name_en: str, geom) -> dict:
    return {
        "type": "Feature",
        "properties": {"level": level, "code": code, "name": name, "name_en": name_en},
        "geometry": mapping(geom),
    }


def build_features() -> list[dict]:
    rng = random.Random(SEED)
    cells = parse_layout()
    verts = build_lattice(rng)
    edge_pts = build_edge_points(cells, verts, rng)

    grid_feats, area_feats = [], []
    all_cells = []
    for key, (suffix, zh, en) in AREAS.items():
        # number grids north -> south, west -> east
        own = sorted((c for c, k in cells.items() if k == key), key=lambda c: (-c[1], c[0]))
        area_code = TOWN["code"] + suffix
        polys = []
        for n, (col, row) in enumerate(own, start=1):
            poly = cell_polygon(col, row, verts, edge_pts)
            polys.append(poly)
            grid_feats.append(
                feature("grid", f"{area_code}{n:03d}", f"{zh}第{n}网格", f"{en} Grid {n}", poly)
            )
        all_cells.extend(polys)
        area_feats.append(
            feature("area", area_code, f"{zh}片区", f"{en} Area", as_multipolygon(unary_union(polys)))
        )
    town_feat = feature(
        "town", TOWN["code"], TOWN["name"], TOWN["name_en"], as_multipolygon(unary_union(all_cells))
    )
    return [town_feat, *area_feats, *grid_feats]


def to_jsonable(obj):
    """shapely.mapping gives tuples; convert to lists for stable JSON."""
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items()}
    return obj


def write_geojson(features: list[dict], path: Path) -> None:
    lines = [
        json.dumps(to_jsonable(f), ensure_ascii=False, separators=(",", ":")) for f in features
    ]
    text = '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"
    path.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- checks


def ring_ok(ring) -> None:
    assert len(ring) >= 4, "ring too short"
    assert ring[0] == ring[-1], "ring not closed"
    assert len(set(map(tuple, ring[:-1]))) == len(ring) - 1, "repeated vertex in ring"
    for x, y in ring:
        assert x == round(x, NDIGITS) and y == round(y, NDIGITS), "unrounded coordinate"


def self_check(path: Path) -> None:
    """Re-read the written file and verify the hierarchy."""
    fc = json.loads(path.read_text(encoding="utf-8"))
    assert fc["type"] == "FeatureCollection"
    feats = fc["features"]
    for f in feats:
        assert set(f["properties"]) == {"level", "code", "name", "name_en"}
        geom = f["geometry"]
        polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
        for poly in polys:
            for ring in poly:
                ring_ok(ring)

    geoms = {f["properties"]["code"]: shapely.geometry.shape(f["geometry"]) for f in feats}
    by_level = {lvl: [f for f in feats if f["properties"]["level"] == lvl] for lvl in ("town", "area", "grid")}
    assert len(feats) == sum(len(v) for v in by_level.values())
    assert len(by_level["town"]) == 1
    assert len(by_level["area"]) >= 4
    assert len(by_level["grid"]) >= 24
    assert len(geoms) == len(feats), "duplicate codes"

    town = by_level["town"][0]
    assert town["geometry"]["type"] == "MultiPolygon"
    town_code = town["properties"]["code"]
    assert len(town_code) == 9 and town_code.isdigit()

    for code, g in geoms.items():
        assert g.is_valid, f"{code}: {shapely.is_valid_reason(g)}"
        for p in getattr(g, "geoms", [g]):
            assert p.exterior.is_ccw, f"{code}: exterior ring not counter-clockwise"
            assert all(not r.is_ccw for r in p.interiors), f"{code}: hole not clockwise"

    counts = []
    for a in by_level["area"]:
        acode = a["properties"]["code"]
        assert a["geometry"]["type"] == "MultiPolygon"
        assert len(acode) == 12 and acode.startswith(town_code) and acode.isdigit()
        grids = [f for f in by_level["grid"] if f["properties"]["code"].startswith(acode)]
        counts.append(len(grids))
        gg = [geoms[f["properties"]["code"]] for f in grids]
        for f in grids:
            assert f["geometry"]["type"] == "Polygon"
            assert len(f["properties"]["code"]) == 15
        area_geom = geoms[acode]
        total = sum(g.area for g in gg)
        assert abs(total - area_geom.area) <= 1e-9 * area_geom.area, (acode, total, area_geom.area)
        assert unary_union(gg).symmetric_difference(area_geom).area <= 1e-12 * area_geom.area
    assert sum(counts) == len(by_level["grid"]), "grid not under any area"
    assert len(set(counts)) > 1, "grid counts per area should vary"

    # areas tile the town
    town_geom = geoms[town_code]
    area_geoms = [geoms[a["properties"]["code"]] for a in by_level["area"]]
    assert abs(sum(g.area for g in area_geoms) - town_geom.area) <= 1e-9 * town_geom.area
    assert unary_union(area_geoms).symmetric_difference(town_geom).area <= 1e-12 * town_geom.area

    # no overlaps (pairwise)
    for group in (area_geoms, [geoms[f["properties"]["code"]] for f in by_level["grid"]]):
        for g1, g2 in itertools.combinations(group, 2):
            assert g1.intersection(g2).area == 0.0, "overlap"

    minx, miny, maxx, maxy = town_geom.bounds
    km_x = (maxx - minx) * 111.32 * math.cos(math.radians(CENTER_LAT))
    km_y = (maxy - miny) * 110.9
    assert 6.5 < km_x < 9.5 and 4.5 < km_y < 7.5, (km_x, km_y)

    print(f"wrote {path} ({path.stat().st_size} bytes)")
    print(f"  areas: {len(area_geoms)}, grids: {len(by_level['grid'])}, grids per area: {counts}")
    print(f"  bbox: [{minx}, {miny}, {maxx}, {maxy}] (~{km_x:.1f} km x {km_y:.1f} km)")
    print("  self-checks passed")


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "demo_town.geojson"
    write_geojson(build_features(), out)
    self_check(out)


if __name__ == "__main__":
    main()
