"""The one place for SRIDs, GeoJSON <-> geometry, validity checks and metre maths.

Storage is EPSG:4326 (what phones report). Metre figures go through PostGIS
``geography`` (see ``area_m2`` and ``buffer_m``), never through degrees. Positions given in
GCJ-02 (Gaode/Tencent maps, some in-app location APIs) are converted to WGS 84 on the way in.
"""
from __future__ import annotations

import math

import shapely
from geoalchemy2 import Geography
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import MultiPolygon, Point, Polygon, mapping, shape
from shapely.geometry.polygon import orient
from shapely.validation import explain_validity
from sqlalchemy import cast, func

from .errors import GridsysError

STORAGE_SRID = 4326

# A child may spill this far outside its parent (metres): digitising noise, not a real spill.
SNAP_TOLERANCE_M = 1.0
# Siblings may share this much area (m²) before it counts as an overlap.
OVERLAP_TOLERANCE_M2 = 1.0
# ST_MakeValid-style repair is kept only when the area changes by at most this fraction.
REPAIR_AREA_TOLERANCE = 1e-6

POLYGONAL = ("Polygon", "MultiPolygon")


class GeometryError(GridsysError):
    """A geometry was refused; ``location`` is [lon, lat] of the fault when known."""


# --- conversions -----------------------------------------------------------

def to_db(geom):
    """shapely -> a value for a Geometry column (SRID set)."""
    return from_shape(geom, srid=STORAGE_SRID)


def from_db(value):
    return to_shape(value) if value is not None else None


def point(lon: float, lat: float) -> Point:
    check_lon_lat(lon, lat)
    return Point(float(lon), float(lat))


def point_sql(lon: float, lat: float):
    return func.ST_SetSRID(func.ST_MakePoint(lon, lat), STORAGE_SRID)


# --- GCJ-02 ("Mars coordinates") ------------------------------------------------
# Written here rather than taken from PyPI: the packages that do this (eviltransform, prcoords,
# coord-convert, …) are a few dozen lines each, unmaintained for years or pulling in GDAL, and
# most invert by a single step (1–2 m off); this is the published formula plus an iterated inverse.

COORDINATE_SYSTEMS = ("wgs84", "gcj02")
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323


