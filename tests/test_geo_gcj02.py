"""GCJ-02 ("Mars coordinates") <-> WGS 84 in gridsys.geo: the standard forward transform, an
inverse that round-trips within centimetres, and positions outside China left alone."""
import pytest
from geoalchemy2 import Geography
from sqlalchemy import cast, func, select

from gridsys import geo
from gridsys.errors import GridsysError

# Places across China (lon, lat): Chongqing, Beijing, Shanghai, Urumqi, Harbin, Sanya, Lhasa, Kashgar.
CHINA = [(106.5516, 29.5630), (116.3975, 39.9087), (121.4737, 31.2304), (87.6168, 43.8256),
         (126.5350, 45.8038), (109.5119, 18.2528), (91.1409, 29.6456), (75.9898, 39.4677)]


def metres_between(session, a, b) -> float:
    """Distance on the ellipsoid, measured by PostGIS geography."""
    return session.scalar(select(func.ST_Distance(cast(geo.point_sql(*a), Geography),
                                                  cast(geo.point_sql(*b), Geography))))


@pytest.mark.parametrize("wgs", CHINA)
def test_round_trip_in_china_is_within_a_centimetre(session, wgs):
    gcj = geo.wgs84_to_gcj02(*wgs)
    shift = metres_between(session, wgs, gcj)
    assert 50 < shift < 1000, "GCJ-02 moves points in China by some hundreds of metres"
    assert metres_between(session, wgs, geo.gcj02_to_wgs84(*gcj)) < 0.01
    # and the other way: a GCJ-02 position read off a Gaode map comes back to itself
    assert metres_between(session, wgs, geo.wgs84_to_gcj02(*geo.gcj02_to_wgs84(*wgs))) < 0.01


def test_known_reference_pair():
    """The example of Gaode's (AutoNavi) coordinate conversion service: WGS 84 116.481499, 39.990475
    is GCJ-02 116.487586, 39.991754 (six decimals)."""
    lon, lat = geo.wgs84_to_gcj02(116.481499, 39.990475)
    assert (round(lon, 6), round(lat, 6)) == (116.487586, 39.991754)
    back = geo.gcj02_to_wgs84(116.487586, 39.991754)
    assert abs(back[0] - 116.481499) < 2e-6 and abs(back[1] - 39.990475) < 2e-6


@pytest.mark.parametrize("lonlat", [(2.3522, 48.8566), (-74.006, 40.7128), (139.6917, 35.6895), (151.2, -33.87),
                                    (70.0, 30.0), (120.0, 60.0), (0.0, 0.0)])
def test_outside_china_is_unchanged(lonlat):
    assert geo.wgs84_to_gcj02(*lonlat) == lonlat
    assert geo.gcj02_to_wgs84(*lonlat) == lonlat


@pytest.mark.parametrize("value,expected", [(None, "wgs84"), ("", "wgs84"), ("wgs84", "wgs84"), ("gcj02", "gcj02")])
def test_coordinate_systems_known(value, expected):
    assert geo.parse_coords(value) == expected


@pytest.mark.parametrize("value", ["GCJ-02", "bd09", "WGS84 ", True, 1, ["gcj02"], "x" * 10_000])
def test_other_coordinate_systems_are_refused(value):
    with pytest.raises(GridsysError) as refused:
        geo.parse_coords(value)
    assert (refused.value.code, refused.value.status) == ("coords_unknown", 400)
    assert "gcj02" in refused.value.message


def test_storage_position_converts_only_gcj02():
    gcj = geo.wgs84_to_gcj02(*CHINA[0])
    assert geo.to_storage_lonlat(*gcj, "wgs84") == gcj
    wgs = geo.to_storage_lonlat(*gcj, "gcj02")
    assert abs(wgs[0] - CHINA[0][0]) < 1e-8 and abs(wgs[1] - CHINA[0][1]) < 1e-8
    with pytest.raises(GridsysError) as refused:
        geo.to_storage_lonlat(181, 29, "gcj02")
    assert refused.value.code == "coordinates_out_of_range"
