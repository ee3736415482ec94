"""The escalation sweep over 1 000 000 incidents: with nothing due (target <= 1 s, served by
the partial index on next_escalation_at) and with 10 000 due. Baselines in the same run: for
nothing due, the query a competent engineer would write on ``due_at`` (its own index,
ix_incidents_due_open, not switched off); for 10 000 due, the per-incident ORM sweep (lock a
batch, ``lifecycle.escalate`` each: what gridsys did before the set-based ``escalate_due``),
rolled back so both start from the same rows."""
from __future__ import annotations

import statistics
import time

from sqlalchemy import text

from sqlalchemy import select

from gridsys.clock import now
from gridsys.incidents import lifecycle
from gridsys.incidents.escalation import SWEEP_BATCH, sweep
from gridsys.incidents.models import OPEN_STATUSES, Incident

from .common import bench_database, engine_and_session, header, timed
from .seed import seed_catalogue, seed_incidents, seed_town

N = 1_000_000
DUE = 10_000
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
    header(f"escalation sweep over {N:,} incidents")
    url = bench_database("gridsys_bench_sweep")
    engine, session = engine_and_session(url)
    start = time.perf_counter()
    seed_town(session, 10_000)
    seed_catalogue(session)
    seed_incidents(session, N, due_fraction=0.0, open_fraction=0.3)
    session.commit()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE incidents"))
    print(f"seeded {N:,} incidents (30% open, none due) in {time.perf_counter() - start:.1f} s")

    def sweep_nothing():
        assert sweep(session) == []
        session.rollback()

    def baseline_nothing():
        session.execute(text(BASELINE_NOTHING)).all()
        session.rollback()

    plan = "\n".join(session.execute(text(
        "EXPLAIN SELECT id FROM incidents WHERE status IN ('reported', 'assigned', 'in_progress', 'reopened') "
        "AND next_escalation_at IS NOT NULL AND next_escalation_at <= now() ORDER BY id")).scalars())
    session.rollback()
    nothing = timed(sweep_nothing)
    naive_ms = timed(baseline_nothing, 3)
    print(f"sweep, nothing due:        median {statistics.median(nothing):9.2f} ms  (target <= 1000 ms)")
    print(f"baseline, due_at index:    median {statistics.median(naive_ms):9.2f} ms")
    print("plan: " + " / ".join(line.strip() for line in plan.splitlines()[:3]))

    session.execute(text("UPDATE incidents SET due_at = now() - interval '1 hour', "
                         "next_escalation_at = now() - interval '1 hour' WHERE id IN "
                         "(SELECT id FROM incidents WHERE status <> 'closed' ORDER BY id LIMIT :n)"), {"n": DUE})
    session.commit()
    start = time.perf_counter()
    baseline_done = per_incident_sweep(session)
    session.flush()
    baseline_ms = (time.perf_counter() - start) * 1000
    session.rollback()
    start = time.perf_counter()
    done = sweep(session)
    session.commit()
    due_ms = (time.perf_counter() - start) * 1000
    assert len(done) == len(baseline_done), (len(done), len(baseline_done))
    again = timed(sweep_nothing, 3)
    print(f"sweep, {len(done):,} due:          {due_ms:9.2f} ms  ({due_ms / max(len(done), 1):.3f} ms each, "
          f"with events and notifications)")
    print(f"baseline, one by one (ORM): {baseline_ms:8.2f} ms  ({baseline_ms / max(len(baseline_done), 1):.3f} ms each)")
    print(f"sweep right after (none due): median {statistics.median(again):6.2f} ms (each escalated exactly once)")
    engine.dispose()
    return {"nothing_due_ms": statistics.median(nothing), "naive_ms": statistics.median(naive_ms),
            "due_ms": due_ms, "baseline_due_ms": baseline_ms, "escalated": len(done)}
