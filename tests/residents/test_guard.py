"""The anonymous pages' guard: the proof of work (missing, forged, too little work, too old,
spent) and the per-address and per-device limits (429 with Retry-After and a Chinese message,
counted under a lock so that parallel requests cannot slip past, stored as hashes only)."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from gridsys import create_app
from gridsys.clock import now
from gridsys.errors import GridsysError
from gridsys.residents import guard
from gridsys.residents.models import ResidentAttempt
from tests.committed import Racer, backend_pid, wait_until_blocked
from tests.residents.http import counts, open_form, refusal, report_fields, send_report, token_of, visible

SECRET = "test-secret"
LIMIT = 3


@pytest.fixture
def app(database_url, session):
    """The residents' limits made small, and the check as costly as in production."""
    return create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": SECRET,
                       "SESSION_FACTORY": lambda: session, "TILES_URL": "", "WEBHOOKS_IN_BACKGROUND": False,
                       "RESIDENT_REPORTS_PER_HOUR": LIMIT, "RESIDENT_RECOVERIES_PER_HOUR": 2})


def post_with(client, grid_code, **proof):
    """The report form with the page's own fields, then ``proof`` (None: the field left out)."""
    form = open_form(client, f"/r/{grid_code}")
    form.update(report_fields())
    form.update(proof)
    return client.post(f"/r/{grid_code}", data={k: v for k, v in form.items() if v is not None})


def phone(client, address: str, device: str | None):
    """A client at ``address`` with this device id (None: a new one, given by the next page)."""
    client.environ_base["REMOTE_ADDR"] = address
    if device:
        client.set_cookie(guard_cookie(), device)
    else:
        client.delete_cookie(guard_cookie())
    return client


def guard_cookie() -> str:
    from gridsys.residents.views import DEVICE_COOKIE
    return DEVICE_COOKIE


# --- the proof of work -----------------------------------------------------------------------------

def test_a_solved_proof_passes_and_its_work_is_real():
    challenge = guard.new_challenge(SECRET)
    counter = guard.solve(challenge, 14)
    proof = guard.check_proof(SECRET, challenge, counter, bits=14)
    assert guard.leading_zero_bits(guard.work(challenge, counter)) >= 14
    assert proof.digest and len(proof.digest) == 64
    tries = [c for c in range(int(counter)) if guard.leading_zero_bits(guard.work(challenge, str(c))) >= 14]
    assert tries == [], "the counter is the first that works: nothing cheaper passes"
    assert guard.leading_zero_bits(b"\x00\x0f") == 12 and guard.leading_zero_bits(b"\x80") == 0


def test_a_form_without_the_proof_is_refused_and_nothing_is_written(client, session, world):
    before = counts(session)
    for missing in ({"challenge": None}, {"counter": None}, {"challenge": "", "counter": ""}):
        response = post_with(client, world.g11.code, **missing)
        assert response.status_code == 400 and refusal(response) == "proof_missing", missing
        assert "页面校验未完成" in visible(response)
    assert counts(session) == before


@pytest.mark.parametrize("change", ["forged", "other_secret", "lazy", "garbage", "long_counter", "negative_counter"])
def test_a_forged_or_undone_proof_is_invalid(client, session, world, change):
    before = counts(session)
    challenge = guard.new_challenge(SECRET)
    stamp = challenge.rsplit(".", 1)[0]
    proof = {
        "forged": {"challenge": stamp + "." + "0" * 32},
        "other_secret": {"challenge": (c := guard.new_challenge("another-secret")), "counter": guard.solve(c, 14)},
        "lazy": {"challenge": challenge, "counter": next(str(n) for n in range(10_000) if guard.leading_zero_bits(
            guard.work(challenge, str(n))) < 14)},
        "garbage": {"challenge": "<script>alert(1)</script>", "counter": "1"},
        "long_counter": {"challenge": challenge, "counter": "1" * 40},
        "negative_counter": {"challenge": challenge, "counter": "-1"},
    }[change]
    if "counter" not in proof:
        proof["counter"] = guard.solve(proof["challenge"], 14)
    response = post_with(client, world.g11.code, **proof)
    assert response.status_code == 400 and refusal(response) == "proof_invalid", change
    assert counts(session) == before


def test_an_old_proof_has_expired(client, session, world):
    old = guard.new_challenge(SECRET, at=now() - timedelta(hours=1, minutes=1))
    response = post_with(client, world.g11.code, challenge=old, counter=guard.solve(old, 14))
    assert response.status_code == 400 and refusal(response) == "proof_expired"
    future = guard.new_challenge(SECRET, at=now() + timedelta(minutes=10))
    response = post_with(client, world.g11.code, challenge=future, counter=guard.solve(future, 14))
    assert response.status_code == 400 and refusal(response) == "proof_expired"
    fresh = guard.new_challenge(SECRET, at=now() - timedelta(minutes=59))
    assert token_of(post_with(client, world.g11.code, challenge=fresh, counter=guard.solve(fresh, 14)))


def test_a_proof_buys_one_report(client, session, world):
    challenge = guard.new_challenge(SECRET)
    proof = {"challenge": challenge, "counter": guard.solve(challenge, 14)}
    token_of(post_with(client, world.g11.code, **proof))
    before = counts(session)
    again = post_with(client, world.g11.code, client_uuid=str(uuid.uuid4()), **proof)
    assert again.status_code == 400 and refusal(again) == "proof_reused"
    assert counts(session) == before


def test_a_refused_report_does_not_spend_its_proof(client, session, world):
    challenge = guard.new_challenge(SECRET)
    proof = {"challenge": challenge, "counter": guard.solve(challenge, 14)}
    assert refusal(post_with(client, world.g11.code, description="", **proof)) == "description_missing"
    assert token_of(post_with(client, world.g11.code, **proof)), "corrected and sent with the same check"


