"""The processes of `make load` (bench/load.py) and the faults done to them: the app server
(gunicorn, or the waitress of `make run`), the escalation sweep (`flask --app gridsys escalate
--loop`, kept running like a service), the private cluster stopped and started (gridsys.localdb,
as `make stop` / `make db` do), a server process killed with SIGKILL."""
from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from gridsys import localdb

from .slowclients import HOST, start_server, stop_server

REPO = Path(__file__).resolve().parent.parent


def server_argv(kind: str, port: int, workers: int) -> list[str]:
    if kind == "waitress":
        return [sys.executable, "-m", "gridsys.serve", "--host", HOST, "--port", str(port), "--no-access-log"]
    return [sys.executable, "-m", "gunicorn", "--bind", f"{HOST}:{port}", "--workers", str(workers),
            "--log-level", "info", "gridsys:create_app()"]


def logged(argv: list[str], log: Path) -> list[str]:
    """``argv`` with its output (and its children's: gunicorn's workers) appended to ``log``."""
    return ["/bin/sh", "-c", f'exec "$@" >>{shlex.quote(str(log))} 2>&1', "sh", *argv]


class AppServer:
    """The app on 127.0.0.1:port; ``kill_one`` SIGKILLs a serving process: one of gunicorn's
    workers (its master starts another), or waitress's only process (started again here, as
    systemd's Restart= would, after ``restart_after_s``)."""

    def __init__(self, kind: str, port: int, workers: int, env: dict, log: Path):
        self.kind, self.port, self.workers, self.env, self.log = kind, port, workers, env, log
        self.proc = start_server(logged(server_argv(kind, port, workers), log), port, env, cwd=REPO, timeout_s=60)

    def worker_pids(self) -> list[int]:
        if self.kind == "waitress":
            return [self.proc.pid]
        try:
            return [int(p) for p in Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()]
        except FileNotFoundError:
            return []

    def kill_one(self, pid: int, restart_after_s: float = 1.0) -> str:
        """SIGKILL ``pid``; returns what happened next."""
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        if self.kind == "waitress":
            self.proc.wait(timeout=10)
            time.sleep(restart_after_s)
            self.proc = start_server(logged(server_argv(self.kind, self.port, self.workers), self.log), self.port,
                                     self.env, cwd=REPO, timeout_s=60)
            return f"server pid {pid} SIGKILLed, started again and serving after {time.monotonic() - killed_at:.1f} s"
        while time.monotonic() - killed_at < 30:
            pids = self.worker_pids()
            if pid not in pids and len(pids) >= self.workers:
                return (f"worker pid {pid} SIGKILLed, the master forked its replacement "
                        f"{time.monotonic() - killed_at:.1f} s later (which then loads the app)")
            time.sleep(0.05)
        return f"worker pid {pid} SIGKILLed, not replaced within 30 s"

    def stop(self) -> None:
        stop_server(self.proc)

    def log_summary(self) -> str:
        """5xx the app logged (by exception and path) and gunicorn's worker events."""
        errors, workers = Counter(), Counter()
        with open(self.log, "rb") as f:
            for line in f.read().decode(errors="replace").splitlines():
                if '"server_error"' in line:
                    try:
                        entry = json.loads(line)
                        errors[f"{entry.get('error')} on {entry.get('path')}"] += 1
                    except ValueError:
                        errors["unreadable line"] += 1
                for marker in ("WORKER TIMEOUT", "was sent SIGKILL", "Booting worker", "Worker exiting"):
                    workers[marker] += marker in line
        said = ", ".join(f"{n}× {what}" for what, n in errors.most_common()) or "none"
        events = ", ".join(f"{what} ×{n}" for what, n in workers.items() if n)
        return f"5xx logged by the app: {said}" + (f"; gunicorn: {events}" if events else "")


@dataclass
class Sweepers:
    """``count`` escalation sweeps at once (as on several machines), each `flask --app gridsys
    escalate --loop 1 --now AS_OF`, started again a second after it exits (a database gone
    under it ends the command with a traceback, as it would under systemd)."""
    count: int
    as_of: str
    env: dict
    log: Path
    procs: list = field(default_factory=list)
    restarts: int = 0
    _stopping: threading.Event = field(default_factory=threading.Event)
    _watch: threading.Thread | None = None

    def start(self, timeout_s: float = 60) -> None:
        """Start them and wait until each has made its first pass (a load measured while they
        import the app would measure their start-up)."""
        self.procs = [self._spawn() for _ in range(self.count)]
        deadline = time.monotonic() + timeout_s
        while self._passes() < self.count and time.monotonic() < deadline:
            time.sleep(0.2)
        self._watch = threading.Thread(target=self._supervise, daemon=True)
        self._watch.start()

    def _lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines() if self.log.exists() else []

    def _passes(self) -> int:
        return sum(" escalated " in line for line in self._lines())

    def _spawn(self) -> subprocess.Popen:
        argv = [sys.executable, "-m", "flask", "--app", "gridsys", "escalate", "--loop", "1", "--now", self.as_of]
        return subprocess.Popen(logged(argv, self.log), cwd=REPO, env=self.env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _supervise(self) -> None:
        while not self._stopping.wait(0.5):
            for i, proc in enumerate(self.procs):
                if proc.poll() is not None and not self._stopping.wait(1.0):
                    self.procs[i] = self._spawn()
                    self.restarts += 1

    def stop(self) -> None:
        self._stopping.set()
        self._watch.join(timeout=5)
        for proc in self.procs:
            stop_server(proc)

    def summary(self) -> str:
        lines = self._lines()
        passes = [line for line in lines if " escalated " in line]
        escalated = sum(int(line.split(" escalated ", 1)[1].split(";", 1)[0]) for line in passes)
        raised = sorted({line.split(":", 1)[0] for line in lines if re.match(r"[\w.]+\.\w+(Error|Shutdown): ", line)})
        ended = f"; one ended {self.restarts} times ({', '.join(raised) or 'no traceback'}) and was started again" \
            if self.restarts else ""
        return f"{self.count} sweeps at once: {len(passes)} passes escalated {escalated}{ended}"


def other_connections(dbname: str) -> list[str]:
    """Databases of the private cluster other than ``dbname`` with sessions open (cut by a restart)."""
    import psycopg
    state = localdb.read_state()
    with psycopg.connect(host=HOST, port=state["port"], user=localdb.ROLE, password=state["password"],
                         dbname="postgres", autocommit=True) as conn:
        rows = conn.execute("SELECT datname, count(*) FROM pg_stat_activity WHERE datname NOT IN (%s, 'postgres') "
                            "GROUP BY datname", (dbname,)).fetchall()
    return [f"{name} ({n})" for name, n in rows]


def restart_database(down_s: float) -> str:
    """Stop the private cluster (pg_ctl -m fast: sessions cut, open transactions rolled back),
    leave it down ``down_s``, start it again; returns what happened with its timings."""
    began = time.monotonic()
    localdb.stop()
    stopped = time.monotonic()
    time.sleep(down_s)
    localdb.start()
    up = time.monotonic()
    return (f"private cluster stopped (fast shutdown: sessions cut) in {stopped - began:.1f} s, serving again "
            f"{up - stopped:.1f} s later ({down_s:g} s down, then the start)")
