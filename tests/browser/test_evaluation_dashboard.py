"""The evaluation dashboard on a phone (issue 16, "done when"), in Chromium at 390×844 with the
Content-Security-Policy enforced: with a hand-built history in last month, the town administrator
opens 考核 from the menu; last month's figures of the town show as cards and every chart is drawn
(ECharts, SVG); a tap on the worst grid's bar opens the drill page listing exactly its late
incidents; back on the dashboard the month is published, and the public page shows its figures.
The history is all closed, so no other test's open incidents change."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from gridsys import settings
from gridsys.evaluation import periods
from gridsys.incidents import lifecycle, services
from gridsys.people.models import User

from .helpers import SPOTS, no_sideways_scroll
from .test_phone_layout import MIN_TAP, PRIMARY, SMALL_OR_OFF_SCREEN, WIDTH

pytestmark = pytest.mark.browser

WORST = "500106110001002"
SHOT = "/tmp/eval_dashboard_phone.png"
# Where the worst grid's bar starts (its value may be 0%: the bar is then barMinHeight wide).
BAR = """() => {
    const el = document.getElementById("chart-grid"), chart = echarts.getInstanceByDom(el);
    const [x, y] = chart.convertToPixel({seriesIndex: 0}, [0, 0]), r = el.getBoundingClientRect();
    return [r.left + x + 3, r.top + y];
}"""


@pytest.fixture
def last_month(db):
    """Last month (local), categories of 24 h and 72 h: in grid 1 of area 1 two incidents closed on
    time; in grid 2 (the worst) two closed late; on-time closure of the town 2 / 4."""
    t0 = periods.last_month(settings.DEFAULTS.zone).start + timedelta(days=3, hours=1)
    who = {u.username: u for u in db.scalars(select(User))}

    def closed_after(spot, category, hours):
        (lon, lat), _grid = SPOTS[spot]
        incident, _created = services.create_incident(db, who["w0101a" if spot.startswith("g1") else "w0102a"],
                                                      services.NewIncident(client_uuid=uuid.uuid4(), lon=lon, lat=lat,
                                                                           category=category, description="考核测试"),
                                                      at=t0)
        handler = incident.assignee
        lifecycle.transition(db, incident, handler, "accept", at=t0 + timedelta(hours=1))
        lifecycle.transition(db, incident, handler, "resolve", note="已处理", at=t0 + timedelta(hours=hours - 1))
        lifecycle.transition(db, incident, who["leader01"], "close", at=t0 + timedelta(hours=hours))
        return incident
    made = {"on_time": [closed_after("g1_a", "0101", 5), closed_after("g1_e", "0104", 30)],
            "late": [closed_after("g2_a", "0101", 30), closed_after("g2_a", "0104", 80)]}
    db.commit()
    return made


def test_the_administrator_reads_last_month_and_drills_into_the_worst_grid(open_page, last_month):
    page, log = open_page("phone", user="admin", bypass_csp=False)
    page.locator("#site-menu > summary").tap()
    with page.expect_navigation():
        page.locator("#site-menu nav a", has_text="考核").tap()
    assert page.url.endswith("/evaluation")
    for chart in ("month", "area", "grid", "person", "category", "duty"):
        page.wait_for_selector(f'#chart-{chart}[data-drawn="1"] svg', state="attached")
    assert page.locator("#figure-on_time_closure_rate .figure-value").inner_text() == "50.0%"
    assert page.locator("#figure-on_time_closure_rate a.rest").inner_text() == "逾期未结 2"
    assert page.locator("#figure-reported .figure-value").inner_text() == "4"
    assert page.locator("#figure-on_time_closure_rate details").count() == 1
    assert no_sideways_scroll(page)
    assert page.evaluate(SMALL_OR_OFF_SCREEN, [PRIMARY + ", main a.rest", MIN_TAP, WIDTH]) == []
    page.screenshot(path=SHOT, full_page=True)

    # The worst grid heads the ranking: a tap on its bar lists its late incidents.
    page.locator("#chart-grid").scroll_into_view_if_needed()
    x, y = page.evaluate(BAR)
    with page.expect_navigation():
        page.mouse.click(x, y)
    assert "/evaluation/incidents?" in page.url and f"key={WORST}" in page.url and "part=rest" in page.url
    assert page.locator("#drill-title").inner_text() == "按期结案率 · 逾期未结"
    listed = page.locator("#drill-incidents td.title a.code").all_inner_texts()
    assert listed == [i.code for i in sorted(last_month["late"], key=lambda i: i.id)]
    page.screenshot(path="/tmp/eval_drill_phone.png", full_page=True)

    # Back on the dashboard, the month's results are published; the public page shows them.
    page.go_back()
    page.locator("#publish button[type=submit]").scroll_into_view_if_needed()
    with page.expect_navigation():
        page.locator("#publish button[type=submit]").tap()
    assert "/public/500106110/evaluations/" in page.url
    on_time = page.locator('.evaluation-town tr[data-indicator="on_time_closure_rate"] td.value')
    assert on_time.inner_text().startswith("50")
    assert page.locator(f'.evaluation-grids tr[data-code="{WORST}"]').count() == 1
    assert no_sideways_scroll(page)
    page.screenshot(path="/tmp/eval_public_phone.png", full_page=True)
    log.assert_clean()
