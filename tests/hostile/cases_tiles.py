"""Hostile tile coordinates and map filters: the vector tiles (/tiles/incidents, /tiles/grids) and
the map's GeoJSON by bbox (grids, gaps). Each refused with its stable code, nothing changed."""
from __future__ import annotations

from tests.hostile.values import query

BAD_TILES = (("zoom-negative", "-1/0/0", "tile_zoom_invalid"), ("zoom-23", "23/0/0", "tile_zoom_invalid"),
             ("zoom-fraction", "1.5/0/0", "tile_zoom_invalid"), ("zoom-word", "z/0/0", "tile_zoom_invalid"),
             ("zoom-huge", "99999999999/0/0", "tile_zoom_invalid"), ("zoom-space", "%203/0/0", "tile_zoom_invalid"),
             ("x-beyond", "3/8/0", "tile_out_of_range"), ("y-beyond", "3/0/8", "tile_out_of_range"),
             ("x-negative", "3/-1/0", "tile_out_of_range"), ("x-fraction", "3/1.0/0", "tile_out_of_range"),
             ("x-hex", "3/0x1/0", "tile_out_of_range"), ("x-arabic-digit", "3/%D9%A3/0", "tile_out_of_range"),
             ("y-sql", "3/0/0%27%20OR%20%271%27%3D%271", "tile_out_of_range"),
             ("zoom-0-x-1", "0/1/0", "tile_out_of_range"), ("zoom-22-x-past", "22/4194304/0", "tile_out_of_range"))

BAD_FILTERS = (("status", "status=gone", "status_unknown"), ("duty", "duty=chef", "duty_unknown"),
               ("overdue", "overdue=maybe", "overdue_invalid"), ("escalated", "escalated=2", "escalated_invalid"),
               ("since", "since=yesterday", "since_invalid"), ("status-nul", "status=open%00", "nul_byte"),
               ("page", "page=0", "page_invalid"))

BAD_BBOXES = (("three-numbers", "1,2,3", "bbox_invalid", 400), ("words", "a,b,c,d", "bbox_invalid", 400),
              ("min-over-max", "3,3,1,1", "bbox_invalid", 400), ("lon-200", "200,0,201,1", "coordinates_out_of_range", 422),
              ("nan", "nan,0,1,1", "coordinates_invalid", 422), ("inf", "0,0,inf,1", "coordinates_invalid", 422),
              ("nul", "0,0,1,1%00", ("nul_byte", "bbox_invalid"), 400))

TILES = [
    *[query(f"tiles-{layer}-{name}", f"/tiles/{layer}/{zxy}.mvt", code=code)
      for layer in ("incidents", "grids") for name, zxy, code in BAD_TILES],
    *[query(f"tiles-incidents-filter-{name}", f"/tiles/incidents/12/3305/1720.mvt?{qs}", code=code)
      for name, qs, code in BAD_FILTERS],
    query("tiles-incidents-anonymous", "/tiles/incidents/0/0/0.mvt", who="none", status=401, code="login_required"),
    query("tiles-grids-anonymous", "/tiles/grids/0/0/0.mvt", who="none", status=401, code="login_required"),
    *[query(f"map-grids-bbox-{name}", f"/api/v1/map/grids.geojson?bbox={bbox}", status=status, code=code)
      for name, bbox, code, status in BAD_BBOXES],
    *[query(f"map-gaps-bbox-{name}", f"/api/v1/map/gaps.geojson?bbox={bbox}", who="token:admin", status=status,
            code=code) for name, bbox, code, status in BAD_BBOXES],
]
