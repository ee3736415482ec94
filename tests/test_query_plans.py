"""The scoped queries read indexes on tables of realistic size (issue 12 item 6): a leader's list of
incidents and its total, a worker's own, the page header's unread count and queue counts, and the
evaluation of an area and of a town over a month. EXPLAIN on a generated database, built once for
this module (its own, dropped at the end): 2 000 grids in 20 areas, 200 000 incidents over a year
with events and notifications. A plan is what PostgreSQL chooses with these statistics; a Seq Scan
of a big table where an index answers would show as soon as an index or a query changes."""
from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import ARRAY, Integer, any_, bindparam, func, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from bench.seed import seed_catalogue, seed_incidents, seed_town
from gridsys import localdb, settings
from gridsys.cli import upgrade_database
from gridsys.clock import now
from gridsys.db import make_engine
from gridsys.evaluation import measures, periods, subjects
from gridsys.incidents import notify, privacy, queues, reporting_aids, services
from gridsys.incidents.models import Incident, IncidentEscalation
from gridsys.people import access
from gridsys.people import services as people
from gridsys.zones.models import Area

NAME = os.environ.get("GRIDSYS_KEEP_PLANS_DATABASE") or f"gridsys_plans_{os.getpid()}"
INCIDENTS = 100_000


@pytest.fixture(scope="module")
def big():
    if os.environ.get("GRIDSYS_TEST_DATABASE_URL"):
        pytest.skip("builds its own database in the private cluster")
    localdb.start()
    url = localdb.ensure_database(NAME, recreate=True)
    upgrade_database(url)
    engine = make_engine(url)
    with Session(engine) as s:
        seed_town(s, 2000)
        seed_catalogue(s)
        seed_incidents(s, INCIDENTS, open_fraction=0.3, due_fraction=0.02)
        leader, _ = people.create_user(s, "leader", roles=["area_leader"], password_hash="x",
                                       must_change_password=False)
        worker, _ = people.create_user(s, "worker", roles=["grid_worker"], password_hash="x",
                                       must_change_password=False)
        admin, _ = people.create_user(s, "admin", roles=["admin"], password_hash="x", must_change_password=False)
        area = s.scalar(select(Area).order_by(Area.code).limit(1))
        people.set_area_leader(s, leader, area.code)
        history = """
            INSERT INTO grid_assignments (user_id, grid_id, duty) SELECT :w, id, 'general' FROM grids WHERE area_id = :a;
            UPDATE incidents SET assignee_id = :w WHERE area_id = :a;
                        UPDATE incidents SET created_at = now() - (id % 365) * interval '1 day' - (id % 24) * interval '1 hour';
            INSERT INTO incident_events (incident_id, at, action, from_status, to_status, data, grid_id, area_id)
            SELECT i.id, i.created_at + e.after, e.action, NULL, e.status, e.data, i.grid_id, i.area_id
            FROM incidents i CROSS JOIN (VALUES ('report', 'reported', interval '0', '{}'::jsonb),
                                                ('dispatch', 'assigned', interval '1 minute', '{}'),
                                                ('resolve', 'resolved', interval '20 hours', '{}')) e(action, status, after, data);
            INSERT INTO incident_events (incident_id, at, action, from_status, to_status, data, grid_id, area_id)
            SELECT id, created_at + interval '30 hours', 'close', 'resolved', 'closed', '{}', grid_id, area_id
            FROM incidents WHERE status = 'closed';
            INSERT INTO notifications (user_id, incident_id, kind, data, created_at, read_at)
            SELECT :l, id, 'to_verify', '{}', created_at, CASE WHEN id % 50 = 0 THEN NULL ELSE created_at END
            FROM incidents WHERE area_id = :a;
            UPDATE incidents SET contact_phone = '13800138000' WHERE id % 5 = 0;
        """
        for statement in filter(str.strip, history.split(";")):
            s.execute(text(statement), {"w": worker.id, "a": area.id, "l": leader.id})
        s.commit()
        s.execute(text("ANALYZE"))
        s.commit()   # (statistics are transactional too)
        yield s, {"leader": leader, "worker": worker, "admin": admin, "area": area}
    engine.dispose()
    if not os.environ.get("GRIDSYS_KEEP_PLANS_DATABASE"):   # to read the plans by hand afterwards
        localdb.drop_database(NAME)


def explain(session, query) -> str:
    sql = query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    return "\n".join(session.execute(text(f"EXPLAIN {sql}")).scalars())


