"""A resident's report from end to end on a phone (issue 15 item 9), in Chromium at 390×844 with
the Content-Security-Policy enforced: the grid's QR code, decoded off the printed poster, opens
the report page; the resident places the problem with the phone's location, picks a kind of
problem, adds a photo (shrunk on the phone), sends (the page solves its check first) and lands
on the private tracking page. The staff side goes through the staff pages in Chromium too: the
grid worker, on a phone, finds it in 待立案 and registers it (立案), accepts it (受理) and resolves it
with a reply to the resident and an after photo they make public; the leader, on the laptop
where they printed the poster, closes it from 待核查 (核查结案). The resident sees 已办结 and the
reply, rates 不满意; the leader finds it in 不满意 and sends it back (返工); the resident sees it
handled again. Last, an
anonymous visitor opens the grid's public results: the report is listed with its reply, and
neither the resident's number nor what they wrote is there."""
from __future__ import annotations

import io
import re
import time
import uuid

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from gridsys.incidents.models import Incident, IncidentPhoto
from gridsys.people.models import User
from gridsys.residents import services as residents

from .helpers import SPOTS, no_sideways_scroll

pytestmark = pytest.mark.browser

GRID1 = "500106110001001"
HERE = {"longitude": SPOTS["g1_a"][0][0], "latitude": SPOTS["g1_a"][0][1]}
VIOLATIONS = """window.__csp = []; document.addEventListener('securitypolicyviolation',
    e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));"""
SOLVE_20 = """() => {
    const times = [];
    for (let k = 0; k < 20; k++) {
        const challenge = Date.now() + "." + Math.random().toString(16).slice(2, 14) + "." + k, t = performance.now();
        let n = 0;
        while (GridsysProof.zeroBits(GridsysProof.sha256(challenge + n)) < 14) { n++; }
        times.push(performance.now() - t);
    }
    return {mean: times.reduce((a, b) => a + b) / times.length, max: Math.max(...times)};
}"""
TOKEN = re.compile(r"/t/([0-9a-f]{32})$")


def jpeg(size) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (90, 140, 60)).save(out, "JPEG", quality=90)
    return out.getvalue()


def user(db, username) -> User:
    return db.scalar(select(User).where(User.username == username))


def press(page, target) -> None:
    """Tap on a phone, click on a laptop, and wait for the page the form or link leads to."""
    with page.expect_navigation():
        if (page.viewport_size or {}).get("width", 1000) < 600:
            target.tap()
        else:
            target.click()


def saved(page) -> None:
    """The staff page came back from a POST saying it was saved, and refused nothing."""
    assert page.locator("p.flash.error").all_inner_texts() == [], "the staff page refused the step"
    assert "已保存" in " ".join(page.locator("p.flash.ok").all_inner_texts())


def from_queue(page, queue: str, code: str) -> None:
    """Open a work queue of the staff pages and, from it, the incident ``code``."""
    page.goto(f"/incidents?queue={queue}")
    press(page, page.locator("main li.incident a", has_text=code))
    assert re.search(r"/incidents/\d+$", page.url), page.url
    assert page.locator("main h1 .code").inner_text() == code


def act(page, action: str, note: str | None = None):
    """The form of the staff page's next step ``action`` (shown first and open; the rest are
    folded), its note filled in when given."""
    box = page.locator(f"details.primary-action[data-action={action}]")
    assert box.get_attribute("open") is not None, f"{action}: the next step is open"
    if note is not None:
        box.locator("textarea[name=note]").fill(note)
    return box


def status_of(db, incident) -> str:
    db.expire_all()
    return db.get(Incident, incident.id).status


def loaded(image, timeout: float = 10.0) -> None:
    """Wait until an image is drawn (polled from here: the page's CSP forbids wait_for_function)."""
    deadline = time.monotonic() + timeout
    while not image.evaluate("img => img.complete && img.naturalWidth > 0"):
        assert time.monotonic() < deadline, "the image never loaded"
        time.sleep(0.05)


def text_of(page) -> str:
    return page.locator("main").inner_text()


