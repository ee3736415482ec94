"""A resident's report through 立案, 不予受理, 合并, handling and 回访, on the real lifecycle."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from gridsys.errors import Conflict, Forbidden, GridsysError, NotFound
from gridsys.incidents import escalation, permissions, privacy, queues
from gridsys.incidents.models import Incident, Notification
from gridsys.people.access import scope_for
from gridsys.residents import services as residents
from tests.incidents.helpers import act, events_of, new_report, report
from tests.residents.helpers import SECRET, resident_report


def counts(session, user):
    return queues.counts(session, user, scope_for(session, user))


def kinds(session, user):
    return [n.kind for n in session.scalars(select(Notification).where(Notification.user_id == user.id))]


def test_a_residents_report_waits_for_registration_with_the_routed_worker_and_the_leader(session, world):
    submitted = resident_report(session, "g11", "0201")
    incident = submitted.incident
    assert (incident.status, incident.channel, incident.assignee_id) == ("reported", "resident", world.safety1.id)
    assert incident.reporter_id is None and incident.dispatched_at is None
    assert incident.due_at == incident.created_at + timedelta(hours=incident.category.response_hours)
    assert incident.next_escalation_at == incident.due_at
    assert [e.action for e in events_of(session, incident)] == ["report", "to_register"]
    assert counts(session, world.safety1)["to_register"] == 1 and counts(session, world.safety1)["to_accept"] == 0
    assert counts(session, world.leader1)["to_register"] == 1
    assert counts(session, world.leader2)["to_register"] == 0
    assert kinds(session, world.safety1) == ["to_register"] and kinds(session, world.leader1) == ["to_register"]
    assert residents.by_token(session, submitted.token).id == incident.id


def test_a_resend_gets_the_same_report_and_link(session, world):
    first = resident_report(session, "g11", client_uuid="0b6f1a52-9f3c-4f62-9d4e-1a2b3c4d5e6f")
    again = resident_report(session, "g11", client_uuid="0b6f1a52-9f3c-4f62-9d4e-1a2b3c4d5e6f")
    assert (again.incident.id, again.token, again.created) == (first.incident.id, first.token, False)


def test_a_staff_uuid_cannot_be_claimed_by_a_resident(session, world):
    staff = report(session, world.safety1, "g11", client_uuid="1b6f1a52-9f3c-4f62-9d4e-1a2b3c4d5e6f")
    with pytest.raises(Conflict) as refused:
        resident_report(session, "g11", client_uuid=str(staff.client_uuid))
    assert refused.value.code == "client_uuid_taken"


def test_only_resident_categories_and_valid_phones(session, world):
    with pytest.raises(GridsysError) as refused:
        resident_report(session, "g11", "0602")   # 心理危机风险: staff only
    assert refused.value.code == "category_not_for_residents"
    with pytest.raises(GridsysError) as refused:
        resident_report(session, "g11", phone="call me maybe")
    assert refused.value.code == "phone_invalid"


def test_register_dispatches_it_and_starts_the_deadline(session, world):
    incident = resident_report(session).incident
    act(session, incident, world.safety1, "register")
    assert (incident.status, incident.registered_at is not None) == ("assigned", True)
    assert incident.dispatched_at == incident.registered_at
    assert incident.due_at == incident.registered_at + timedelta(hours=incident.category.deadline_hours)
    assert counts(session, world.safety1)["to_register"] == 0 and counts(session, world.safety1)["to_accept"] == 1
    act(session, incident, world.safety1, "accept")
    assert incident.status == "in_progress"


def test_the_leader_registers_to_another_worker(session, world):
    incident = resident_report(session).incident
    act(session, incident, world.leader1, "register", assignee="general1")
    assert (incident.status, incident.assignee_id) == ("assigned", world.general1.id)
    same = resident_report(session).incident   # naming the routed worker again is fine
    act(session, same, world.leader1, "register", assignee="safety1")
    assert (same.status, same.assignee_id) == ("assigned", world.safety1.id)


def test_decline_cancels_with_a_public_reply(session, world):
    incident = resident_report(session).incident
    with pytest.raises(GridsysError):
        act(session, incident, world.safety1, "decline")   # a reply is required
    event = act(session, incident, world.safety1, "decline", note="不属于本网格职责，请拨打12345")
    assert (incident.status, incident.cancel_reason, event.public) == ("cancelled", "declined", True)


def test_merge_links_the_duplicate(session, world):
    original = resident_report(session).incident
    duplicate = resident_report(session).incident
    act(session, duplicate, world.leader1, "merge", duplicate_of=original.code)
    assert (duplicate.status, duplicate.cancel_reason, duplicate.duplicate_of_id) == (
        "cancelled", "duplicate", original.id)
    third = resident_report(session).incident
    with pytest.raises(GridsysError) as refused:
        act(session, third, world.leader1, "merge", duplicate_of=third.code)
    assert refused.value.code == "duplicate_of_unknown"


def test_register_decline_and_merge_are_for_residents_reports_only(session, world):
    staff = report(session, world.leader1, "g11")
    with pytest.raises(Conflict) as refused:
        act(session, staff, world.leader1, "decline", note="x")
    assert refused.value.code in ("not_a_resident_report", "transition_not_allowed")
    other = resident_report(session).incident
    assert {"register", "decline", "merge"} <= set(permissions.allowed_actions(
        world.safety1, scope_for(session, world.safety1), other))
    assert not {"reassign", "take"} & set(permissions.allowed_actions(
        world.leader1, scope_for(session, world.leader1), other))


def test_an_unregistered_report_escalates_at_its_response_deadline(session, world):
    incident = resident_report(session).incident
    done = escalation.sweep(session, as_of=incident.due_at + timedelta(minutes=1))
    assert incident.id in done
    session.refresh(incident)
    assert (incident.escalation_level, incident.status) == (1, "reported")


def closed(session, world, **kw):
    incident = resident_report(session, **kw).incident
    act(session, incident, world.safety1, "register")
    act(session, incident, world.safety1, "resolve", note="已清理", public=True)
    act(session, incident, world.leader1, "close")
    return incident


def test_an_unsatisfied_rating_goes_to_the_leader_who_reopens_it(session, world):
    incident = closed(session, world)
    with pytest.raises(Conflict):
        act(session, incident, world.leader1, "reopen", note="居民不满意")   # not rated yet
    residents.rate(session, incident, "unsatisfied", "还是很脏")
    session.commit()
    assert counts(session, world.leader1)["unsatisfied"] == 1
    assert "unsatisfied" in kinds(session, world.leader1)
    with pytest.raises(Forbidden):
        act(session, incident, world.safety1, "reopen", note="我来")
    act(session, incident, world.leader1, "reopen", note="重新清理")
    assert (incident.status, incident.review, incident.reopen_count) == ("reopened", "reopened", 1)
    assert counts(session, world.leader1)["unsatisfied"] == 0


def test_the_leader_may_confirm_the_closure_instead(session, world):
    incident = closed(session, world)
    residents.rate(session, incident, "unsatisfied")
    event = act(session, incident, world.leader1, "confirm", note="已按标准清理，垃圾为新倒入")
    assert (incident.status, incident.review, event.public) == ("closed", "confirmed", True)
    with pytest.raises(Conflict):
        act(session, incident, world.leader1, "reopen", note="再来")


def test_a_rating_is_once_and_within_the_days(session, world):
    incident = closed(session, world)
    with pytest.raises(GridsysError) as refused:
        residents.rate(session, incident, "great")
    assert refused.value.code == "rating_unknown"
    residents.rate(session, incident, "satisfied", "很快")
    with pytest.raises(Conflict) as refused:
        residents.rate(session, incident, "unsatisfied")
    assert refused.value.code == "already_rated"
    late = closed(session, world)
    late.closed_at -= timedelta(days=30)
    session.commit()
    with pytest.raises(Conflict) as refused:
        residents.rate(session, late, "satisfied")
    assert refused.value.code == "rating_closed"


def test_staff_record_a_telephone_callback(session, world):
    incident = closed(session, world)
    residents.rate(session, incident, "basically", "电话回访：基本满意", staff=world.leader1)
    assert (incident.rating, incident.rated_via) == ("basically", "phone")


def test_a_lost_link_comes_back_for_the_code_and_phone(session, world):
    submitted = resident_report(session, phone="138-0000-1111")
    assert residents.recover(session, submitted.incident.code, "13800001111", secret=SECRET) == submitted.token
    for code, phone in ((submitted.incident.code, "13900000000"), ("nope", "13800001111"),
                        (submitted.incident.code, "")):
        with pytest.raises(NotFound):
            residents.recover(session, code, phone, secret=SECRET)
    with pytest.raises(NotFound):
        residents.by_token(session, "0" * 32)
    with pytest.raises(NotFound):
        residents.by_token(session, "<script>")


def test_contacts_are_forgotten_after_closure(session, world):
    incident = closed(session, world)
    open_one = resident_report(session).incident
    assert privacy.purge_contacts(session, days=30, as_of=incident.closed_at + timedelta(days=29)) == 0
    assert privacy.purge_contacts(session, days=30, as_of=incident.closed_at + timedelta(days=31)) == 1
    session.expire_all()
    assert session.get(Incident, incident.id).contact_phone is None
    assert session.get(Incident, open_one.id).contact_phone == "13800001111"


def test_phone_numbers_are_masked(session, world):
    assert privacy.mask_phone("13800001111") == "138****1111"
    assert privacy.mask_numbers("请打13800001111或023-6543 2100联系") == "请打138****1111或023****2100联系"
    assert privacy.mask_numbers("3栋2单元") == "3栋2单元"