def no_seq_scan(plan: str, *tables: str) -> bool:
    return not any(re.search(rf"Seq Scan on {t}\b", plan) for t in tables)


def test_the_database_is_of_realistic_size(big):
    session, _ = big
    assert session.scalar(select(func.count()).select_from(text("incidents"))) == INCIDENTS
    assert session.scalar(select(func.count()).select_from(text("incident_events"))) > 3 * INCIDENTS


def test_a_leaders_list_and_total_read_indexes(big):
    session, who = big
    scope = access.scope_for(session, who["leader"])
    query = services.scoped_incidents(scope, services.parse_filters({}, settings.of(session)), who["leader"])
    listed = explain(session, query.limit(services.PAGE_SIZE))
    total = explain(session, select(func.count()).select_from(query.order_by(None).subquery()))
    assert no_seq_scan(listed, "incidents") and "Index" in listed, listed
    assert no_seq_scan(total, "incidents") and "Index" in total, total
    mine = services.scoped_incidents(access.scope_for(session, who["worker"]),
                                     services.parse_filters({"mine": "1"}, settings.of(session)), who["worker"])
    plan = explain(session, mine.limit(services.PAGE_SIZE))
    assert no_seq_scan(plan, "incidents"), plan


def test_the_page_header_reads_indexes(big):
    session, who = big
    for user in (who["leader"], who["worker"], who["admin"]):
        scope = access.scope_for(session, user)
        unread = explain(session, notify.unread_statement(user, scope))
        assert no_seq_scan(unread, "notifications", "incidents"), unread
        names = queues.of(user)
        counts = select(*[select(func.count()).select_from(Incident)
                          .where(queues.condition(n, user, scope, settings.of(session), now()))
                          .scalar_subquery().label(n) for n in names])
        plan = explain(session, counts)
        assert no_seq_scan(plan, "incidents"), (user.username, plan)


@pytest.mark.parametrize("kind", ["area", "grid"])
def test_the_evaluation_of_a_month_reads_events_by_index(big, kind):
    """The events are found from the place's index (area or grid, time); never by reading the whole
    log. (A town, or a worker handling a whole area, holds a twentieth or more of this database:
    for them the planner rightly prefers a scan; at city scale each is a thousandth.)"""
    session, who = big
    everything = access.Scope(None, True, frozenset(), frozenset(), frozenset())
    code = who["area"].code if kind == "area" else session.scalar(
        text("SELECT code FROM grids WHERE area_id = :a ORDER BY code LIMIT 1"), {"a": who["area"].id})
    subject = subjects.resolve(session, everything, kind, code)
    month = periods.last_month(settings.DEFAULTS.zone)
    params = {"sid": subject.id, "start": month.start, "end": month.end, "now": now(),
              "lookback": month.start - timedelta(days=measures.LOOKBACK_DAYS), "tz": settings.DEFAULTS.timezone}
    for by in (None, "grid", "category"):
        plan = "\n".join(session.execute(text(f"EXPLAIN {measures.figures_sql(subject.kind, by)}"), params).scalars())
        assert no_seq_scan(plan, "incident_events"), plan
        assert "ix_incident_events_" in plan, plan


def test_a_page_of_a_list_walks_the_list_indexes(big):
    """A page and its capped total read the scope's parts in list order from the list indexes and
    stop (services.list_page): no Seq Scan, and the area's index for the leader's area."""
    session, who = big
    rules = settings.of(session)
    for name, args, index in (("leader", {}, "ix_incidents_area_listed"),
                              ("leader", {"status": "open"}, "ix_incidents_area_listed"),
                              ("leader", {"status": "closed"}, "ix_incidents_area_listed"),
                              ("admin", {}, "ix_incidents_listed"),
                              ("admin", {"status": "open", "page": "20"}, "ix_incidents_listed"),
                              ("worker", {"mine": "1"}, "ix_incidents_assignee_listed")):
        user = who[name]
        scope, filters = access.scope_for(session, user), services.parse_filters(args, rules)
        parts, conditions = services._parts(scope, filters, user), services._filtered(scope, filters, user)  # noqa: SLF001
        keys = services.LIST_KEYS[1:] if filters.status else services.LIST_KEYS
        order = services.order_by(keys)
        offset = (filters.page - 1) * services.PAGE_SIZE
        page = explain(session, services._ids_in_order(parts, conditions, offset,  # noqa: SLF001
                                                       services.PAGE_SIZE + 1, keys=keys))
        assert no_seq_scan(page, "incidents") and index in page, (name, args, page)
        # the rows come in order from the index: nothing read whole to be sorted
        assert not re.search(r"Sort Key: .*due_at.*\n(.*\n)?.*(Bitmap Heap|Seq) Scan on incidents", page), page
        total = explain(session, services.capped_count(parts, conditions, services.LIST_COUNT_CAP, order))
        assert no_seq_scan(total, "incidents") and "Index" in total, (name, args, total)


