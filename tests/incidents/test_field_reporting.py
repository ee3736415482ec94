"""Reports from a phone's offline queue: when the incident was observed (observed_at, the phone's
clock) beside when it arrived, and positions sent in GCJ-02 (converted, stored as WGS 84)."""
import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from geoalchemy2 import Geography
from sqlalchemy import cast, func, select

from gridsys import geo
from gridsys.errors import GridsysError
from gridsys.incidents import services
from gridsys.incidents.models import Incident, IncidentCounter, IncidentEvent
from tests.factories import ORIGIN, STEP
from tests.incidents.helpers import bearer, count_incidents, error_code, events_of, login, lonlat, new_report

URL = "/api/v1/incidents"


def body(spot="g11", **overrides):
    lon, lat = lonlat(spot)
    return {"client_uuid": str(uuid.uuid4()), "lon": lon, "lat": lat, "category": "0201",
            "description": "路口井盖缺失", **overrides}


def iso(moment: datetime, offset_hours=8) -> str:
    return moment.astimezone(timezone(timedelta(hours=offset_hours))).isoformat(timespec="seconds")


@pytest.fixture
def reporter(session, world):
    return bearer(session, world.general1)


def nothing_written(session):
    return (count_incidents(session), session.scalar(select(func.count()).select_from(IncidentEvent)),
            session.scalar(select(func.count()).select_from(IncidentCounter))) == (0, 0, 0)


def metres(session, a, b) -> float:
    return session.scalar(select(func.ST_Distance(cast(geo.point_sql(*a), Geography),
                                                  cast(geo.point_sql(*b), Geography))))


# --- observed_at -------------------------------------------------------------------------------------

def test_observed_at_from_the_phone_is_stored_and_returned(client, session, world, reporter):
    observed = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=5)
    response = client.post(URL, json=body(observed_at=iso(observed)), headers=reporter)
    assert response.status_code == 201, response.get_json()
    got = response.get_json()
    assert datetime.fromisoformat(got["observed_at"]) == observed
    assert datetime.fromisoformat(got["created_at"]) - observed > timedelta(hours=4)
    stored = session.get(Incident, got["id"])
    assert stored.observed_at == observed
    assert events_of(session, stored)[0].data["observed_at"] == observed.isoformat()


def test_observed_at_defaults_to_the_arrival_time(client, session, world, reporter):
    got = client.post(URL, json=body(), headers=reporter).get_json()
    assert got["observed_at"] == got["created_at"]
    assert session.get(Incident, got["id"]).observed_at == session.get(Incident, got["id"]).created_at


@pytest.mark.parametrize("offset", [8, 0, -5])
def test_any_offset_means_the_same_instant(client, session, world, reporter, offset):
    observed = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=90)
    got = client.post(URL, json=body(observed_at=iso(observed, offset)), headers=reporter).get_json()
    assert datetime.fromisoformat(got["observed_at"]) == observed


def test_z_suffix_and_fractions_are_read(client, session, world, reporter):
    observed = datetime.now(timezone.utc) - timedelta(minutes=30)
    text = observed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    got = client.post(URL, json=body(observed_at=text), headers=reporter).get_json()
    assert abs(datetime.fromisoformat(got["observed_at"]) - observed) < timedelta(milliseconds=1)


def test_the_edges_of_the_window_are_accepted(client, session, world, reporter):
    now = datetime.now(timezone.utc)
    for observed in (now + timedelta(minutes=9), now - timedelta(days=29, hours=23)):
        assert client.post(URL, json=body(observed_at=iso(observed)), headers=reporter).status_code == 201
    assert count_incidents(session) == 2


