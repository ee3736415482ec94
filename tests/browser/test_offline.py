"""A grid worker on a phone with patchy signal never loses a report.

Headless Chromium at 390×844 talks to the app through a loopback proxy (netcut.NetCut) whose
cable the test pulls: Chromium's offline emulation may not cover the service worker's own
requests, a refused connection does. Reports wait in the phone's IndexedDB and are sent through
the JSON API, each once (client UUIDs for reports and photos).
"""
from __future__ import annotations

import io
import time
import uuid

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import text

from .helpers import PHONE, PageLog, SPOTS, login, page_point, served
from .netcut import NetCut

pytestmark = pytest.mark.browser

HERE = {"longitude": 106.3185, "latitude": 29.6295}   # grid 500106110001001
REPORT_MAP = "window[document.getElementById('report-map').dataset.map]"
NETWORK_NOISE = ("Failed to load resource", "net::ERR_")


# --- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def field_server(browser_db):
    """The app with a version the test can change (a new release of the field app)."""
    with served(browser_db, APP_VERSION="field-v1") as server:
        yield server


@pytest.fixture
def net(field_server):
    field_server.app.config["APP_VERSION"] = "field-v1"
    proxy = NetCut(field_server.port)
    yield proxy
    proxy.close()


@pytest.fixture
def phone(browser, net):
    """phone(user, **context options) -> (page, log): a fresh phone, logged in, its app installed
    (the service worker controls the page, so the shell and its assets are on the phone)."""
    opened = []

    def make(user, wait_for_worker=True, init_script=None, **options):
        options.setdefault("geolocation", HERE)
        options.setdefault("permissions", ["geolocation"])
        context = browser.new_context(base_url=net.url, **PHONE, bypass_csp=True, **options)
        context.set_default_timeout(15_000)
        if init_script:
            context.add_init_script(init_script)
        page = context.new_page()
        log = PageLog(net.url)
        log.attach(page)
        opened.append((context, page, log))
        login(page, net.url, user)
        assert page.url.endswith("/report")
        if wait_for_worker:
            page.wait_for_function("navigator.serviceWorker.controller !== null")
        return page, log

    yield make
    for context, page, log in opened:
        context.close()


@pytest.fixture(scope="session")
def camera_photo() -> bytes:
    """A camera-like JPEG: 4000×3000, about 3 MB, with the EXIF GPS position phones write."""
    rng = np.random.default_rng(7)
    h, w = 3000, 4000
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([x / w * 200 + 30, y / h * 180 + 40, (x + y) / (w + h) * 150 + 60], -1)
    noise = np.kron(rng.normal(0, 18, (h // 4, w // 4, 3)).astype(np.float32), np.ones((4, 4, 1), np.float32))
    image = Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (29.0, 37.0, 46.2), 3: "E", 4: (106.0, 19.0, 6.6)})
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, exif=exif)
    data = out.getvalue()
    assert 2_500_000 < len(data) < 4_000_000
    return data


# --- what a worker does ---------------------------------------------------------------------------

def choose(page, category: str) -> None:
    label = page.locator(f"label.cat:has(input[value='{category}'])")
    if not label.is_visible():
        page.locator("#all-categories > summary").tap()
    label.tap()
    assert page.locator(f"input[name=category][value='{category}']").is_checked()


def log_report(page, category: str, description: str, photo: bytes | None = None) -> None:
    """Fill in and send one report; it lands in the outbox (sent or waiting)."""
    page.wait_for_function("document.getElementById('lat').value !== ''")
    choose(page, category)
    page.fill("textarea[name=description]", description)
    if photo is not None:
        page.set_input_files("#photo-input", {"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": photo})
        page.locator("#photo-thumbs li.thumb").first.wait_for()
    page.locator("#send").tap()
    item(page, description).wait_for()
    page.wait_for_function("document.querySelector('textarea[name=description]').value === ''")


def send_now(page) -> None:
    """立即发送, unless the outbox's own retry is already at it (the button then hides)."""
    from playwright.sync_api import Error as PlaywrightError
    try:
        page.locator("#send-now").tap(timeout=3000)
    except PlaywrightError:
        pass   # hidden meanwhile: the retry timer is sending it


def item(page, description: str):
    return page.locator("li.outbox-item", has=page.locator(".desc", has_text=description))


def wait_sent(page, description: str, timeout: float = 30_000) -> str:
    entry = item(page, description)
    entry.and_(page.locator("li.sent")).wait_for(timeout=timeout)
    return entry.locator("a.code").inner_text()


