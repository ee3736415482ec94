"""incident_escalations follows incidents whatever writes them (triggers, migration 0022): the
app's paths are checked after every test in this package (conftest.escalations_follow_incidents);
here, what only SQL does, and the update the sweep makes in place."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text

from gridsys import settings
from gridsys.incidents import escalation, queues, services
from gridsys.incidents.models import Incident
from gridsys.people import access
from tests.incidents.helpers import ESCALATIONS_ASTRAY, act, report


def kept(session, incident_id):
    return session.execute(text("SELECT level, next_at, assignee_id FROM incident_escalations "
                                "WHERE incident_id = :i"), {"i": incident_id}).one_or_none()


def test_a_row_appears_with_the_report_follows_it_and_goes_when_it_closes(session, world):
    incident = report(session, world.general1, "g11", "0201")
    assert kept(session, incident.id) == (0, incident.next_escalation_at, incident.assignee_id)
    act(session, incident, incident.assignee, "accept")
    act(session, incident, incident.assignee, "resolve", note="done")
    assert kept(session, incident.id) is None   # resolved: no longer open
    session.execute(text("UPDATE incidents SET status = 'reopened' WHERE id = :i"), {"i": incident.id})
    assert kept(session, incident.id) is not None
    assert session.execute(text(ESCALATIONS_ASTRAY)).all() == []


def test_sql_written_by_hand_is_followed_too(session, world):
    """psql, a data fix, a bulk load: the same triggers."""
    a, b = (report(session, world.general1, "g11", "0201") for _ in range(2))
    session.execute(text("UPDATE incidents SET escalation_level = 2, escalated_at = now(), next_escalation_at = NULL "
                         "WHERE id = :i"), {"i": a.id})
    assert kept(session, a.id) == (2, None, a.assignee_id)
    session.execute(text("UPDATE incidents SET description = 'edited' WHERE id = :i"), {"i": b.id})   # nothing of ours
    assert session.execute(text(ESCALATIONS_ASTRAY)).all() == []
    # Incidents are never deleted (their events are append-only); a deletion still takes the row away.
    session.execute(text("ALTER TABLE incident_events DISABLE TRIGGER incident_events_append_only"))
    for table in ("incident_events", "notifications", "incidents"):
        session.execute(text(f"DELETE FROM {table} WHERE {'id' if table == 'incidents' else 'incident_id'} = :i"),
                        {"i": b.id})
    assert kept(session, b.id) is None and kept(session, a.id) is not None
    session.execute(text("TRUNCATE incidents CASCADE"))
    assert session.execute(text("SELECT count(*) FROM incident_escalations")).scalar() == 0


def test_the_sweeps_update_of_incidents_is_in_place(session, world):
    """HOT: no index of incidents names what the sweep changes, and new pages keep room (for one
    new version here: in one transaction the old ones are not yet reclaimed, so not for many)."""
    incidents = [report(session, world.general1, "g11", "0201", at=escalation.now() - timedelta(days=2))]
    session.execute(text("SELECT pg_stat_clear_snapshot()"))
    before = session.execute(text("SELECT n_tup_hot_upd, n_tup_upd FROM pg_stat_xact_user_tables "
                                  "WHERE relname = 'incidents'")).one()
    assert sorted(escalation.sweep(session, as_of=escalation.now())) == sorted(i.id for i in incidents)
    after = session.execute(text("SELECT n_tup_hot_upd, n_tup_upd FROM pg_stat_xact_user_tables "
                                 "WHERE relname = 'incidents'")).one()
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1), (before, after)   # (HOT, all)
    assert {kept(session, i.id)[0] for i in incidents} == {1}
    assert session.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'incidents'")).scalar() \
        == ["fillfactor=85"]


def test_a_batch_under_a_generic_plan_raises_each_to_its_own_holders(session, world):
    """A connection that has swept ten times may get PostgreSQL's generic plan for the batch's
    statement (it guesses 10 rows for 2 000). The statement joins nothing, so that plan is as good
    as any (a join of the holders' groups was re-aggregated per row: 1.9 s a batch at city scale);
    here, that it is right: each incident's notice goes to its own area's leader."""
    mine = [report(session, world.general1, spot, "0201", at=escalation.now() - timedelta(days=2))
            for spot in ("g11", "g21", "g11", "g21")]
    session.execute(text("SET plan_cache_mode = force_generic_plan"))
    try:
        assert sorted(escalation.sweep(session, as_of=escalation.now())) == sorted(i.id for i in mine)
    finally:
        session.execute(text("RESET plan_cache_mode"))
    told = dict(session.execute(text(
        "SELECT n.incident_id, u.username FROM notifications n JOIN users u ON u.id = n.user_id "
        "WHERE n.kind = 'escalated' AND n.incident_id = ANY(:ids)"), {"ids": [i.id for i in mine]}).all())
    assert [told[i.id] for i in mine] == ["leader1", "leader2", "leader1", "leader2"]
    holders = session.execute(text("SELECT data -> 'holders' FROM incident_events WHERE action = 'escalate' "
                                   "AND incident_id = :i"), {"i": mine[1].id}).scalar()
    assert holders == ["leader2"]


def test_the_escalated_queue_read_from_its_own_rows_keeps_the_queues_order(session, world):
    """The queue alone is paged from incident_escalations (its copy of deadline and urgency); the
    same queue with another filter reads incidents. Both give the queue's order: level, overdue,
    urgent, deadline, id; and the leader's page holds only their area's."""
    now = escalation.now()
    made = [report(session, world.general1, "g11", "0201", at=now - ago, priority=priority)   # urgent: level 1 at once
            for ago, priority in ((timedelta(days=2), "normal"), (timedelta(hours=3), "urgent"),
                                  (timedelta(hours=2), "urgent"), (timedelta(days=4), "normal"))]
    made.append(report(session, world.general1, "g21", "0201", at=now - timedelta(days=3)))   # area 2: not leader1's
    escalation.sweep(session, as_of=escalation.now())
    session.execute(text("UPDATE incidents SET due_at = now() + interval '5 hours' WHERE id = :i"), {"i": made[0].id})
    session.commit()
    scope, rules = access.scope_for(session, world.leader1), settings.of(session)
    expected = session.scalars(select(Incident.id).where(queues.condition("escalated", world.leader1, scope, rules))
                               .order_by(*queues.ordering("escalated"))).all()
    assert sorted(expected) == sorted(i.id for i in made[:4])
    own = services.list_page(session, scope, services.Filters(queue="escalated", rules=rules), world.leader1)
    assert [i.id for i in own.items] == expected and own.total == 4
    filtered = services.list_page(session, scope, services.Filters(queue="escalated", category="0201", rules=rules),
                                  world.leader1)
    assert [i.id for i in filtered.items] == expected and filtered.total == 4


def escalation_table_stats(session):
    session.execute(text("SELECT pg_stat_clear_snapshot()"))
    return session.execute(text("SELECT seq_scan, n_tup_upd FROM pg_stat_xact_user_tables "
                                "WHERE relname = 'incident_escalations'")).one()


def test_the_triggers_find_rows_by_key_and_leave_unchanged_ones_alone(session, world):
    """Migration 0024: the triggers' statements are planned once per connection, here while the table
    is nearly empty, the plan a scan of every row was chosen for then; by key, a report costs the
    same at 5 000 open incidents as at 5. A write that changes nothing of a row does not rewrite it."""
    incident = report(session, world.general1, "g11", "0201")
    scans, updates = escalation_table_stats(session)
    for n in range(3):   # the same statements, again and again (the trigger's plans kept)
        report(session, world.general1, "g11", "0201")
    session.execute(text("UPDATE incidents SET description = 'edited' WHERE id = :i"), {"i": incident.id})
    assert escalation_table_stats(session) == (scans, updates)        # nothing of ours changed: not rewritten
    session.execute(text("UPDATE incidents SET escalation_level = 1, escalated_at = now() WHERE id = :i"),
                    {"i": incident.id})
    assert escalation_table_stats(session) == (scans, updates + 1)
    session.execute(text("UPDATE incidents SET status = 'resolved' WHERE id = :i"), {"i": incident.id})
    assert escalation_table_stats(session)[0] == scans                # no statement read the whole table
    assert kept(session, incident.id) is None
    assert session.execute(text(ESCALATIONS_ASTRAY)).all() == []
