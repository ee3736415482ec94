"""The public results of a town, area or grid (no login) and what Open311 publishes of the same
requests: de-identified. Seeded with phone numbers and names in what residents wrote, in public
replies and in internal notes, none of which may appear in any HTML or JSON the public reads."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func, update

from gridsys.clock import now
from gridsys.incidents import photos
from gridsys.incidents.models import Incident
from gridsys.incidents.privacy import PHONE_LIKE
from gridsys.residents import public, services as residents
from tests.incidents.helpers import act, new_report
from tests.residents.helpers import SECRET, resident_report

RESIDENT_PHONE = "13800001111"
RESIDENT_NAME = "王小明"
# Everything a published page must never carry: residents' contacts and words, numbers in replies and
# notes, internal notes, the handlers' names.
SECRETS = (RESIDENT_PHONE, "138-0000-1111", RESIDENT_NAME, "13912345678", "139 1234 5678", "请打",
           "023-6543 2100", "6543 2100", "65432100", "13700000000", "内部备注", "幸福路8号", "平安员一", "综合员一",
           "包片领导一", "safety1", "general1", "leader1", "心理", "已上门谈心", "邻里", "15011112222")


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "green").save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def seeded(session, world):
    """A handled resident's report with numbers everywhere, an open one, a sensitive one, a photo
    kept private and one made public."""
    handled = residents.submit(session, new_report("g11", "0101", description="门口垃圾堆满了，请打13912345678",
                                                   address="幸福路8号"),
                               secret=SECRET, phone="138-0000-1111", name=RESIDENT_NAME).incident
    session.commit()
    act(session, handled, world.general1, "register")
    act(session, handled, world.general1, "comment", note="内部备注：找13700000000协调")
    act(session, handled, world.general1, "resolve", note=f"已清运。{RESIDENT_NAME}您好，有问题请拨023-6543 2100",
        public=True)
    private = photos.add_photo(session, handled, world.general1, jpeg())
    shown = photos.add_photo(session, handled, world.general1, jpeg())
    shown.public = True
    act(session, handled, world.leader1, "close")
    waiting = resident_report(session, "g12", "0201", phone="15011112222").incident
    distress = resident_report(session, "g11", "0601").incident
    act(session, distress, world.leader1, "register")
    act(session, distress, world.leader1, "resolve", note="已上门谈心", public=True)
    dispute = resident_report(session, "g21", "0203", description="邻里噪音").incident
    secret_photo = photos.add_photo(session, distress, world.leader1, jpeg())
    secret_photo.public = True
    session.commit()
    return dict(handled=handled, waiting=waiting, distress=distress, dispute=dispute, private=private, shown=shown,
                secret_photo=secret_photo)


def assert_de_identified(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, secret


def replies_text(page: str) -> list[str]:
    return re.findall(r'<p class="note">(.*?)<time', page, re.S)


def test_the_pages_of_town_area_and_grid_are_de_identified(client, session, world, seeded):
    for code in (world.town.code, world.a1.code, world.g11.code):
        response = client.get(f"/public/{code}")
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert seeded["handled"].code in page
        assert "已清运。**您好，有问题请拨023****2100" in page
        for text in replies_text(page):
            assert PHONE_LIKE.search(text) is None, text
        if code != world.g11.code:   # the grid's page names its workers on purpose (公示), the others never
            assert_de_identified(page)
        else:
            listing = page.split('class="public-requests"')[1]
            assert_de_identified(listing)
            assert_de_identified(page.replace("平安员一", "").replace("综合员一", ""))
        assert seeded["distress"].code not in page and seeded["dispute"].code not in page


def test_the_residents_name_stays_masked_after_the_contacts_are_purged(client, session, world, seeded):
    """The contacts go 30 days after closure, the replies stay public for 90: the reply is masked
    when written, not when shown."""
    from gridsys.incidents import privacy
    handled = seeded["handled"]
    assert privacy.purge_contacts(session, days=1, as_of=handled.closed_at + timedelta(days=2)) >= 1
    session.commit()
    session.expire_all()
    assert session.get(Incident, handled.id).contact_name is None
    page = client.get(f"/public/{world.g11.code}").get_data(as_text=True)
    assert "已清运。**您好" in page and RESIDENT_NAME not in page
    body = client.get("/open311/v2/requests.json").get_data(as_text=True)
    assert RESIDENT_NAME not in body


def test_open311_publishes_the_same_de_identified_requests(client, session, world, seeded):
    for fmt in ("json", "xml"):
        body = client.get(f"/open311/v2/requests.{fmt}").get_data(as_text=True)
        assert seeded["handled"].code in body and seeded["waiting"].code in body
        assert_de_identified(body)
        assert seeded["distress"].code not in body and seeded["dispute"].code not in body
    items = client.get("/open311/v2/requests.json").get_json()
    for item in items:
        for value in item.values():
            if isinstance(value, str) and value != item["service_request_id"] and "T" not in value[:11]:
                assert PHONE_LIKE.search(value) is None, value
    handled = next(i for i in items if i["service_request_id"] == seeded["handled"].code)
    assert handled["media_url"].endswith(f"/public/photos/{seeded['shown'].id}.jpg")


def test_counts_by_category_leave_out_sensitive_ones(client, session, world, seeded):
    counts = {c.service_code: (c.total, c.done, c.open)
              for c in public.counts(session, public.zone_of(session, world.town.code), *public.last_days())}
    assert counts == {"0101": (1, 1, 0), "0201": (1, 0, 1)}
    page = client.get(f"/public/{world.town.code}").get_data(as_text=True)
    assert "共反映 2 件，已办理 1 件" in page and "垃圾没人清运" in page and "治安隐患" in page


def test_only_public_photos_of_published_requests_are_served(client, session, world, seeded):
    response = client.get(f"/public/photos/{seeded['shown'].id}.jpg")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert client.get(f"/public/photos/{seeded['shown'].id}/thumb.jpg").status_code == 200
    for photo in (seeded["private"], seeded["secret_photo"]):
        assert client.get(f"/public/photos/{photo.id}.jpg").status_code == 404
    assert client.get("/public/photos/99999999999.jpg").status_code == 404
    page = client.get(f"/public/{world.g11.code}").get_data(as_text=True)
    assert f"/public/photos/{seeded['shown'].id}/thumb.jpg" in page
    assert f"/public/photos/{seeded['private'].id}" not in page


def test_the_grid_page_shows_its_notice_with_phones_only_where_published(client, session, world):
    world.general1.phone, world.general1.phone_public = "13600001234", True
    world.safety1.phone, world.safety1.phone_public = "13600005678", False
    session.commit()
    page = client.get(f"/public/{world.g11.code}").get_data(as_text=True)
    notice = page.split('<section class="notice"')[1].split("</section>")[0]
    assert "平安员一" in notice and "综合员一" in notice and "平安综治" in notice
    assert "13600001234" in notice and "13600005678" not in page
    area_page = client.get(f"/public/{world.a1.code}").get_data(as_text=True)
    assert '<section class="notice"' not in area_page and world.g11.code in area_page   # links to its grids


def test_the_page_shows_the_last_90_days_paged(client, session, world):
    old = residents.submit(session, new_report("g11", "0101"), secret=SECRET, at=now() - timedelta(days=91)).incident
    recent = [resident_report(session, "g11", "0101").incident for _ in range(21)]
    page = client.get(f"/public/{world.g11.code}").get_data(as_text=True)
    assert old.code not in page and recent[-1].code in page and recent[0].code not in page
    second = client.get(f"/public/{world.g11.code}?page=2").get_data(as_text=True)
    assert recent[0].code in second and recent[-1].code not in second
    response = client.get(f"/public/{world.g11.code}?page=abc")
    assert response.status_code == 400 and 'data-code="page_invalid"' in response.get_data(as_text=True)


def test_chinese_first_and_english_on_request(client, world):
    page = client.get(f"/public/{world.town.code}").get_data(as_text=True)
    assert 'lang="zh-CN"' in page and "办理公示" in page and "测试镇" in page
    english = client.get(f"/public/{world.town.code}?lang=en").get_data(as_text=True)
    assert 'lang="en"' in english and "Public results" in english


@pytest.mark.parametrize("code", ["999999999", "500106901999", "abc", "5001069010010019", "<script>"])
def test_an_unknown_zone_is_a_not_found_page(client, world, code):
    response = client.get(f"/public/{code}")
    assert response.status_code == 404
    assert re.search(r'data-code="(zone_not_found|town_not_found|area_not_found|grid_not_found)"',
                     response.get_data(as_text=True))


def test_a_public_page_needs_no_login_and_sets_no_cookie(client, world):
    response = client.get(f"/public/{world.g11.code}")
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert "/login" not in response.get_data(as_text=True), "the residents' layout: no staff menu"


def test_the_listing_rounds_the_point_to_about_100_m(session, world):
    incident = resident_report(session, "g11", "0101").incident
    session.execute(update(Incident).where(Incident.id == incident.id)
                    .values(geom=func.ST_SetSRID(func.ST_MakePoint(106.0234567, 29.0187654), 4326)))
    item = public.requests(session, public.Criteria(codes=(incident.code,))).items[0]
    assert (item.lat, item.lon) == (29.019, 106.023)