def _bad_observed_at():
    """Times relative to now are timedeltas, turned into text when the test runs (not when the
    suite is collected, minutes earlier)."""
    return [
        ("2026-12-01T09:30:00", "observed_at_invalid"),            # no offset: which hour?
        ("2026-12-01", "observed_at_invalid"),
        ("yesterday morning", "observed_at_invalid"),
        ("2026-13-01T09:30:00+08:00", "observed_at_invalid"),
        ("2026-12-01T09:30:00+25:00", "observed_at_invalid"),
        (" ", "observed_at_invalid"),
        ("9" * 100_000, "observed_at_invalid"),
        (True, "observed_at_invalid"),
        (False, "observed_at_invalid"),
        (1764581400, "observed_at_invalid"),                      # epoch seconds are not ISO 8601
        (1764581400.5, "observed_at_invalid"),
        ({"at": "2026-12-01T09:30:00+08:00"}, "observed_at_invalid"),
        (["2026-12-01T09:30:00+08:00"], "observed_at_invalid"),
        (timedelta(minutes=11), "observed_at_future"),
        (timedelta(days=365), "observed_at_future"),
        ("9999-12-31T23:59:59-23:59", "observed_at_future"),
        (-timedelta(days=30, minutes=5), "observed_at_too_old"),
        ("0001-01-01T00:00:00+08:00", "observed_at_too_old"),
    ]


@pytest.mark.parametrize("value,code", _bad_observed_at(), ids=lambda v: str(v)[:30])
def test_bad_observed_at_is_refused_and_nothing_is_written(client, session, world, reporter, value, code):
    if isinstance(value, timedelta):
        value = iso(datetime.now(timezone.utc) + value)
    response = client.post(URL, json=body(observed_at=value), headers=reporter)
    assert (response.status_code, error_code(response)) == (422, code)
    message = response.get_json()["error"]["message"]
    assert "observed_at" in message and len(message) < 300  # says what to fix, never echoes a huge input
    assert nothing_written(session)


def test_nul_in_observed_at_is_refused_at_the_door(client, session, world, reporter):
    raw = json.dumps(body(observed_at="2026-12-01T09:30:00\u0000+08:00"))
    response = client.post(URL, data=raw, headers={**reporter, "Content-Type": "application/json"})
    assert (response.status_code, error_code(response)) == (400, "nul_byte")
    assert nothing_written(session)


def test_resend_of_a_stored_report_is_not_judged_again(session, world):
    """A phone that never got the answer resends weeks later: the stored report comes back."""
    arrival = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)
    report = new_report(observed_at="2026-11-02T08:30:00+08:00")
    first, created = services.create_incident(session, world.general1, report, at=arrival)
    assert created and first.observed_at == datetime(2026, 11, 2, 0, 30, tzinfo=timezone.utc)
    again, created = services.create_incident(session, world.general1, report, at=arrival + timedelta(days=40))
    assert (again.id, created) == (first.id, False)


def test_observed_at_is_judged_against_the_arrival_time(session, world):
    arrival = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)
    with pytest.raises(GridsysError) as refused:
        services.create_incident(session, world.general1, new_report(observed_at="2026-11-02T09:11:00+08:00"),
                                 at=arrival)
    assert refused.value.code == "observed_at_future"
    incident, _ = services.create_incident(session, world.general1,
                                           new_report(observed_at="2026-11-02T09:09:00+08:00"), at=arrival)
    assert incident.observed_at == datetime(2026, 11, 2, 1, 9, tzinfo=timezone.utc)


def test_incident_page_shows_the_observed_time_when_it_differs(client, session, world):
    arrival = datetime(2026, 11, 2, 4, 0, tzinfo=timezone.utc)  # 12:00 in Chongqing
    late, _ = services.create_incident(session, world.general1, new_report(observed_at="2026-11-02T09:30:00+08:00"),
                                       at=arrival)
    prompt, _ = services.create_incident(session, world.general1,
                                         new_report(observed_at="2026-11-02T11:59:30+08:00"), at=arrival)
    plain, _ = services.create_incident(session, world.general1, new_report(), at=arrival)
    session.commit()
    login(client, "general1")
    client.set_cookie("lang", "en")
    html = client.get(f"/incidents/{late.id}").get_data(as_text=True)
    assert "observed at 2026-11-02 09:30" in html and "2026-11-02 12:00" in html
    for other in (prompt, plain):  # within a minute of arriving, or not given: nothing extra
        assert "observed at" not in client.get(f"/incidents/{other.id}").get_data(as_text=True)


