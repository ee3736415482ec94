"""Chinese first: every piece of UI text has a Chinese translation, and pages default to it."""
import re
import uuid
from pathlib import Path

import pytest

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

REPO = Path(__file__).resolve().parent.parent
METHODS = [("gridsys/**.py", "python"), ("gridsys/**/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "N_": None}


def test_every_ui_string_has_a_chinese_translation():
    with open(REPO / "gridsys/translations/zh/LC_MESSAGES/messages.po", "rb") as f:
        catalog = read_po(f)
    used = {msg[2] if isinstance(msg[2], str) else msg[2][0]
            for msg in extract_from_dir(str(REPO), METHODS, keywords=KEYWORDS)}
    missing = sorted(m for m in used if m and (m not in catalog or not catalog[m].string))
    assert not missing, f"untranslated (run `make messages`, then translate): {missing}"
    assert len(used) > 100


def test_pages_are_chinese_by_default_and_english_on_request(client):
    assert "登录" in client.get("/login").get_data(as_text=True)
    client.get("/lang/en")
    assert "Log in" in client.get("/login").get_data(as_text=True)


# --- the first language of a new visitor -----------------------------------------------------

def _is_english(response) -> bool:
    return re.search(r'<html lang="([^"]+)"', response.get_data(as_text=True)).group(1) == "en"


@pytest.mark.parametrize("accept, english", [
    ("en-US,en;q=0.9", True),
    ("en-GB", True),
    ("zh-CN", False),
    ("zh-CN,zh;q=0.9,en;q=0.8", False),
    ("zh-TW,en;q=0.5", False),     # Chinese first, whatever the script
    ("fr-FR,fr;q=0.9", False),     # neither: Chinese
    (None, False),                 # no header: Chinese
])
def test_accept_language_chooses_the_first_language_of_a_new_visitor(client, accept, english):
    response = client.get("/login", headers={"Accept-Language": accept} if accept else {})
    assert _is_english(response) is english
    assert "Accept-Language" in response.headers.get("Vary", "")  # caches keep the two apart


def test_the_language_cookie_wins_over_accept_language(client):
    client.get("/lang/zh")
    response = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert not _is_english(response)
    assert "Accept-Language" not in response.headers.get("Vary", "")
    client.get("/lang/en")
    assert _is_english(client.get("/login", headers={"Accept-Language": "zh-CN"}))


# --- zones by their English names in English ---------------------------------------------------

@pytest.fixture
def named_zones(session, catalogue):
    from gridsys.zones import services
    from tests.factories import cell, make_user
    from shapely.geometry import MultiPolygon
    town = services.save_zone(session, "town", "500106901", "测试镇", MultiPolygon([cell(0, 0, 10, 10)]),
                              actor="test", name_en="Test Town")
    area = services.save_zone(session, "area", "500106901001", "场镇片区", MultiPolygon([cell(0, 0, 10, 10)]),
                              actor="test", name_en="Market Area")
    grid = services.save_zone(session, "grid", "500106901001001", "一号网格", cell(0, 0, 10, 10),
                              actor="test", name_en="Grid One")
    admin = make_user(session, "admin1", ["admin"])
    worker = make_user(session, "worker1", ["grid_worker"])
    from gridsys.people import services as people
    people.assign_grid(session, worker, grid.code, "safety")
    people.set_area_leader(session, make_user(session, "leader1", ["area_leader"]), area.code)
    people.add_town_admin(session, admin, town.code)
    session.commit()
    return town, area, grid, admin, worker


def test_the_english_ui_shows_the_zones_english_names(client, session, named_zones):
    from tests.factories import ORIGIN, STEP, login_as
    from gridsys.incidents import services as incidents
    town, area, grid, admin, worker = named_zones
    incident, _ = incidents.create_incident(session, worker, incidents.NewIncident(
        client_uuid=uuid.uuid4(), lon=ORIGIN[0] + 3 * STEP, lat=ORIGIN[1] + 3 * STEP, category="0201",
        description="井盖缺失"))
    session.commit()
    login_as(client, admin)
    client.get("/lang/en")
    pages = {path: client.get(path).get_data(as_text=True) for path in
             ("/", "/zones", "/admin/people/worker1", "/admin/people/leader1", "/admin/people/admin1",
              f"/incidents/{incident.id}")}
    for path, page in pages.items():
        assert not {"测试镇", "场镇片区", "一号网格"} & set(re.findall(r"测试镇|场镇片区|一号网格", page)), path
    assert "Market Area" in pages["/zones"] and "Test Town" in pages["/zones"]
    assert "Grid One" in pages["/admin/people/worker1"] and "Market Area" in pages["/admin/people/leader1"]
    assert "Test Town" in pages["/admin/people/admin1"]
    assert "Grid One" in pages[f"/incidents/{incident.id}"]
    client.get("/lang/zh")
    assert "场镇片区" in client.get("/zones").get_data(as_text=True)


def test_the_map_names_grids_in_the_pages_language(client, session, named_zones):
    import json
    from tests.factories import login_as
    _town, _area, grid, admin, _worker = named_zones
    login_as(client, admin)
    client.get("/lang/en")
    page = client.get("/map").get_data(as_text=True)
    assert "/api/v1/map/grids.geojson?lang=en" in page, "the URL names the language (answers differ by it)"

    def names(lang):
        body = json.loads(client.get(f"/api/v1/map/grids.geojson?lang={lang}").get_data(as_text=True))
        return {f["properties"]["code"]: f["properties"]["name"] for f in body["features"]}
    assert names("en")[grid.code] == "Grid One"
    assert names("zh")[grid.code] == "一号网格"


def test_a_language_refused_with_q0_is_not_chosen(client):
    assert not _is_english(client.get("/login", headers={"Accept-Language": "fr, en;q=0"}))


@pytest.mark.parametrize("value", ["0", "-1", "169", "four"])
def test_due_soon_hours_out_of_range_stop_the_app_with_a_clear_message(monkeypatch, value):
    from gridsys.config import ConfigError, load
    monkeypatch.setenv("GRIDSYS_DUE_SOON_HOURS", value)
    with pytest.raises(ConfigError, match="GRIDSYS_DUE_SOON_HOURS"):
        load({"DATABASE_URL": "postgresql://x/y", "SECRET_KEY": "k"})
