"""The escalation sweep over 1 000 000 incidents: with nothing due (target <= 1 s, served by
the partial index on next_escalation_at) and with 10 000 due; beside a naive sequential scan
for due incidents, in the same run."""
from __future__ import annotations

import statistics
import time

from sqlalchemy import text

from gridsys.incidents.escalation import sweep

from .common import bench_database, engine_and_session, header, timed
from .seed import seed_catalogue, seed_incidents, seed_town

N = 1_000_000
DUE = 10_000
NAIVE = ("SELECT id FROM incidents WHERE status IN ('reported', 'assigned', 'in_progress', 'reopened') "
         "AND due_at <= now() ORDER BY id FOR UPDATE SKIP LOCKED")



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

    def naive():
        session.execute(text("SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off"))
        session.execute(text(NAIVE)).all()
        session.rollback()

    plan = "\n".join(session.execute(text(
        "EXPLAIN SELECT id FROM incidents WHERE status IN ('reported', 'assigned', 'in_progress', 'reopened') "
        "AND next_escalation_at IS NOT NULL AND next_escalation_at <= now() ORDER BY id")).scalars())
    session.rollback()
    nothing = timed(sweep_nothing)
    naive_ms = timed(naive, 3)
    print(f"sweep, nothing due:        median {statistics.median(nothing):9.2f} ms  (target <= 1000 ms)")
    print(f"baseline naive seq scan:   median {statistics.median(naive_ms):9.2f} ms")
    print("plan: " + " / ".join(line.strip() for line in plan.splitlines()[:3]))

    session.execute(text("UPDATE incidents SET due_at = now() - interval '1 hour', "
                         "next_escalation_at = now() - interval '1 hour' WHERE id IN "
                         "(SELECT id FROM incidents WHERE status <> 'closed' ORDER BY id LIMIT :n)"), {"n": DUE})
    session.commit()
    start = time.perf_counter()
    done = sweep(session)
    session.commit()
    due_ms = (time.perf_counter() - start) * 1000
    again = timed(sweep_nothing, 3)
    print(f"sweep, {len(done):,} due:          {due_ms:9.2f} ms  ({due_ms / max(len(done), 1):.3f} ms each, "
          f"with events and notifications)")
    print(f"sweep right after (none due): median {statistics.median(again):6.2f} ms (each escalated exactly once)")
    engine.dispose()
    return {"nothing_due_ms": statistics.median(nothing), "naive_ms": statistics.median(naive_ms),
            "due_ms": due_ms, "escalated": len(done)}