def stored(db, tag: str):
    db.rollback()   # see what the app committed since
    return db.execute(text("""
        SELECT i.id, i.code, i.description, i.category_code, u.username AS reporter, i.observed_at, i.created_at,
               (SELECT count(*) FROM incident_photos p WHERE p.incident_id = i.id) AS photos
          FROM incidents i JOIN users u ON u.id = i.reporter_id
         WHERE i.description LIKE :tag ORDER BY i.id"""), {"tag": f"%{tag}%"}).all()


def app_errors(log: PageLog) -> list[str]:
    """Console errors other than the failed loads a cut network causes."""
    return [e for e in log.console_errors if not any(n in e for n in NETWORK_NOISE)]


def wait_until(predicate, timeout: float = 15.0, page=None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        if page is not None:
            page.wait_for_timeout(50)
        else:
            time.sleep(0.05)


# --- the tests -------------------------------------------------------------------------------------

def test_three_reports_logged_offline_arrive_once_with_their_photos(phone, net, db, camera_photo):
    page, log = phone("w0101a")
    tag = uuid.uuid4().hex[:8]
    net.cut()
    log_report(page, "0101", f"离线一 垃圾 {tag}", camera_photo)
    log_report(page, "0104", f"离线二 路灯 {tag}", camera_photo)
    log_report(page, "0201", f"离线三 隐患 {tag}")
    assert page.inner_text("#outbox-count") == "3"
    assert page.locator("li.outbox-item.queued").count() == 3
    assert "待发送" in page.inner_text("#outbox")
    assert item(page, f"离线一 垃圾 {tag}").locator(".place").inner_text() != ""
    assert "KB" in page.inner_text("#storage-use") or "MB" in page.inner_text("#storage-use")

    page.reload()   # still offline: the service worker answers with the app shell
    page.wait_for_function("document.querySelectorAll('li.outbox-item.queued').length === 3")
    assert page.locator("#report-form").is_visible()
    assert not page.locator("#offline-now").is_hidden()
    assert stored(db, tag) == []

    net.restore()   # the network returns: the page sends by itself (no tap)
    codes = [wait_sent(page, f"{word} {tag}", timeout=75_000) for word in ("离线一 垃圾", "离线二 路灯", "离线三 隐患")]
    rows = stored(db, tag)
    assert len(rows) == 3
    assert sorted(r.code for r in rows) == sorted(codes)
    assert {r.description.split()[0]: r.photos for r in rows} == {"离线一": 1, "离线二": 1, "离线三": 0}
    assert all(r.reporter == "w0101a" for r in rows)
    assert all(r.observed_at < r.created_at for r in rows), "observed on the phone before it arrived"
    assert page.inner_text("#outbox-count") == "0"
    assert app_errors(log) == [] and log.page_errors == [] and log.external == []


def test_a_refused_report_stays_with_its_reason_while_the_others_go(phone, net, db):
    page, log = phone("w0101a")
    tag = uuid.uuid4().hex[:8]
    net.cut()
    log_report(page, "0403", f"会被拒 噪音 {tag}")
    log_report(page, "0101", f"照常发 垃圾 {tag}")
    db.execute(text("UPDATE categories SET active = false WHERE code = '0403'"))   # retired meanwhile
    db.commit()
    try:
        net.restore()
        send_now(page)
        wait_sent(page, f"照常发 垃圾 {tag}")
        refused = item(page, f"会被拒 噪音 {tag}")
        refused.and_(page.locator("li.refused")).wait_for()
        assert "停用" in refused.locator(".state").inner_text(), "the reason, in Chinese"
        assert [r.description for r in stored(db, tag)] == [f"照常发 垃圾 {tag}"]

        refused.locator("button.fix").tap()   # corrected and sent again, under the same client UUID
        assert page.input_value("textarea[name=description]") == f"会被拒 噪音 {tag}"
        choose(page, "0402")
        page.locator("#send").tap()
        wait_sent(page, f"会被拒 噪音 {tag}")
    finally:
        db.execute(text("UPDATE categories SET active = true WHERE code = '0403'"))
        db.commit()
    rows = stored(db, tag)
    assert sorted((r.description, r.category_code) for r in rows) == [
        (f"会被拒 噪音 {tag}", "0402"), (f"照常发 垃圾 {tag}", "0101")]
    assert page.locator("li.outbox-item.refused").count() == 0
    assert app_errors(log) == [] and log.page_errors == []


def test_a_connection_lost_mid_send_still_stores_one_incident_and_one_photo(phone, net, db, camera_photo):
    page, log = phone("w0101a")
    tag = uuid.uuid4().hex[:8]
    # 1. The report reaches the app and is stored, but its answer never reaches the phone.
    net.lose_answer_of(b"POST /api/v1/incidents HTTP")
    log_report(page, "0106", f"断线 杂物 {tag}", camera_photo)
    wait_until(lambda: net.cuts == 1, page=page)
    assert len(stored(db, tag)) == 1
    # 2. Sent again: the same client UUID gives the same incident; its photo upload is cut half-way.
    net.cut_during(b"/photos HTTP", 40_000)
    net.restore()
    send_now(page)
    wait_until(lambda: net.cuts == 2, page=page)
    # 3. The photo arrives whole and is stored, but the answer is lost again.
    net.lose_answer_of(b"/photos HTTP")
    net.restore()
    send_now(page)
    wait_until(lambda: net.cuts == 3, page=page)
    # 4. The last try (by itself, or on a tap): the app has the photo already (client photo UUID).
    net.restore()
    send_now(page)
    code = wait_sent(page, f"断线 杂物 {tag}")
    [row] = stored(db, tag)
    assert (row.code, row.photos) == (code, 1)
    assert app_errors(log) == [] and log.page_errors == []


def test_a_camera_photo_over_a_slow_link_is_shrunk_on_the_phone_and_stored(phone, net, db, camera_photo):
    page, log = phone("w0101a")
    posts = []
    page.on("request", lambda r: posts.append(r.url.split("/api/v1/")[-1]) if r.method == "POST" else None)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 400,
                                                  "downloadThroughput": 50 * 1024, "uploadThroughput": 50 * 1024})
    tag = uuid.uuid4().hex[:8]
    log_report(page, "0102", f"慢网 卫生 {tag}", camera_photo)
    uploads = page.evaluate("""() => window.gridsysOutbox.reports().then(items => items.flatMap(
        it => it.photos.filter(p => p.blob).map(p => p.blob.size)))""")
    page.wait_for_function("""() => [...document.querySelectorAll('li.outbox-item .state')]
        .some(e => /照片 1\\/1：\\d+%/.test(e.textContent))""", timeout=30_000)   # progress is shown
    wait_sent(page, f"慢网 卫生 {tag}", timeout=90_000)
    [row] = stored(db, tag)
    assert row.photos == 1
    assert posts[0] == "incidents" and posts[-1].endswith("/photos"), "the report first, the photo after"
    assert len(uploads) == 1 and uploads[0] < 900_000, f"shrunk on the phone: {uploads} bytes, from {len(camera_photo)}"
    data = db.execute(text("SELECT data FROM incident_photos WHERE incident_id = :i"), {"i": row.id}).scalar_one()
    photo = Image.open(io.BytesIO(data))
    assert max(photo.size) <= 1600 and photo.size[0] > photo.size[1]
    assert not photo.getexif().get_ifd(0x8825), "no GPS left in what is stored"