def test_incidents_from_before_the_column_read_their_creation_time(client, session, world, reporter):
    got = client.post(URL, json=body(), headers=reporter).get_json()
    incident = session.get(Incident, got["id"])
    incident.observed_at = None  # as on rows written before the migration
    session.commit()
    again = client.get(f"{URL}/{incident.id}", headers=reporter).get_json()
    assert again["observed_at"] == again["created_at"]
    assert incident.observed_apart is None


# --- GCJ-02 positions -----------------------------------------------------------------------------

def test_gcj02_position_is_stored_as_wgs84(client, session, world, reporter):
    wgs = lonlat("g11")
    gcj = geo.wgs84_to_gcj02(*wgs)
    assert metres(session, wgs, gcj) > 300  # read as WGS 84 it would be far off
    response = client.post(URL, json=body(lon=gcj[0], lat=gcj[1], coords="gcj02"), headers=reporter)
    assert response.status_code == 201, response.get_json()
    got = response.get_json()
    stored = geo.from_db(session.get(Incident, got["id"]).geom)
    assert metres(session, wgs, (stored.x, stored.y)) < 0.01
    assert metres(session, wgs, (got["lon"], got["lat"])) < 0.01 and got["grid"] == world.g11.code
    event = events_of(session, session.get(Incident, got["id"]))[0]
    assert event.data["coords"] == "gcj02" and event.data["sent"] == [gcj[0], gcj[1]]


def test_wgs84_is_the_default_and_may_be_named(client, session, world, reporter):
    wgs = lonlat("g11")
    for coords in (None, "wgs84"):
        extra = {"coords": coords} if coords else {}
        got = client.post(URL, json=body(**extra), headers=reporter).get_json()
        assert (got["lon"], got["lat"]) == wgs


# A point just north of the edge between grids 1-1 and 1-2 (y = 5): its GCJ-02 reading lies
# about 330 m south, inside grid 1-1, so only a converted position finds grid 1-2.
NEAR_EDGE = (ORIGIN[0] + 2 * STEP, ORIGIN[1] + 5.1 * STEP)


def test_gcj02_position_is_routed_where_it_really_is(client, session, world, reporter):
    gcj = geo.wgs84_to_gcj02(*NEAR_EDGE)
    as_sent = client.post(URL, json=body(lon=gcj[0], lat=gcj[1]), headers=reporter).get_json()
    converted = client.post(URL, json=body(lon=gcj[0], lat=gcj[1], coords="gcj02"), headers=reporter).get_json()
    assert (as_sent["grid"], converted["grid"]) == (world.g11.code, world.g12.code)


def test_locate_converts_gcj02(client, session, world, reporter):
    gcj = geo.wgs84_to_gcj02(*NEAR_EDGE)
    plain = client.get(f"/api/v1/locate?lon={gcj[0]}&lat={gcj[1]}", headers=reporter).get_json()
    converted = client.get(f"/api/v1/locate?lon={gcj[0]}&lat={gcj[1]}&coords=gcj02", headers=reporter).get_json()
    assert (plain["grid"], converted["grid"]) == (world.g11.code, world.g12.code)


@pytest.mark.parametrize("coords", ["GCJ02", "bd09", "wgs-84", "x" * 50_000, True, 0, ["gcj02"], {"c": 1}])
def test_unknown_coordinate_system_is_refused(client, session, world, reporter, coords):
    response = client.post(URL, json=body(coords=coords), headers=reporter)
    assert (response.status_code, error_code(response)) == (400, "coords_unknown")
    assert nothing_written(session)


