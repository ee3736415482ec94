"""The escalation sweep: with nothing due (served by incident_escalations' index on the next look) and
with 10 000 due (target <= 1 s, issue 12; the median of RUNS sweeps of the same rows, on one
connection and on WORKERS). Baselines in the same run: for nothing due, the query a competent
engineer would write on ``due_at`` (its own index, ix_incidents_due_open, not switched off); for
10 000 due, the per-incident ORM sweep (lock a batch, ``lifecycle.escalate`` each: what
gridsys did before the set-based ``escalate_due``), rolled back. Both start from the same rows,
vacuumed, and both write the same events and notices (every area has its leader).

Data: by default a lattice town of 10 000 grids and 1 000 000 incidents (30 % open) with a leader
per area; at GRIDSYS_BENCH_SCALE=city, a copy of the city (2 000 000 incidents, dropped at the end),
whose 10 000 due are spread over its areas with open incidents."""
from __future__ import annotations

import statistics
import time
from datetime import timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridsys.clock import now
from gridsys.incidents import lifecycle
from gridsys.incidents.escalation import SWEEP_BATCH, sweep, sweep_in_parallel
from gridsys.incidents.models import OPEN_STATUSES, Incident

from gridsys.people import services as people
from gridsys.zones.models import Area

from .common import bench_database, city_database, database_copy, engine_and_session, header, scale, timed
from .seed import seed_catalogue, seed_incidents, seed_town

N = 1_000_000
DUE = 10_000
TARGET_MS = 1000
WORKERS = 2   # this machine's cores
RUNS = 3      # sweeps of the same 10 000 (each falling due again, vacuumed): one run is at the mercy of the machine
OPEN_SQL = "status IN ('reported', 'assigned', 'in_progress', 'reopened')"
# Which open incidents fall due: the first DUE by id (the lattice town), or DUE spread over the
# city's areas (a round robin over each area's open incidents in a fixed pseudo-random order).
DUE_FIRST = f"SELECT id FROM incidents WHERE {OPEN_SQL} ORDER BY id LIMIT :n"
DUE_SPREAD = f"""SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY area_id ORDER BY md5(id::text)) AS k
                                 FROM incidents WHERE {OPEN_SQL}) o ORDER BY k, md5(id::text) LIMIT :n"""
# the escalations' notices (the sweep also tells handlers of deadlines near, which the baseline does not)
ESCALATION_NOTICES = "SELECT count(*) FROM notifications WHERE kind <> 'due_soon'"
BASELINE_NOTHING = ("SELECT id FROM incidents WHERE status IN ('reported', 'assigned', 'in_progress', 'reopened') "
                    "AND due_at <= now() ORDER BY id FOR UPDATE SKIP LOCKED")


def per_incident_sweep(session) -> list[int]:
    """The baseline: the same pass, one ORM incident at a time."""
    done, last_id = [], 0
    session.info["escalation_holders"], session.info["town_webhooks"] = {}, {}
    while True:
        rows = session.scalars(select(Incident).where(
            Incident.status.in_(OPEN_STATUSES), Incident.next_escalation_at <= now(),
            Incident.next_escalation_at.is_not(None), Incident.id > last_id)
            .order_by(Incident.id).limit(SWEEP_BATCH).with_for_update(skip_locked=True, of=Incident)).unique().all()
        for incident in rows:
            lifecycle.escalate(session, incident, now(),
                               trigger="overdue" if incident.escalation_level == 0 else "stale")
            done.append(incident.id)
        session.flush()
        if len(rows) < SWEEP_BATCH:
            return done
        last_id = rows[-1].id



def run() -> dict:
    if scale() == "city":
        header("escalation sweep on the city (2 000 000 incidents)")
        with database_copy(city_database(), "gridsys_city_sweep") as url:
            engine, session = engine_and_session(url)
            try:
                # the city's own due, and the next hour's, first: "nothing due" is nothing, and nothing
                # else falls due while the run lasts
                caught_up = len(sweep(session, as_of=now() + timedelta(hours=1)))
                sweep(session)   # (and the due-soon notices from now on, which that pass counted from later)
                session.commit()
                print(f"caught up with the {caught_up:,} the city had due")
                return measure(engine, session, DUE_SPREAD)
            finally:
                session.close()
                engine.dispose()
    header(f"escalation sweep over {N:,} incidents")
    url = bench_database("gridsys_bench_sweep")
    engine, session = engine_and_session(url)
    start = time.perf_counter()
    seed_town(session, 10_000)
    seed_catalogue(session)
    seed_incidents(session, N, due_fraction=0.0, open_fraction=0.3)
    for n, area in enumerate(session.scalars(select(Area).order_by(Area.code)), 1):   # a leader each
        leader, _ = people.create_user(session, f"bench-leader{n}", roles=["area_leader"], password="sweep-bench-leader-2026")
        people.set_area_leader(session, leader, area.code)
    session.commit()
    print(f"seeded {N:,} incidents (30% open, none due) and a leader per area in {time.perf_counter() - start:.1f} s")
    try:
        return measure(engine, session, DUE_FIRST)
    finally:
        session.close()
        engine.dispose()