def test_a_pin_placed_by_hand_survives_a_late_gps_fix(phone, net, browser):
    # The phone's position arrives 1.5 s after it is asked for (a cold GPS).
    slow_gps = """(() => { const real = navigator.geolocation.getCurrentPosition.bind(navigator.geolocation);
        navigator.geolocation.getCurrentPosition = (ok, err, o) => real(p => setTimeout(() => ok(p), 1500), err, o); })()"""
    page, log = phone("w0101a", wait_for_worker=False, init_script=slow_gps)
    page.wait_for_function(f"{REPORT_MAP}.getZoom() > 0")
    (lon, lat), _grid = SPOTS["g1_c"]
    page.wait_for_timeout(300)
    assert page.input_value("#lat") == "", "the GPS fix has not come in yet"
    page.touchscreen.tap(*page_point(page, lon, lat, REPORT_MAP))
    page.wait_for_function("document.getElementById('lat').value !== ''")
    tapped = float(page.input_value("#lon")), float(page.input_value("#lat"))
    assert tapped == (pytest.approx(lon, abs=1e-4), pytest.approx(lat, abs=1e-4))
    page.wait_for_timeout(2500)   # the GPS fix comes in now
    assert (float(page.input_value("#lon")), float(page.input_value("#lat"))) == tapped
    assert "位置" in page.inner_text("#where-text")
    # "Use my location" takes the GPS again, on request.
    page.locator("#locate-me").tap()
    page.wait_for_function(f"Math.abs(+document.getElementById('lon').value - {HERE['longitude']}) < 1e-6", timeout=5000)
    assert float(page.input_value("#lat")) == pytest.approx(HERE["latitude"], abs=1e-6)


