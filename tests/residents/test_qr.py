"""A grid's QR code, made by the app (segno), decodes back to the grid's short link; the poster
that carries it is for administrators and the area's leader only."""
from __future__ import annotations

import re

import pytest
import zxingcpp
from PIL import Image

from gridsys import create_app
from tests.incidents.helpers import login
from tests.residents.http import refusal, visible

BASE = "https://wg.example.gov.cn"


@pytest.fixture
def app(database_url, session):
    return create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                       "SESSION_FACTORY": lambda: session, "TILES_URL": "", "WEBHOOKS_IN_BACKGROUND": False,
                       "BASE_URL": BASE + "/"})


def svg_to_image(svg: str, pixels_per_module: int = 4) -> Image.Image:
    """Draw segno's SVG (its dark modules: one path of horizontal runs, M/m moves and h runs) as the
    bitmap a camera sees."""
    scale = int(re.search(r'transform="scale\((\d+)\)"', svg).group(1))
    size = int(re.search(r'<svg[^>]* width="(\d+)"', svg).group(1)) // scale
    path = re.search(r'<path class="qrline"[^>]* d="([^"]+)"', svg).group(1)   # the dark modules
    image = Image.new("L", (size * pixels_per_module, size * pixels_per_module), 255)
    x = y = 0.0
    for command, a, b in re.findall(r"([MmHhVv])\s*(-?[\d.]+)(?:[ ,](-?[\d.]+))?", path):
        a = float(a)
        if command == "M":
            x, y = a, float(b)
        elif command == "m":
            x, y = x + a, y + float(b)
        elif command in "hH":
            end = x + a if command == "h" else a
            row = int(y)
            for column in range(int(min(x, end)), int(max(x, end))):
                image.paste(0, (column * pixels_per_module, row * pixels_per_module,
                                (column + 1) * pixels_per_module, (row + 1) * pixels_per_module))
            x = end
        else:
            raise AssertionError(f"unexpected path command {command}")
    return image


def decode(svg: str) -> list[str]:
    return [found.text for found in zxingcpp.read_barcodes(svg_to_image(svg))]


def test_the_qr_code_decodes_back_to_the_grids_link(client, world):
    response = client.get(f"/r/{world.g11.code}/qr.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert "<script" not in response.get_data(as_text=True)
    assert decode(response.get_data(as_text=True)) == [f"{BASE}/r/{world.g11.code}"]
    assert client.get(f"/r/{world.g21.code}/qr.svg").status_code == 200


def test_the_decoder_is_not_fooled(client, world):
    """The control: a damaged code does not decode to anything, let alone the link."""
    image = svg_to_image(client.get(f"/r/{world.g11.code}/qr.svg").get_data(as_text=True))
    image.paste(255, (0, 0, image.width, image.height // 2))
    assert zxingcpp.read_barcodes(image) == []


def test_no_qr_code_for_an_unknown_grid(client, world):
    for code in ("500106901001999", "x" * 15, world.a1.code):
        assert client.get(f"/r/{code}/qr.svg").status_code == 404


def test_the_poster_carries_the_name_qr_link_and_notice(client, session, world):
    world.safety1.phone, world.safety1.phone_public = "13911112222", True
    session.commit()
    login(client, "admin")
    response = client.get(f"/admin/grids/{world.g11.code}/poster")
    assert response.status_code == 200
    page, text = response.get_data(as_text=True), visible(response)
    assert "测试网格1" in text and "测试片区1" in text and "测试镇" in text
    assert f'src="/r/{world.g11.code}/qr.svg"' in page
    assert f"{BASE}/r/{world.g11.code}" in text, "the short link, absolute, printed under the code"
    assert "平安员一" in text and "平安综治" in text and "13911112222" in text


def test_the_poster_is_for_admins_and_the_areas_leader(client, world):
    login(client, "leader1")
    assert client.get(f"/admin/grids/{world.g11.code}/poster").status_code == 200
    other = client.get(f"/admin/grids/{world.g21.code}/poster")
    assert other.status_code == 404 and refusal(other) == "grid_not_found", "area 2 is not leader1's"
    listed = client.get(f"/admin/areas/{world.a1.code}/posters")
    assert listed.status_code == 200
    assert f"/admin/grids/{world.g11.code}/poster" in listed.get_data(as_text=True)
    assert f"/admin/grids/{world.g21.code}/poster" not in listed.get_data(as_text=True)
    assert client.get(f"/admin/areas/{world.a2.code}/posters").status_code == 404


def test_a_grid_worker_or_a_stranger_gets_no_poster(client, world):
    anonymous = client.get(f"/admin/grids/{world.g11.code}/poster")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    login(client, "safety1")
    assert client.get(f"/admin/grids/{world.g11.code}/poster").status_code == 403
    assert client.get(f"/admin/areas/{world.a1.code}/posters").status_code == 403


def test_the_zones_page_links_each_area_to_its_posters(client, world):
    login(client, "admin")
    page = client.get("/zones").get_data(as_text=True)
    assert f"/admin/areas/{world.a1.code}/posters" in page and f"/admin/areas/{world.a2.code}/posters" in page