def vacuum(engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE incidents, incident_escalations, incident_events, notifications"))


def incident_updates(engine) -> tuple[int, int]:
    """(HOT updates, all updates) of incidents so far, as the statistics say."""
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        return tuple(conn.execute(text("SELECT n_tup_hot_upd, n_tup_upd FROM pg_stat_user_tables "
                                       "WHERE relname = 'incidents'")).one())


def fall_due(engine, session, due_sql: str, ids=None) -> list[int]:
    """DUE open incidents fall due at level 0 (the handler's deadline passed an hour ago); vacuumed."""
    chosen = session.scalars(text(f"""UPDATE incidents SET due_at = now() - interval '1 hour', escalation_level = 0,
                                          escalated_at = NULL, escalation_trigger = NULL,
                                          next_escalation_at = now() - interval '1 hour'
                                      WHERE id IN ({due_sql}) RETURNING id"""), {"n": DUE, "ids": ids}).all()
    session.commit()
    vacuum(engine)
    return list(chosen)


def measure(engine, session, due_sql: str) -> dict:
    vacuum(engine)

    def sweep_nothing():
        assert sweep(session) == []
        session.rollback()

    def baseline_nothing():
        session.execute(text(BASELINE_NOTHING)).all()
        session.rollback()

    plan = "\n".join(session.execute(text(
        "EXPLAIN SELECT incident_id FROM incident_escalations WHERE next_at <= now() ORDER BY incident_id")).scalars())
    session.rollback()
    nothing = timed(sweep_nothing)
    naive_ms = timed(baseline_nothing, 3)
    print(f"sweep, nothing due:        median {statistics.median(nothing):9.2f} ms")
    print(f"baseline, due_at index:    median {statistics.median(naive_ms):9.2f} ms")
    print("plan: " + " / ".join(line.strip() for line in plan.splitlines()[:3]))

    due_ids = fall_due(engine, session, due_sql)
    notices_before = session.scalar(text(ESCALATION_NOTICES))
    session.rollback()
    start = time.perf_counter()
    baseline_done = per_incident_sweep(session)
    session.flush()
    baseline_ms = (time.perf_counter() - start) * 1000
    baseline_notices = session.scalar(text(ESCALATION_NOTICES)) - notices_before
    session.rollback()
    vacuum(engine)   # the baseline's rolled-back rows, so both start alike
    updates_before = incident_updates(engine)
    start = time.perf_counter()
    done = sweep(session)
    session.commit()
    due_ms = (time.perf_counter() - start) * 1000
    session.execute(text("SELECT pg_stat_force_next_flush()"))
    session.commit()
    hot, updated = (a - b for a, b in zip(incident_updates(engine), updates_before))
    notices = session.scalar(text(ESCALATION_NOTICES)) - notices_before
    session.rollback()
    assert len(done) == len(baseline_done), (len(done), len(baseline_done))
    assert notices == baseline_notices, (notices, baseline_notices)
    again = timed(sweep_nothing, 3)
    one_runs, parallel_runs = [due_ms], []
    for run in range(RUNS):   # the same rows fall due again, vacuumed: the sweep alone, then on WORKERS
        if run:
            fall_due(engine, session, "SELECT unnest(CAST(:ids AS int[])) LIMIT :n", due_ids)
            start = time.perf_counter()
            again_done = sweep(session)
            session.commit()
            one_runs.append((time.perf_counter() - start) * 1000)
            assert sorted(again_done) == sorted(done), (len(again_done), len(done))
        fall_due(engine, session, "SELECT unnest(CAST(:ids AS int[])) LIMIT :n", due_ids)
        start = time.perf_counter()
        parallel = sweep_in_parallel(lambda: Session(engine, expire_on_commit=False), workers=WORKERS)
        parallel_runs.append((time.perf_counter() - start) * 1000)
        assert sorted(parallel) == sorted(done), (len(parallel), len(done))
    due_ms, parallel_ms = statistics.median(one_runs), statistics.median(parallel_runs)
    print(f"sweep, {len(done):,} due, median of {RUNS} runs: {due_ms:9.2f} ms  ({due_ms / max(len(done), 1):.3f} ms each, "
          f"{notices:,} notices and {len(done):,} events; runs {', '.join(f'{r:.0f}' for r in one_runs)} ms)  "
          f"target <= {TARGET_MS} ms: {'met' if due_ms <= TARGET_MS else 'MISSED'}")
    print(f"the same on {WORKERS} connections (escalate --workers {WORKERS}), median of {RUNS}: {parallel_ms:9.2f} ms  "
          f"(runs {', '.join(f'{r:.0f}' for r in parallel_runs)} ms)  target <= {TARGET_MS} ms: "
          f"{'met' if parallel_ms <= TARGET_MS else 'MISSED'}")
    print(f"updates of incidents in the first sweep written in place (HOT, no index touched): {hot:,} of {updated:,}")
    print(f"baseline, one by one (ORM): {baseline_ms:8.2f} ms  ({baseline_ms / max(len(baseline_done), 1):.3f} ms each)")
    print(f"sweep right after (none due): median {statistics.median(again):6.2f} ms (each escalated exactly once)")
    return {"nothing_due_ms": statistics.median(nothing), "naive_ms": statistics.median(naive_ms),
            "due_ms": due_ms, "parallel_ms": parallel_ms, "hot_updates": hot, "updates": updated,
            "baseline_due_ms": baseline_ms, "escalated": len(done), "notices": notices}