def _outside_china(lon: float, lat: float) -> bool:
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _gcj_offset(lon: float, lat: float) -> tuple[float, float]:
    x, y = lon - 105.0, lat - 35.0
    common = (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x)) + common
            + (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
            + (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x)) + common
            + (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
            + (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0)
    rad = math.radians(lat)
    magic = 1 - _KRASOVSKY_EE * math.sin(rad) ** 2
    dlat = dlat * 180.0 / (_KRASOVSKY_A * (1 - _KRASOVSKY_EE) / (magic * math.sqrt(magic)) * math.pi)
    dlon = dlon * 180.0 / (_KRASOVSKY_A / math.sqrt(magic) * math.cos(rad) * math.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """WGS 84 -> GCJ-02 (the standard transform); positions outside China are unchanged."""
    if _outside_china(lon, lat):
        return lon, lat
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 -> WGS 84 by fixed-point iteration of the forward transform (a round trip agrees to
    well under a millimetre; one step, as many libraries do, leaves 1–2 m)."""
    if _outside_china(lon, lat):
        return lon, lat
    wlon, wlat = lon, lat
    for _ in range(30):
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        if abs(glon - lon) < 1e-10 and abs(glat - lat) < 1e-10:  # ~0.01 mm
            break
        wlon, wlat = wlon + (lon - glon), wlat + (lat - glat)
    return wlon, wlat


def parse_coords(value) -> str:
    """The coordinate system a client sends positions in: wgs84 (default) or gcj02."""
    if value is None or value == "":
        return "wgs84"
    if isinstance(value, str) and value in COORDINATE_SYSTEMS:
        return value
    raise GeometryError("coords_unknown", "coords is wgs84 (GPS, the default) or gcj02 (Gaode/Tencent maps)",
                        status=400)


def to_storage_lonlat(lon: float, lat: float, coords: str) -> tuple[float, float]:
    """A checked position in ``coords`` as stored (WGS 84)."""
    check_lon_lat(lon, lat)
    return gcj02_to_wgs84(float(lon), float(lat)) if coords == "gcj02" else (float(lon), float(lat))


def to_geojson(geom) -> dict:
    """RFC 7946 geometry: exterior rings counter-clockwise, holes clockwise."""
    if isinstance(geom, Polygon):
        geom = orient(geom, 1.0)
    elif isinstance(geom, MultiPolygon):
        geom = MultiPolygon([orient(p, 1.0) for p in geom.geoms])
    return mapping(geom)


# --- metre maths (geography) ------------------------------------------------

def area_m2(geom_expr):
    """SQL expression: the area of a 4326 geometry in square metres."""
    return func.ST_Area(cast(geom_expr, Geography))


def buffer_m(geom_expr, metres: float):
    """SQL expression: ``geom_expr`` grown by ``metres`` (geography buffer, back to geometry)."""
    return func.ST_SetSRID(func.geometry(func.ST_Buffer(cast(geom_expr, Geography), metres)),
                           STORAGE_SRID)


# --- validation --------------------------------------------------------------

def check_lon_lat(lon, lat, where: str = "") -> None:
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError, OverflowError):
        raise GeometryError("coordinates_invalid", f"{where}coordinates must be numbers, got {lon!r}, {lat!r}")
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise GeometryError("coordinates_invalid", f"{where}coordinates must be finite numbers")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise GeometryError("coordinates_out_of_range",
                            f"{where}longitude must be within ±180 and latitude within ±90 "
                            f"(got {lon}, {lat}); coordinates are WGS 84 longitude, latitude",
                            location=[lon, lat])


def _check_positions(coords, depth: int, where: str) -> None:
    """Walk raw GeoJSON coordinates: 2-D positions in range, closed rings of 4+ positions."""
    if not isinstance(coords, (list, tuple)):
        raise GeometryError("geometry_malformed", f"{where}coordinates must be arrays")
    if depth == 0:
        if len(coords) != 2:
            code = "geometry_not_2d" if len(coords) > 2 else "geometry_malformed"
            raise GeometryError(code, f"{where}positions must be [longitude, latitude]; "
                                      f"got {len(coords)} values (3-D and measured coordinates are refused)")
        check_lon_lat(coords[0], coords[1], where)
        if not all(type(c) in (int, float) for c in coords):  # JSON numbers only: no "106", no true
            raise GeometryError("coordinates_invalid", f"{where}coordinates must be numbers")
        return
    if depth == 1:  # a ring
        for pos in coords:
            _check_positions(pos, 0, where)
        if len(coords) < 4:
            raise GeometryError("ring_too_short", f"{where}a ring needs at least 4 positions "
                                                  f"(3 corners and the closing one); got {len(coords)}")
        if coords[0] != coords[-1]:
            raise GeometryError("ring_not_closed", f"{where}a ring's last position must repeat its first",
                                location=coords[0][:2])
        return
    for part in coords:
        _check_positions(part, depth - 1, where)


DEPTH = {"Point": 0, "Polygon": 2, "MultiPolygon": 3}
# Positions one shape may have: a town's outline from a survey has a few thousand; a 300 000-vertex
# preview held a worker for 13 s.
MAX_POSITIONS = 25_000
WGS84_CRS_NAMES = {"urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:OGC::CRS84", "urn:ogc:def:crs:EPSG::4326",
                   "EPSG:4326", "CRS84"}


def _positions(coords, depth: int) -> int:
    """How many positions nested coordinate arrays hold (not checked yet; counted iteratively)."""
    count, stack = 0, [(coords, depth)]
    while stack:
        item, d = stack.pop()
        if not isinstance(item, (list, tuple)):
            continue
        if d == 1:
            count += len(item)
        else:
            stack.extend((inner, d - 1) for inner in item)
    return count


def check_crs(obj, where: str = "") -> None:
    """GeoJSON is WGS 84 longitude, latitude (RFC 7946 dropped "crs"); a file that names another
    system is refused instead of being read as degrees."""
    crs = obj.get("crs") if isinstance(obj, dict) else None
    if crs is None:
        return
    name = crs.get("properties", {}).get("name") if isinstance(crs, dict) and \
        isinstance(crs.get("properties"), dict) else None
    if name not in WGS84_CRS_NAMES:
        raise GeometryError("crs_unsupported", f"{where}coordinates must be WGS 84 longitude, latitude; this "
                                               f"names another system ({str(name)[:80]!r}): reproject it first")


def parse_geometry(obj, expected: str, where: str = ""):
    """GeoJSON geometry -> valid 2-D shapely geometry of ``expected`` type, or GeometryError.

    ``expected`` is "Point", "Polygon" or "MultiPolygon" (a Polygon is accepted and wrapped).
    A self-intersecting polygon is repaired only when the repair keeps its type and area.
    """
    if not isinstance(obj, dict) or "type" not in obj:
        raise GeometryError("geometry_malformed", f"{where}a GeoJSON geometry object is required")
    gtype = obj.get("type")
    allowed = ("Polygon", "MultiPolygon") if expected == "MultiPolygon" else (expected,)
    if gtype not in allowed:
        raise GeometryError("geometry_wrong_type", f"{where}expected a {' or '.join(allowed)}, got {gtype}")
    check_crs(obj, where)
    coords = obj.get("coordinates")
    if coords is None or coords == []:
        raise GeometryError("geometry_empty", f"{where}the geometry has no coordinates")
    if gtype != "Point" and _positions(coords, DEPTH[gtype]) > MAX_POSITIONS:
        raise GeometryError("geometry_too_complex", f"{where}a shape has at most {MAX_POSITIONS} positions: "
                                                    "simplify it first", max_positions=MAX_POSITIONS)
    _check_positions(coords, DEPTH[gtype], where)
    try:
        geom = shape(obj)
    except Exception as exc:  # shapely raises several types for malformed input
        raise GeometryError("geometry_malformed", f"{where}unreadable geometry: {exc}")
    if geom.is_empty:
        raise GeometryError("geometry_empty", f"{where}the geometry is empty")
    if gtype != "Point":
        geom = ensure_valid(geom, expected, where)
    if expected == "MultiPolygon" and isinstance(geom, Polygon):
        geom = MultiPolygon([geom])
    return geom


def ensure_valid(geom, expected: str, where: str = ""):
    """Return ``geom`` if valid; a repaired copy if the repair keeps type and area; else refuse."""
    if geom.is_valid:
        return geom
    reason = explain_validity(geom)
    location = _reason_location(reason)
    repaired = shapely.make_valid(geom, method="structure")
    polygonal = _polygonal_part(repaired)
    same_type = polygonal is not None and (
        polygonal.geom_type == expected or (expected == "MultiPolygon" and polygonal.geom_type in POLYGONAL))
    area_kept = polygonal is not None and geom.area > 0 and \
        abs(polygonal.area - geom.area) <= REPAIR_AREA_TOLERANCE * geom.area
    if same_type and area_kept and polygonal.is_valid:
        return polygonal
    raise GeometryError("geometry_invalid",
                        f"{where}invalid {geom.geom_type}: {reason.split('[')[0].strip()}"
                        + (f" at {location[0]:.7f}, {location[1]:.7f}" if location else "")
                        + "; it cannot be repaired without changing its shape — fix it and try again",
                        location=location)


def _polygonal_part(geom):
    if geom.geom_type in POLYGONAL:
        return geom
    if geom.geom_type == "GeometryCollection":
        parts = [g for g in geom.geoms if g.geom_type in POLYGONAL]
        if len(parts) == 1:
            return parts[0]
        polys = [p for g in parts for p in getattr(g, "geoms", [g])]
        return MultiPolygon(polys) if polys else None
    return None


def _reason_location(reason: str):
    if "[" in reason and reason.endswith("]"):
        try:
            x, y = reason[reason.index("[") + 1:-1].split()
            return [float(x), float(y)]
        except ValueError:
            return None
    return None


def snap_tolerance_degrees(lat: float, metres: float = SNAP_TOLERANCE_M) -> float:
    """``metres`` as degrees of longitude at ``lat`` (the larger of the two degree lengths there),
    for snapping vertices in shapely; only ever used as a tolerance, never as a measurement."""
    return metres / (111_320.0 * max(math.cos(math.radians(lat)), 0.01))


def areas_m2(session, geoms) -> list[float]:
    """Areas in m² of shapely geometries (EPSG:4326), measured by PostGIS geography in one query."""
    from sqlalchemy import text
    if not geoms:
        return []
    rows = session.execute(text(
        "SELECT ST_Area(ST_SetSRID(ST_GeomFromWKB(w), :srid)::geography) FROM unnest(CAST(:wkbs AS bytea[])) "
        "WITH ORDINALITY AS t(w, n) ORDER BY n"), {"srid": STORAGE_SRID, "wkbs": [shapely.to_wkb(g) for g in geoms]})
    return [float(r[0]) for r in rows]


def wkb_param(geom):
    """SQL expression for a shapely geometry passed as a (hex WKB) parameter, full precision."""
    return func.ST_SetSRID(func.ST_GeomFromWKB(func.decode(shapely.to_wkb(geom, hex=True), "hex")), STORAGE_SRID)