def test_a_resident_reports_follows_and_rates_on_a_phone(open_page, db):
    # The poster an area leader prints: its QR code decodes to the grid's short link.
    leader, leader_log = open_page("laptop", user="leader01")
    leader.goto(f"/admin/grids/{GRID1}/poster")
    qr = leader.locator("#poster-qr")
    qr.wait_for()
    leader.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=qr.element_handle())
    shot = Image.open(io.BytesIO(qr.screenshot()))
    decoded = [found.text for found in zxingcpp.read_barcodes(shot)]
    assert decoded == [f"http://127.0.0.1:8000/r/{GRID1}"], "GRIDSYS_BASE_URL + /r/<grid>"
    assert leader.locator("#poster-link").inner_text() == decoded[0]

    # The resident opens that link (on the test server) with a phone sharing its location.
    page, log = open_page("phone", bypass_csp=False, geolocation=HERE, permissions=["geolocation"])
    page.add_init_script(VIOLATIONS)
    page.goto(decoded[0].replace("http://127.0.0.1:8000", ""))
    text = text_of(page)
    assert "场镇一网格甲" in text and "场镇一网格乙" in text and "创文工作" in text, "the grid's 网格公示"
    assert "登录" not in page.locator("header").inner_text(), "no account, no staff menu"
    assert no_sideways_scroll(page)

    page.locator("form[data-proof=done]").wait_for(state="attached")
    # What the check costs here: the page's own SHA-256, 20 challenges at the configured 14 bits.
    cost = page.evaluate(SOLVE_20)
    print(f"\nproof of work at 14 bits in this Chromium: {cost['mean']:.0f} ms on average, {cost['max']:.0f} ms at most")
    assert cost["mean"] < 1000

    page.locator("#locate-me").tap()
    page.locator("#where-text", has_text="已定位").wait_for()
    assert float(page.input_value("#lon")) == pytest.approx(HERE["longitude"], abs=1e-6)
    assert page.locator("#resident-map .leaflet-marker-icon").count() == 1

    description = f"菜市场门口垃圾三天没人清运 {uuid.uuid4().hex[:6]}"
    label = page.locator("label.cat:has(input[value='0101'])")
    assert label.inner_text() == "垃圾没人清运", "the plain name residents read"
    label.tap()
    page.fill("textarea[name=description]", description)
    page.fill("input[name=phone]", "139 0000 2222")
    page.set_input_files("#photo-input", {"name": "big.jpg", "mimeType": "image/jpeg", "buffer": jpeg((2400, 1800))})
    page.locator("#photo-thumbs li.thumb img").wait_for()
    with page.expect_navigation():
        page.locator("#send").tap()
    token = TOKEN.search(page.url).group(1)

    incident = residents.by_token(db, token)
    assert (incident.description, incident.channel, incident.status, incident.contact_phone) == \
        (description, "resident", "reported", "139 0000 2222")
    assert incident.assignee.username == "w0101a", "routed to the grid's 创文工作 worker"
    mine = db.scalars(select(IncidentPhoto).where(IncidentPhoto.incident_id == incident.id)).all()
    assert [(p.width, p.height, p.uploaded_by) for p in mine] == [(1600, 1200, None)], "shrunk on the phone"
    text = text_of(page)
    assert incident.code in text and "已收到，等待立案" in text and "垃圾没人清运" in text

    # The grid worker, on a phone, finds it in 待立案 and registers it (立案) as routed, to themselves.
    worker, worker_log = open_page("phone", user="w0101a")
    from_queue(worker, "to_register", incident.code)
    assert worker.locator("details.primary-action").count() == 2, "立案 and 不予受理, nothing else open"
    press(worker, act(worker, "register").locator("button[type=submit]", has_text="立案"))
    saved(worker)
    assert status_of(db, incident) == "assigned"
    assert no_sideways_scroll(worker)
    # 受理, the next step it offers.
    press(worker, act(worker, "accept").locator("button[type=submit]", has_text="受理"))
    saved(worker)
    assert status_of(db, incident) == "in_progress"
    page.reload()
    assert "正在办理" in text_of(page)

    # 办结反馈: what was done, as a reply to the resident (ticked, as it comes), with an after photo.
    box = act(worker, "resolve", "已清运完毕，以后可拨打 13912345678 联系")
    reply = box.locator("input[type=checkbox][name=public]")
    assert reply.is_checked(), "a resolution answers the resident unless unticked"
    reply.check()
    box.locator("input[type=file][name=photos]").set_input_files(
        {"name": "after.jpg", "mimeType": "image/jpeg", "buffer": jpeg((800, 600))})
    press(worker, box.locator("button[type=submit]", has_text="办结反馈"))
    saved(worker)
    assert status_of(db, incident) == "resolved"
    assert worker.locator("ol.timeline li.public", has_text="已清运完毕").count() == 1, "marked 答复居民"
    after = db.scalar(select(IncidentPhoto).where(IncidentPhoto.incident_id == incident.id,
                                                  IncidentPhoto.uploaded_by == user(db, "w0101a").id))
    assert after is not None and not after.public
    # The after photo is the handler's to show: one tap on it.
    press(worker, worker.locator(f"figure.photo[data-photo='{after.id}'] form.photo-public button",
                                 has_text="向居民和公众公开"))
    assert worker.locator("p.flash.error").count() == 0
    assert worker.locator(f"figure.photo.public[data-photo='{after.id}']").count() == 1
    db.refresh(after)
    assert after.public

    # The leader, in their own context (the laptop of the poster), closes it from 待核查 (核查结案).
    from_queue(leader, "to_verify", incident.code)
    press(leader, act(leader, "close").locator("button[type=submit]", has_text="核查结案"))
    saved(leader)
    assert status_of(db, incident) == "closed"

    page.reload()
    text = text_of(page)
    assert "已办结" in text and "已清运完毕" in text and "139****5678" in text and "12345678" not in text
    for name in ("场镇一网格甲", "场镇包片领导", "w0101a", "leader01"):
        assert name not in page.content(), f"{name}: nobody's name on the resident's page"
    assert page.locator("#public-photos img").count() == 1, "the after photo the handler made public"
    assert f"/photos/{after.id}/thumb" in page.locator("#public-photos img").get_attribute("src")
    loaded(page.locator("#public-photos img"))

    # 回访: 不满意, with a comment; then what was rated shows and the form is gone.
    page.locator("label.cat:has(input[value=unsatisfied])").tap()
    page.fill("textarea[name=comment]", "门口还有垃圾")
    with page.expect_navigation():
        page.locator("#rate-form button[type=submit]").tap()
    text = text_of(page)
    assert "感谢您的评价" in text and "不满意" in text and "门口还有垃圾" in text
    assert page.locator("#rate-form").count() == 0
    db.expire_all()
    incident = db.get(Incident, incident.id)
    assert (incident.rating, incident.rated_via) == ("unsatisfied", "web")

    # The leader finds it in 不满意 and sends it back (返工); the resident sees it handled again.
    from_queue(leader, "unsatisfied", incident.code)
    assert "门口还有垃圾" in leader.locator("dd.rating").inner_text(), "what the resident said"
    press(leader, act(leader, "reopen", "再次清理并每日巡查").locator("button[type=submit]", has_text="返工"))
    saved(leader)
    assert status_of(db, incident) == "reopened"
    assert leader.locator("main h1 + p .badge").first.inner_text() == "返工", "the staff page's status"
    assert leader.locator("main dd.review").count() == 1, "the 不满意 is decided"
    db.expire_all()
    assert (db.get(Incident, incident.id).review, db.get(Incident, incident.id).reopen_count) == ("reopened", 1)
    page.reload()
    assert "重新办理中" in text_of(page)

    assert page.evaluate("() => window.__csp") == [], "the pages run under the CSP"
    log.assert_clean()
    worker_log.assert_clean()
    leader_log.assert_clean()

    # Anyone may open the grid's public results: the report with its reply, nothing of the resident's.
    public, public_log = open_page("phone", bypass_csp=False)
    public.add_init_script(VIOLATIONS)
    public.goto(f"/public/{GRID1}")
    card = public.locator(f"li.public-request[data-code='{incident.code}']")
    assert card.count() == 1, "the report is listed"
    said = card.inner_text()
    assert "已清运完毕" in said and "139****5678" in said and "12345678" not in said, "its public reply, masked"
    assert f"/photos/{after.id}" in card.locator("p.photos img").get_attribute("src"), "the after photo"
    content = public.content()
    for secret in (description, description.split()[0], "139 0000 2222", "13900002222", "0000 2222",
                   "门口还有垃圾", "再次清理并每日巡查"):
        assert secret not in content, f"{secret!r} is not published"
    assert no_sideways_scroll(public)
    assert public.evaluate("() => window.__csp") == [], "the public page runs under the CSP"
    public_log.assert_clean()