def test_the_route_is_shown_before_sending(phone, net):
    page, log = phone("w0101a")
    page.wait_for_function("document.getElementById('lat').value !== ''")
    choose(page, "0301")   # civil affairs: w0101b's duty on this grid
    preview = page.locator("#route-preview")
    page.wait_for_function("el => /场镇一网格乙/.test(el.textContent)", arg=preview.element_handle())
    assert "500106110001001" in preview.inner_text() or "网格" in preview.inner_text()
    choose(page, "0201")   # safety: their own
    page.wait_for_function("el => /场镇一网格甲/.test(el.textContent)", arg=preview.element_handle())
    assert log.posts("/api/v1/incidents") == [], "a preview writes nothing"


def worker_version(page) -> str:
    """The version of the service worker controlling the page ("" while none answers: a worker
    being replaced may never answer)."""
    return page.evaluate("""() => new Promise(resolve => {
        const worker = navigator.serviceWorker.controller;
        if (!worker) { resolve(""); return; }
        const channel = new MessageChannel();
        channel.port1.onmessage = e => resolve(e.data.version);
        setTimeout(() => resolve(""), 1000);
        worker.postMessage({type: 'version'}, [channel.port2]); })""")


def test_a_new_version_takes_over_and_sends_what_the_old_one_queued(phone, net, db, field_server):
    page, log = phone("w0101a")
    assert worker_version(page).startswith("field-v1-")
    tag = uuid.uuid4().hex[:8]
    net.cut()
    log_report(page, "0107", f"旧版本 停车 {tag}")
    page.reload()
    assert worker_version(page).startswith("field-v1-")

    field_server.app.config["APP_VERSION"] = "field-v2"   # a new release is deployed meanwhile
    net.block(b"POST /api/v1/incidents HTTP")   # reports cannot get through until the new version runs
    net.restore()
    page.reload()
    def taken_over() -> bool:   # the app checks on load and when it comes to the front; so does this loop
        page.evaluate("navigator.serviceWorker.getRegistration().then(r => r && r.update()).catch(() => null)")
        page.wait_for_timeout(500)
        return worker_version(page).startswith("field-v2-")
    try:   # a loaded CI machine installs the new version slowly: give it time, and say where it stood
        wait_until(taken_over, timeout=120, page=page)
    except AssertionError:
        state = page.evaluate("""() => navigator.serviceWorker.getRegistration().then(r => r ? {
            active: r.active && r.active.state, waiting: r.waiting && r.waiting.state,
            installing: r.installing && r.installing.state} : null)""")
        raise AssertionError(f"the new version never took over: registration {state}, "
                             f"controller says {worker_version(page)!r}")
    page.reload()   # the page now runs entirely under the new version
    assert worker_version(page).startswith("field-v2-")
    assert stored(db, tag) == [] and item(page, f"旧版本 停车 {tag}").and_(page.locator("li.queued")).count() == 1
    net.block(None)
    send_now(page)
    wait_sent(page, f"旧版本 停车 {tag}")
    assert len(stored(db, tag)) == 1
    cached = page.evaluate("""async () => { const out = [];
        for (const name of await caches.keys()) { for (const r of await (await caches.open(name)).keys()) { out.push(r.url); } }
        return out; }""")
    assert any("field-v2" in url for url in cached), "the new version's shell is on the phone"
    assert not any("field-v1" in url for url in cached), "the old one is gone"


def test_a_queued_report_belongs_to_who_logged_it(phone, net, db):
    page, log = phone("w0102a")
    tag = uuid.uuid4().hex[:8]
    net.cut()
    log_report(page, "0101", f"谁的报告 {tag}")
    # Meanwhile their session ends on the server (logged out elsewhere, password changed).
    db.execute(text("UPDATE users SET session_version = session_version + 1 WHERE username = 'w0102a'"))
    db.commit()
    net.restore()
    send_now(page)
    page.locator("#login-again").wait_for()
    assert page.locator("li.outbox-item.queued").count() == 1, "a 401 keeps the queue"
    assert stored(db, tag) == []

    login(page, net.url, "w0101a")   # someone else picks up the same phone
    page.locator("#others-waiting").wait_for()
    assert "1" in page.inner_text("#others-waiting")
    assert item(page, f"谁的报告 {tag}").count() == 0, "not shown to them"
    page.locator("#send-now").evaluate("b => b.click()")   # even asked to send, it is not theirs
    page.wait_for_timeout(1500)
    assert stored(db, tag) == []

    with page.expect_navigation():
        page.locator("header form button").evaluate("b => b.click()")   # 退出
    login(page, net.url, "w0102a")   # the owner comes back: it goes, as theirs
    wait_sent(page, f"谁的报告 {tag}")
    [row] = stored(db, tag)
    assert row.reporter == "w0102a"