@pytest.mark.parametrize("query", ["coords=bd09", "coords=GCJ-02", "coords=" + "g" * 5000])
def test_locate_refuses_unknown_coordinate_systems(client, world, reporter, query):
    response = client.get(f"/api/v1/locate?lon=106.02&lat=29.02&{query}", headers=reporter)
    assert (response.status_code, error_code(response)) == (400, "coords_unknown")


@pytest.mark.parametrize("lon,lat", [(True, 29.02), (106.02, False), ("106.02°", 29.02), (None, None)])
def test_positions_must_be_numbers(client, session, world, reporter, lon, lat):
    response = client.post(URL, json=body(lon=lon, lat=lat, coords="gcj02"), headers=reporter)
    assert (response.status_code, error_code(response)) == (422, "location_missing")
    assert nothing_written(session)


# --- the phone form ------------------------------------------------------------------------------

def form(client, spot="g11", **extra):
    html = client.get("/report").get_data(as_text=True)
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)
    lon, lat = lonlat(spot) if isinstance(spot, str) else spot
    return {"csrf_token": csrf, "client_uuid": str(uuid.uuid4()), "lon": str(lon), "lat": str(lat),
            "category": "0201", "description": "路灯不亮", **extra}


def stored_by_uuid(session, sent):
    return session.scalar(select(Incident).where(Incident.client_uuid == uuid.UUID(sent["client_uuid"])))


def test_form_takes_observed_at_and_gcj02(client, session, world):
    login(client, "general1")
    observed = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)
    gcj = geo.wgs84_to_gcj02(*NEAR_EDGE)
    sent = form(client, gcj, observed_at=iso(observed), coords="gcj02")
    response = client.post("/report", data=sent, content_type="multipart/form-data")
    assert response.status_code == 303
    incident = stored_by_uuid(session, sent)
    assert incident.observed_at == observed and incident.grid_id == world.g12.id
    point = geo.from_db(incident.geom)
    assert metres(session, NEAR_EDGE, (point.x, point.y)) < 0.01


def test_form_without_the_new_fields_works_as_before(client, session, world):
    login(client, "general1")
    sent = form(client, observed_at="", coords="")
    assert client.post("/report", data=sent, content_type="multipart/form-data").status_code == 303
    incident = stored_by_uuid(session, sent)
    assert incident.observed_at == incident.created_at and incident.grid_id == world.g11.id


@pytest.mark.parametrize("field,value,status,code", [
    ("observed_at", "2026-12-01T09:30:00", 422, "observed_at_invalid"),
    ("observed_at", "2099-01-01T00:00:00+08:00", 422, "observed_at_future"),
    ("observed_at", "2020-01-01T00:00:00+08:00", 422, "observed_at_too_old"),
    ("coords", "bd09", 400, "coords_unknown"),
])
def test_form_refusals_keep_the_report_and_write_nothing(client, session, world, field, value, status, code):
    login(client, "general1")
    sent = form(client, **{field: value})
    response = client.post("/report", data=sent, content_type="multipart/form-data")
    assert response.status_code == status and f'data-code="{code}"' in response.get_data(as_text=True)
    assert nothing_written(session)


def test_local_time_of_the_page_is_the_towns(client, session, world):
    """The page's times are the town's (Asia/Shanghai by default), whatever offset the phone sent."""
    arrival = datetime(2026, 11, 2, 4, 0, tzinfo=timezone.utc)
    incident, _ = services.create_incident(session, world.general1,
                                           new_report(observed_at="2026-11-01T20:00:00-05:00"), at=arrival)
    session.commit()
    login(client, "general1")
    client.set_cookie("lang", "en")
    expected = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc).astimezone(ZoneInfo("Asia/Shanghai"))
    assert f"observed at {expected:%Y-%m-%d %H:%M}" in client.get(f"/incidents/{incident.id}").get_data(as_text=True)
