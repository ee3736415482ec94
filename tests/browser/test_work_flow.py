"""The case flow between people on a phone (issue 11, "done when"): the worker sees a new
assignment announced and waiting in 待受理, accepts and resolves it; the leader finds it in 待核查
from the landing page in two taps and sends it back; the worker sees the return."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from gridsys.incidents.models import Incident
from gridsys.people.models import User

from .helpers import SPOTS, report

pytestmark = pytest.mark.browser


def chip(page, name: str):
    """A queue's chip on the landing page of a phone (the report page of a worker, the map of a leader)."""
    return page.locator(f"main .queue-strip a[data-queue={name}]")


def test_assigned_resolved_verified_and_returned_on_phones(open_page, db):
    tag = uuid.uuid4().hex[:6]
    reporter = db.scalar(select(User).where(User.username == "w0101a"))
    (lon, lat), grid = SPOTS["g1_c"]
    incident = report(db, reporter, lon, lat, "0302", f"空巢老人需要探访 {tag}", grid=grid)   # civil affairs
    db.commit()
    assert incident.assignee.username == "w0101b"

    # The worker lands on the report page: a new message and the work in 待受理, one tap to the list.
    worker, _log = open_page("phone", user="w0101b")
    assert worker.url.endswith("/report")
    assert int(worker.locator("main .queue-strip a.news .count").inner_text()) >= 1
    assert int(chip(worker, "to_accept").locator(".count").inner_text()) >= 1
    with worker.expect_navigation():
        chip(worker, "to_accept").tap()
    with worker.expect_navigation():
        worker.locator("main li.incident a", has_text=incident.code).tap()
    accept = worker.locator("details.primary-action[data-action=accept]")
    assert accept.get_attribute("open") is not None, "the handler's next step is open"
    with worker.expect_navigation():
        accept.locator("button[type=submit]").tap()
    resolve = worker.locator("details.primary-action[data-action=resolve]")
    resolve.locator("textarea[name=note]").fill("已上门探访，登记需求")
    with worker.expect_navigation():
        resolve.locator("button[type=submit]").tap()
    db.expire_all()
    assert db.get(Incident, incident.id).status == "resolved"

    # The leader lands on the map: 待核查 there, then the incident: two taps.
    leader, _log = open_page("phone", user="leader01")
    assert leader.url.endswith("/map")
    with leader.expect_navigation():
        chip(leader, "to_verify").tap()                                                # tap 1
    with leader.expect_navigation():
        leader.locator("main li.incident a", has_text=incident.code).tap()             # tap 2
    assert leader.url.endswith(f"/incidents/{incident.id}")
    back = leader.locator("details.primary-action[data-action=reopen]")
    assert leader.locator("details.primary-action").count() == 2, "核查结案 and 退回, nothing else open"
    back.locator("textarea[name=note]").fill("请补充探访照片")
    with leader.expect_navigation():
        back.locator("button[type=submit]").tap()
    db.expire_all()
    assert db.get(Incident, incident.id).status == "reopened"

    # The worker sees the return: a new message saying so, and the case waiting in 被退回.
    worker.goto("/report")
    chip(worker, "returned").wait_for()
    with worker.expect_navigation():
        worker.locator("main .queue-strip a.news").tap()
    assert "被退回返工" in worker.locator("main li.incident", has_text=incident.code).first.inner_text()
    worker.goto("/")
    with worker.expect_navigation():
        worker.locator("main .queues a[data-queue=returned]").tap()
    assert worker.locator("main li.incident a", has_text=incident.code).count() == 1