def test_without_a_service_worker_the_page_still_works_online(phone, net, db):
    page, log = phone("w0101a", wait_for_worker=False,   # as in some in-app browsers
                      init_script="delete Navigator.prototype.serviceWorker")
    page.locator("#no-offline").wait_for()
    tag = uuid.uuid4().hex[:8]
    log_report(page, "0101", f"无离线 {tag}")
    wait_sent(page, f"无离线 {tag}")
    assert len(stored(db, tag)) == 1


def test_the_phone_warns_before_its_storage_runs_out(phone, net, camera_photo):
    nearly_full = """navigator.storage.estimate = () => Promise.resolve({usage: 95e6, quota: 100e6});"""
    page, log = phone("w0101a", init_script=nearly_full)
    net.cut()
    log_report(page, "0106", f"空间 {uuid.uuid4().hex[:8]}", camera_photo)
    line = page.locator("#storage-use")
    page.wait_for_function("document.getElementById('storage-use').classList.contains('warning')")
    assert "空间快满了" in line.inner_text() and "KB" in line.inner_text()


def test_an_answer_that_is_not_the_app_s_keeps_the_photo(phone, net, db, camera_photo):
    """A captive portal's page (200, HTML) or a proxy's 413 page is not "stored": the photo stays."""
    page, log = phone("w0101a")
    answers = iter([(200, "<html>请登录 Wi-Fi</html>"), (413, "<html>413 Request Entity Too Large</html>")])

    def not_the_app(route):
        status, body = next(answers, (None, None))
        if status is None:
            route.continue_()
        else:
            route.fulfill(status=status, content_type="text/html", body=body)
    page.route("**/api/v1/incidents/*/photos", not_the_app)
    tag = uuid.uuid4().hex[:8]
    log_report(page, "0104", f"门户 {tag}", camera_photo)
    entry = item(page, f"门户 {tag}")
    page.wait_for_function("() => document.querySelector('#outbox-count').textContent === '1'")
    page.wait_for_timeout(500)
    assert entry.and_(page.locator("li.sent")).count() == 0
    kept = page.evaluate("() => window.gridsysOutbox.reports().then(items => items.map(it => it.photos.map(p => !!p.blob)))")
    assert kept == [[True]], "the photo is still on the phone"
    send_now(page)   # the portal's 413 now: still kept
    page.wait_for_timeout(1000)
    assert entry.and_(page.locator("li.sent")).count() == 0
    send_now(page)   # the real app at last
    wait_sent(page, f"门户 {tag}")
    [row] = stored(db, tag)
    assert row.photos == 1


def test_after_logout_the_phone_logs_nothing_for_the_last_person(phone, net, db):
    page, log = phone("w0102a")
    page.fill("textarea[name=description]", "只写了一半的草稿")
    page.wait_for_timeout(200)
    with page.expect_navigation():
        page.locator("header form button").evaluate("b => b.click()")   # 退出
    net.cut()
    page.goto("/report")   # offline: the service worker answers with the shell
    page.locator("#report-form").wait_for()
    assert page.input_value("textarea[name=description]") == "", "the last person's draft is gone"
    page.wait_for_function("document.getElementById('lat').value !== ''")
    choose(page, "0101")
    page.fill("textarea[name=description]", f"无人登录 {uuid.uuid4().hex[:8]}")
    page.locator("#send").tap()
    assert not page.locator("#login-again").is_hidden()
    assert page.evaluate("() => window.gridsysOutbox.reports()") == [], "nothing queued under anyone's name"


def test_a_photo_still_being_shrunk_is_never_lost_or_moved(phone, net, db, camera_photo):
    slow_decode = """(() => { const real = window.createImageBitmap;
        window.createImageBitmap = (...a) => new Promise(r => setTimeout(r, 1500)).then(() => real(...a)); })()"""
    page, log = phone("w0101a", init_script=slow_decode)
    page.wait_for_function("document.getElementById('lat').value !== ''")
    choose(page, "0102")
    tag = uuid.uuid4().hex[:8]
    page.fill("textarea[name=description]", f"压缩中 {tag}")
    page.set_input_files("#photo-input", {"name": "IMG_0002.jpg", "mimeType": "image/jpeg", "buffer": camera_photo})
    page.evaluate("document.getElementById('report-form').requestSubmit()")   # Send, while the photo is shrunk
    page.locator("#photo-thumbs li.thumb").wait_for()
    assert page.evaluate("() => window.gridsysOutbox.reports()") == [], "not sent without its photo"
    page.locator("#send").tap()
    wait_sent(page, f"压缩中 {tag}")
    [row] = stored(db, tag)
    assert row.photos == 1
