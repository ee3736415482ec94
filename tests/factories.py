"""Build what a test asserts on: zones from boxes, in a test town far from the demo town."""
from __future__ import annotations

from shapely.geometry import MultiPolygon, box

from gridsys.zones import services

TOWN = "500106901"
ORIGIN = (106.0, 29.0)  # lon, lat of the test town's south-west corner
STEP = 0.01  # degrees per unit of the small integer boxes used below (about 1 km)


def cell(x0, y0, x1, y1):
    """A box in 'units' from the test origin, in lon/lat."""
    return box(ORIGIN[0] + x0 * STEP, ORIGIN[1] + y0 * STEP, ORIGIN[0] + x1 * STEP, ORIGIN[1] + y1 * STEP)


def make_town(session, code=TOWN, geom=None, name="测试镇"):
    geom = geom if geom is not None else cell(0, 0, 10, 10)
    if geom.geom_type == "Polygon":
        geom = MultiPolygon([geom])
    return services.save_zone(session, "town", code, name, geom, actor="test")


def make_area(session, town, seq=1, geom=None, name=None):
    geom = geom if geom is not None else cell(0, 0, 5, 10)
    if geom.geom_type == "Polygon":
        geom = MultiPolygon([geom])
    code = f"{town.code}{seq:03d}"
    return services.save_zone(session, "area", code, name or f"测试片区{seq}", geom, actor="test")


def make_grid(session, area, seq=1, geom=None, name=None):
    geom = geom if geom is not None else cell(0, 0, 5, 5)
    code = f"{area.code}{seq:03d}"
    return services.save_zone(session, "grid", code, name or f"测试网格{seq}", geom, actor="test")