def test_the_header_counts_statement_reads_indexes_only(big):
    """queues.counts as it runs: each queue from its own index, without reading the table."""
    session, who = big
    for user in (who["leader"], who["worker"], who["admin"]):
        scope = access.scope_for(session, user)
        plan = explain(session, queues.counts_statement(user, scope, settings.of(session), now()))
        assert no_seq_scan(plan, "incidents") and "Bitmap Heap Scan on incidents" not in plan, (user.username, plan)


def test_an_administrators_queues_find_leaderless_areas_by_index(big):
    """What falls to administrators where an area has no leader: the leaderless areas are found once
    and each queue looks their incidents up on area_id, rather than testing every candidate
    incident against the set of areas that have a leader (at city scale every area has one: 16 000
    candidates tested for none; with building that set, 12.9 ms of the administrator's header)."""
    session, who = big
    plan = explain(session, queues.counts_statement(who["admin"], access.scope_for(session, who["admin"]),
                                                    settings.of(session), now()))
    assert plan.count("CTE leaderless") == 1, plan
    for index in ("ix_incidents_resolved_area", "ix_incidents_unsatisfied"):
        assert re.search(rf"using {index} on incidents \w+ .*\n\s+Index Cond: .*area_id = ANY", plan), (index, plan)
    queues_part = plan.split("\n  InitPlan", 1)[1]   # after the CTE: no incident is tested against a set of areas
    assert "hashed SubPlan" not in queues_part and "leaderless" in queues_part, plan


def test_a_page_of_escalations_walks_the_escalation_indexes(big):
    """The inbox is read in its order from incident_escalations' indexes (kept by the triggers on
    incidents from the UPDATE below), never sorted from a scan."""
    session, who = big
    session.execute(text("UPDATE incidents SET escalation_level = 1 + id % 2, escalated_at = created_at "
                         "WHERE id % 7 = 0 AND status IN ('reported', 'assigned', 'in_progress', 'reopened')"))
    session.execute(text("ANALYZE incident_escalations"))
    e = IncidentEscalation
    try:
        for name in ("leader", "admin"):   # (a leader's few may come from ix_incident_escalations_level_area)
            parts = services.scope_parts(access.scope_for(session, who[name]), reported=False, rows=e)
            plan = explain(session, services._ids_in_order(  # noqa: SLF001
                parts, [e.level > 0], 0, services.PAGE_SIZE + 1, keys=services.ESCALATION_KEYS,
                id_column=e.incident_id))
            assert no_seq_scan(plan, "incident_escalations") and "ix_incident_escalations_" in plan, (name, plan)
            assert not re.search(r"Sort Key: .*escalated_at.*\n(.*\n)?.*(Bitmap Heap|Seq) Scan on incident_esc", plan), plan
            if name == "admin":
                assert "ix_incident_escalations_listed" in plan, plan
    finally:
        session.rollback()


def test_the_escalated_queue_looks_its_incidents_up_by_primary_key(big):
    """The escalated queue's incidents come from incident_escalations as one array, then by primary
    key: as a semi-join the planner read every incident to match the administrator's (0.96 s a page
    at city scale)."""
    session, who = big
    session.execute(text("UPDATE incidents SET escalation_level = 2, escalated_at = created_at "
                         "WHERE id % 5 = 0 AND status IN ('reported', 'assigned', 'in_progress', 'reopened')"))
    session.execute(text("ANALYZE incident_escalations"))
    try:
        for name in ("admin", "leader"):
            condition = queues.condition("escalated", who[name], access.scope_for(session, who[name]),
                                         settings.of(session))
            plan = explain(session, select(Incident.id).where(condition).order_by(*queues.ordering("escalated"))
                           .limit(services.PAGE_SIZE + 1))
            assert no_seq_scan(plan, "incidents", "incident_escalations") and "pk_incidents" in plan, (name, plan)
            assert "InitPlan" in plan and "Semi Join" not in plan, (name, plan)   # the array, once
    finally:
        session.rollback()