# --- the limits ------------------------------------------------------------------------------------

def test_reports_are_limited_per_address(client, session, world):
    for n in range(LIMIT):
        phone(client, "10.1.2.3", f"device-{n}-aaaaaaaaaaaaaaaaaaaa")   # a new device each time
        token_of(send_report(client, world.g11.code))
    phone(client, "10.1.2.3", "device-x-aaaaaaaaaaaaaaaaaaaa")
    before = counts(session)
    refused = send_report(client, world.g11.code, description="第四条")
    assert refused.status_code == 429 and refusal(refused) == "resident_reports_limited"
    assert 3500 <= int(refused.headers["Retry-After"]) <= 3601
    assert "此手机或网络在过去一小时内提交的诉求过多：请 60 分钟后再试" in visible(refused)
    assert "第四条" in refused.get_data(as_text=True), "what was typed stays"
    assert counts(session) == before
    phone(client, "10.1.2.4", "device-y-aaaaaaaaaaaaaaaaaaaa")
    assert token_of(send_report(client, world.g11.code)), "another network is not held back"


def test_reports_are_limited_per_device(client, session, world):
    for n in range(LIMIT):
        phone(client, f"10.9.0.{n}", "one-phone-aaaaaaaaaaaaaaaaaa")
        token_of(send_report(client, world.g11.code))
    phone(client, "10.9.0.99", "one-phone-aaaaaaaaaaaaaaaaaa")
    refused = send_report(client, world.g11.code)
    assert refused.status_code == 429 and refusal(refused) == "resident_reports_limited"


def test_the_limit_looks_back_one_hour(client, session, world):
    phone(client, "10.7.7.7", None)
    for _ in range(LIMIT):
        token_of(send_report(client, world.g11.code))
    assert send_report(client, world.g11.code).status_code == 429
    session.execute(update(ResidentAttempt).values(at=ResidentAttempt.at - timedelta(minutes=61)))
    session.commit()
    assert token_of(send_report(client, world.g11.code))


def test_the_page_gives_a_device_id_and_only_hashes_are_stored(client, session, world):
    response = phone(client, "203.0.113.9", None).get(f"/r/{world.g11.code}")
    device = client.get_cookie(guard_cookie())
    assert device is not None and "HttpOnly" in response.headers["Set-Cookie"]
    token_of(send_report(client, world.g11.code))
    subjects = session.scalars(select(ResidentAttempt.subject)).all()
    assert sorted(s.split(":")[0] for s in subjects) == ["addr", "dev"]
    assert not [s for s in subjects if "203.0.113" in s or device.value in s]
    assert guard.subject(SECRET, "addr", "203.0.113.9") in subjects


def test_an_ipv6_phone_is_counted_by_its_prefix(client, session, world):
    for n in range(LIMIT):
        phone(client, f"2001:db8:1:2::{n + 1}", None)
        token_of(send_report(client, world.g11.code))
    phone(client, "2001:db8:1:2:ffff::1", None)
    assert send_report(client, world.g11.code).status_code == 429


def test_recoveries_are_limited_and_counted_even_when_refused(client, session, world):
    token = token_of(send_report(client, world.g11.code))
    code = session.execute(text("SELECT code FROM incidents WHERE channel = 'resident'")).scalar_one()
    phone(client, "10.5.5.5", None)
    for _ in range(2):
        wrong = client.post("/t/recover", data={**open_form(client, "/t/recover"), "code": code,
                                                "phone": "13999999999"})
        assert wrong.status_code == 404 and refusal(wrong) == "tracking_not_recovered"
    right = client.post("/t/recover", data={**open_form(client, "/t/recover"), "code": code, "phone": "13800001111"})
    assert right.status_code == 429 and refusal(right) == "recoveries_limited" and right.headers["Retry-After"]
    assert token not in right.get_data(as_text=True)
    missing = client.post("/t/recover", data={**open_form(client, "/t/recover", solve=False), "code": code,
                                              "phone": "13800001111"})
    assert missing.status_code == 400 and refusal(missing) == "proof_missing"


def test_parallel_requests_cannot_slip_past_the_limit(engine):
    """Two connections: the second waits on the first's lock, then sees its attempt and is refused."""
    name = f"test:{uuid.uuid4().hex}"
    first, second = Session(engine), Session(engine)
    try:
        guard.hold(first, [name], limit=1, code="resident_reports_limited")
        guard.count(first, [name])

        def race():
            guard.hold(second, [name], limit=1, code="resident_reports_limited")
            guard.count(second, [name])
            second.commit()
        pid = backend_pid(second)
        racer = Racer(race)
        wait_until_blocked(engine, pid, racer)
        first.commit()
        racer.join()
        assert isinstance(racer.error, GridsysError) and racer.error.code == "resident_reports_limited"
    finally:
        first.rollback()
        second.rollback()
        with engine.begin() as conn:
            conn.execute(delete(ResidentAttempt).where(ResidentAttempt.subject == name))
        first.close()
        second.close()


def test_old_attempts_and_proofs_are_forgotten(session):
    guard.count(session, ["addr:old"], at=now() - timedelta(days=2))
    guard.count(session, ["addr:new"])
    old = guard.Proof(guard.new_challenge(SECRET), "1")
    guard.spend(session, old, at=now() - timedelta(days=2))
    guard.forget(session)
    assert session.scalars(select(ResidentAttempt.subject).where(
        ResidentAttempt.subject.in_(["addr:old", "addr:new"]))).all() == ["addr:new"]
    assert session.execute(text("SELECT count(*) FROM proofs_spent WHERE digest = :d"),
                           {"d": old.digest}).scalar_one() == 0
