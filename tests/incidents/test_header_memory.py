"""The page header's counts do not make the database server take fresh memory on every call (issue
12: planning them took and gave back about 1.4 MB a call under glibc's default thresholds, 350 new
pages a call at city scale, 140 here; on a virtual machine that hands free pages back to its host,
1 to 2 % of calls spent 30-80 ms zeroing them). The private cluster runs with
localdb.MALLOC_TUNABLES."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridsys.incidents import queues
from gridsys.people.access import scope_for

CALLS = 20


def minor_faults(pid: int) -> int:
    """The process's minor page faults so far (/proc/PID/stat, the 10th field)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[7])


def test_the_counts_reuse_the_servers_memory(private_cluster, engine, session, world):
    scope = scope_for(session, world.admin)
    with Session(engine) as own:   # a transaction a call, as a request has: its end frees memory
        pid = own.scalar(text("SELECT pg_backend_pid()"))
        own.rollback()

        def call():
            queues.counts(own, world.admin, scope)
            own.rollback()
        for _ in range(3):   # the backend's caches, and the memory a call needs, taken once
            call()
        before = minor_faults(pid)
        for _ in range(CALLS):
            call()
        per_call = (minor_faults(pid) - before) / CALLS
    assert per_call < 50, (f"{per_call:.0f} new pages a call (7 with localdb.MALLOC_TUNABLES, 140 without; "
                           "a cluster started before them needs 'make stop')")