def test_the_sweep_finds_what_is_due_by_index_and_updates_in_place(big):
    """The sweep's due ones come from incident_escalations' index on the next look (not a scan of
    the open incidents), and its update of incidents changes no indexed column: HOT, given room."""
    session, _ = big
    session.execute(text("UPDATE incidents SET next_escalation_at = now() - interval '1 hour' "
                         "WHERE id % 50 = 0 AND status IN ('reported', 'assigned', 'in_progress', 'reopened')"))
    session.execute(text("ANALYZE incident_escalations"))
    try:
        e = IncidentEscalation
        due = session.scalars(select(e.incident_id).where(e.next_at <= func.now(), e.incident_id > 0)
                              .order_by(e.incident_id).limit(2000)).all()
        plan = explain(session, select(e.incident_id).where(e.next_at <= func.now(), e.incident_id > 0)
                       .order_by(e.incident_id).limit(2000))
        assert "ix_incident_escalations_next" in plan, plan
        locked = explain(session, select(Incident.id).where(
            Incident.id == any_(bindparam("due", due, type_=ARRAY(Integer))), Incident.next_escalation_at <= func.now())
            .order_by(Incident.id).with_for_update(skip_locked=True))
        assert "pk_incidents" in locked and no_seq_scan(locked, "incidents"), locked
        indexed = set(session.scalars(text(
            "SELECT a.attname FROM pg_index x JOIN pg_attribute a ON a.attrelid = x.indrelid "
            "AND (a.attnum = ANY(x.indkey) OR pg_get_expr(x.indexprs, x.indrelid) ~ ('\\m' || a.attname || '\\M') "
            "OR pg_get_expr(x.indpred, x.indrelid) ~ ('\\m' || a.attname || '\\M')) "
            "WHERE x.indrelid = 'incidents'::regclass")))
        assert "status" in indexed   # (the query sees expressions and predicates)
        assert not indexed & {"escalation_level", "escalated_at", "escalation_trigger", "next_escalation_at"}, indexed
    finally:
        session.rollback()


def test_the_sweeps_contact_purge_reads_only_what_it_forgets(big):
    """Every sweep asks which ended incidents hold a contact past its time: an index range on when
    they ended, not a read of every incident holding a contact (20 000 here)."""
    session, _ = big
    plan = explain(session, privacy.purge_statement(datetime(2026, 1, 1, tzinfo=timezone.utc)))
    assert "ix_incidents_contact_held" in plan and "Index Cond" in plan, plan


def test_thousands_unread_are_walked_newest_first_up_to_the_cap(big):
    """A leader who never reads (every one of their 5 000 notices unread, all in scope): the header's
    count and the inbox walk the person's unread index newest first and stop at the cap or the
    page, whatever the planner estimates the scope lets through; not all of them read and sorted
    (20-40 ms for the city's busy leader). Statistics are taken inside the test's transaction and
    rolled back with it."""
    session, who = big
    leader = who["leader"]
    scope = access.scope_for(session, leader)
    unread = session.execute(text("UPDATE notifications SET read_at = NULL WHERE user_id = :l"), {"l": leader.id})
    assert unread.rowcount >= 4000
    session.execute(text("ANALYZE notifications"))
    try:
        inbox = notify._mine(leader, scope, notify.Notification.id)   # noqa: SLF001 (inbox's query)
        for plan in (explain(session, notify.unread_statement(leader, scope)),
                     explain(session, inbox.where(text("notifications.read_at IS NULL"))
                             .order_by(notify.Notification.id.desc()).limit(100))):
            assert re.search(r"Index Scan Backward using (ix_notifications_user_unread|pk_notifications)", plan) \
                and "Sort" not in plan, plan   # (here the leader holds every notice: the key's order serves too)
        assert notify.unread_count(session, leader, scope) == notify.COUNT_CAP
    finally:
        session.rollback()


def test_a_persons_frequent_categories_come_from_an_index_alone(big):
    """/api/v1/me's frequent categories (the caller's reports of the last 90 days by category) for a
    prolific reporter: read from the (reporter, time) index, never by visiting each report in the
    table (11-22 ms at city scale through the reporter's list index). Rolled back with its statistics."""
    session, who = big
    worker = who["worker"]
    reported = session.execute(text("UPDATE incidents SET reporter_id = :w WHERE area_id = :a"),
                               {"w": worker.id, "a": who["area"].id})
    assert reported.rowcount >= 4000
    session.execute(text("ANALYZE incidents"))
    try:
        plan = explain(session, reporting_aids.frequent_statement(worker, now()))
        assert "Index Only Scan using ix_incidents_reporter_created" in plan, plan
        assert reporting_aids.frequent_categories(session, worker)
    finally:
        session.rollback()
