"""`make load` (python -m bench.load): grid workers log incidents over HTTP with resends of the
same client UUID, area leaders poll their map data, escalation sweeps run, first undisturbed and
then under one fault per phase: the database restarted, a server process SIGKILLed, slow clients.
Each phase prints what was done to it and PASS/FAIL per database check (bench/loadchecks.py);
the end prints one row per phase. Exit status 1 if any check failed.

Loopback only, in a database of its own in the private cluster (gridsys_load, recreated each
run), against gunicorn x4 (the production form, as bench/create_http.py) or the waitress of
`make run` (--server waitress). The clients are bench/loadclients.py, the processes and faults
bench/loadfaults.py; server and sweep logs go to var/load/.
"""
from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, text

from gridsys import localdb
from gridsys.incidents import routing
from gridsys.people import services as people
from gridsys.zones.models import Area, Grid

from .common import bench_database, engine_and_session, header, percentile, seed_demo_town
from .loadchecks import Check, check_phase
from .loadclients import TIMEOUT_S, Leader, Recorder, Run, Worker, leader_loop, slow_reader_loop, slow_reporter_loop, \
    worker_loop
from .loadfaults import AppServer, Sweepers, other_connections, restart_database
from .slowclients import KB, Trickler, free_port

DATABASE = "gridsys_load"
PHASES = ("steady", "db-restart", "worker-kill", "slow-clients")
ORDINARY = ("create", "resend", "retry", "accept", "poll")   # everyone but the slow phones
DRILL_AHEAD = timedelta(hours=100)   # the sweep's --now: past every deadline of the catalogue (72 h at most)


def options(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.load", description="Incidents logged, resent and swept "
                                "under load, then under a database restart, a killed worker and slow clients; "
                                "checks that nothing acknowledged was lost or doubled.")
    p.add_argument("--duration", type=float, default=30, help="seconds of load per phase (default 30)")
    p.add_argument("--drain", type=float, default=20,
                   help="after the load, seconds the phones may still resend what they hold (default 20)")
    p.add_argument("--warmup", type=float, default=2,
                   help="seconds of load before each phase's window, not in its figures (default 2)")
    p.add_argument("--phases", default=",".join(PHASES), help=f"comma-separated, of {', '.join(PHASES)}")
    p.add_argument("--clients", type=int, default=8, help="grid workers logging incidents at once (default 8)")
    p.add_argument("--leaders", type=int, default=5, help="area leaders polling their map (default 5)")
    p.add_argument("--poll-pause", type=float, default=1.0, help="seconds between a leader's refreshes (default 1)")
    p.add_argument("--resend-share", type=float, default=0.2,
                   help="share of report requests that resend a UUID already sent, half of them from two "
                        "threads at once, besides the resends after errors (default 0.2)")
    p.add_argument("--accept-share", type=float, default=0.3,
                   help="share of reports their handler accepts at once (default 0.3)")
    p.add_argument("--sweepers", type=int, default=2, help="escalation sweeps running at once (default 2)")
    p.add_argument("--server", choices=("gunicorn", "waitress"), default="gunicorn",
                   help="gunicorn with sync workers (the production form behind nginx, as bench/create_http.py; "
                        "default) or waitress (what `make run` serves)")
    p.add_argument("--server-workers", type=int, default=4, help="gunicorn workers (default 4)")
    p.add_argument("--db-down", type=float, default=3, help="seconds the database stays down (default 3)")
    p.add_argument("--slow", type=int, default=4,
                   help="slow clients of each kind in the slow phase: reports trickled out, headers never "
                        "finished, bodies never finished, map data read slowly (default 4)")
    p.add_argument("--timeline", action="store_true",
                   help="also print, per second of each phase, requests answered / failed")
    p.add_argument("--seed", type=int, default=13, help="for the clients' choices (UUIDs are random)")
    args = p.parse_args(argv)
    args.phases = [name.strip() for name in args.phases.split(",") if name.strip()]
    unknown = set(args.phases) - set(PHASES)
    if unknown or not args.phases:
        p.error(f"unknown phase {', '.join(sorted(unknown))}: choose from {', '.join(PHASES)}")
    if not 0 <= args.resend_share < 1:
        p.error("--resend-share is between 0 and 1")
    return args


# --- who works ---------------------------------------------------------------------------------

def people_at_work(session, clients: int, leaders: int) -> tuple[list[Worker], list[Leader]]:
    """The civilization/safety worker of ``clients`` grids spread over the areas, each with points
    in their own grid, and the leaders of the first ``leaders`` areas; each with an API token."""
    areas = session.scalars(select(Area).order_by(Area.code)).all()
    grids_by_area = [session.scalars(select(Grid).where(Grid.area_id == a.id, Grid.retired_at.is_(None))
                                     .order_by(Grid.code)).all() for a in areas]
    spread = [g for i in range(max(map(len, grids_by_area))) for grids in grids_by_area
              for g in grids[i:i + 1]]   # first grid of each area, then the second of each…
    workers = []
    for grid in spread:
        if len(workers) == clients:
            break
        holder = routing.chosen_worker(session, grid.id, "civilization")
        if holder is None or any(w.username == holder.user.username for w in workers):
            continue
        points = session.execute(text("SELECT ST_X(d.geom), ST_Y(d.geom) FROM grids g, "
                                      "ST_Dump(ST_GeneratePoints(g.geom, 50, :seed)) d WHERE g.id = :id"),
                                 {"id": grid.id, "seed": grid.id}).all()
        _, token = people.create_token(session, holder.user, "load")
        workers.append(Worker(holder.user.username, token, [(round(x, 7), round(y, 7)) for x, y in points]))
    chiefs = []
    for area in areas[:leaders]:
        leader = routing.area_leader(session, area.id)
        if leader is None:
            continue
        box = session.execute(text("SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) "
                                   "FROM areas WHERE id = :id"), {"id": area.id}).one()
        _, token = people.create_token(session, leader, "load")
        chiefs.append(Leader(leader.username, token, ",".join(f"{v:.6f}" for v in box)))
    return workers, chiefs


# --- one phase ----------------------------------------------------------------------------------

@dataclass
class Phase:
    name: str
    rec: Recorder
    began: float                        # time.monotonic() at the window's start (after the warm-up)
    window_s: float
    fault: str = "none"
    notes: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.checks)


@dataclass
class Stage:
    """What a fault needs: the phase's clients and server, and when the phase began."""
    args: argparse.Namespace
    run: Run
    server: AppServer
    began: float
    workers: list[Worker]
    leaders: list[Leader]
    external_db: bool
    phase: Phase
    extra_threads: list[threading.Thread] = field(default_factory=list)

    def at(self, fraction: float) -> None:
        """Wait until ``fraction`` of the load window has passed."""
        time.sleep(max(0.0, self.began + fraction * self.args.duration - time.monotonic()))


def no_fault(stage: Stage) -> None:
    stage.phase.fault = "none"


def db_restart(stage: Stage) -> None:
    if stage.external_db:
        stage.phase.fault = "skipped"
        stage.phase.notes.append("database restart skipped: GRIDSYS_BENCH_DATABASE_URL is not the private cluster")
        return
    stage.at(1 / 3)
    cut = other_connections(DATABASE)
    if cut:
        stage.phase.notes.append(f"warning: the restart also cut sessions of {', '.join(cut)}")
    said = restart_database(stage.args.db_down)
    stage.phase.fault = f"DB down {stage.args.db_down:g} s"
    stage.phase.notes.append(f"at {stage.args.duration / 3:.0f} s: {said}")


def worker_kill(stage: Stage) -> None:
    rng = random.Random(stage.args.seed)
    for fraction in (1 / 3, 2 / 3):
        stage.at(fraction)
        said = stage.server.kill_one(rng.choice(stage.server.worker_pids()))
        stage.phase.notes.append(f"at {fraction * stage.args.duration:.0f} s: {said}")
    stage.phase.fault = "2x SIGKILL"


def slow_clients(stage: Stage) -> None:
    """From 1/6 to 5/6 of the window: phones trickling real reports out at 1 KB/s (10 KB each),
    connections whose headers or bodies never end (one byte every 2 s), leaders' phones reading
    the area's incidents at 8 KB/s through a 4 KB window."""
    n, run = stage.args.slow, stage.run
    stage.at(1 / 6)
    trickler = Trickler(run.port, slowloris=n, slow_bodies=n)
    trickler.start()
    slow = [threading.Thread(target=slow_reporter_loop, daemon=True,
                             args=(run, stage.workers[i % len(stage.workers)], random.Random(1000 + i), KB, 10 * KB))
            for i in range(n)]
    slow += [threading.Thread(target=slow_reader_loop, args=(run, stage.leaders[i % len(stage.leaders)]), daemon=True)
             for i in range(n)]
    for t in slow:
        t.start()
    stage.extra_threads.extend(slow)
    stage.at(5 / 6)
    held = trickler.still_open()
    run.slow_stop.set()
    trickler.stop()
    stage.phase.fault = f"{4 * n} slow conns"
    stage.phase.notes.append(
        f"from {stage.args.duration / 6:.0f} to {stage.args.duration * 5 / 6:.0f} s: {n} phones sending 10 KB "
        f"reports at 1 KB/s, {n} reading map data at 8 KB/s, {trickler.opened['loris']} connections never "
        f"finishing their headers and {trickler.opened['body']} their bodies ({held['loris']} and {held['body']} "
        "of them not closed by the server at the end)")


FAULTS = {"steady": no_fault, "db-restart": db_restart, "worker-kill": worker_kill, "slow-clients": slow_clients}


def do_fault(name: str, stage: Stage) -> None:
    """The phase's fault; one that could not be done fails the phase (its checks would prove nothing)."""
    try:
        FAULTS[name](stage)
    except Exception as exc:  # noqa: BLE001 (reported as the phase's failure, with the rest of its figures)
        stage.phase.fault = "NOT DONE"
        stage.phase.checks.append(Check("the fault was done", 1, [f"{type(exc).__name__}: {exc}"]))


def run_phase(name: str, args, env: dict, log_dir, workers, leaders, external_db: bool) -> Phase:
    port = free_port()
    server = AppServer(args.server, port, args.server_workers, env, log_dir / f"{name}-server.log")
    as_of = (datetime.now(timezone.utc) + DRILL_AHEAD).isoformat(timespec="seconds")
    sweepers = Sweepers(args.sweepers, as_of, env, log_dir / f"{name}-sweep.log")
    sweepers.start()
    began = time.monotonic() + args.warmup   # the window: the figures, and the faults' times
    run = Run(port, Recorder(), threading.Event(), began + args.duration + args.drain)
    phase = Phase(name, run.rec, began, args.duration)
    stage = Stage(args, run, server, began, workers, leaders, external_db, phase)
    threads = [threading.Thread(target=worker_loop, daemon=True,
                                args=(run, w, random.Random(args.seed * 100 + i), args.resend_share, args.accept_share))
               for i, w in enumerate(workers)]
    threads += [threading.Thread(target=leader_loop, args=(run, leader, args.poll_pause), daemon=True)
                for leader in leaders]
    fault = threading.Thread(target=do_fault, args=(name, stage), daemon=True)
    for t in threads + [fault]:
        t.start()
    try:
        run.stop_new.wait(args.warmup + args.duration)
        run.stop_new.set()
        fault.join()
        for t in threads + stage.extra_threads:
            t.join(timeout=max(0.1, run.give_up_at + TIMEOUT_S - time.monotonic()))   # a last try in flight
        drained = time.monotonic() - began - args.duration
    finally:
        run.stop_new.set()
        run.slow_stop.set()
        sweepers.stop()
        server.stop()
    phase.notes.append(f"after the window the phones resent for {drained:.1f} s more")
    phase.notes.append(sweepers.summary())
    phase.notes.append(server.log_summary())
    return phase


# --- figures -----------------------------------------------------------------------------------

def figures(phase: Phase) -> dict:
    samples = [s for s in phase.rec.samples if s.kind in ORDINARY]
    window = [s for s in samples if phase.began <= s.at < phase.began + phase.window_s]
    ms = [s.ms for s in window]   # until the answer, or until the client gave up (a timeout counts 10 s)
    errors = phase.rec.problems(ORDINARY)
    return {"rps": sum(s.answered for s in window) / phase.window_s, "p50": percentile(ms, .5),
            "p99": percentile(ms, .99),
            "requests": len(window), "errors": errors, "acked": len(phase.rec.acks),
            "kinds": {k: sum(1 for s in samples if s.kind == k) for k in ORDINARY}}


def error_text(errors) -> str:
    return ", ".join(f"{what} ×{n}" for what, n in errors.most_common()) or "none"


def describe(phase: Phase) -> list[str]:
    f = figures(phase)
    k = f["kinds"]
    reports = k["create"] + k["resend"] + k["retry"]
    lines = [f"requests (warm-up and drain included): {reports} report requests ({k['create']} first sends, "
             f"{k['resend']} deliberate resends = {k['resend'] / max(1, reports):.0%}, {k['retry']} resends after "
             f"an error), {k['accept']} accepts, {k['poll']} leader polls; {f['acked']} reports acknowledged"]
    slow = [s for s in phase.rec.samples if s.kind.startswith("slow")]
    if slow:
        reports_ms = [s.ms for s in slow if s.kind == "slow-report" and not s.problem]
        lines.append(f"slow clients: {len(reports_ms)} trickled reports acknowledged "
                     f"(p50 {statistics.median(reports_ms) / 1000 if reports_ms else float('nan'):.1f} s), "
                     f"{sum(s.kind == 'slow-read' for s in slow)} slow reads; their errors: "
                     f"{error_text(phase.rec.problems(('slow-report', 'slow-read')))}")
    return lines + phase.notes


def timeline(phase: Phase) -> str:
    """Per second from the warm-up on (0 = the window's start): ordinary requests answered /
    failed, by when they were sent."""
    answered, failed = Counter(), Counter()
    for s in phase.rec.samples:
        if s.kind in ORDINARY:
            (failed if s.problem else answered)[math.floor(s.at - phase.began)] += 1
    seconds = answered.keys() | failed.keys() or {0}
    return "per second, answered/failed: " + " ".join(f"{t}:{answered[t]}/{failed[t]}"
                                                       for t in range(min(seconds), max(seconds) + 1))


def table(phases: list[Phase]) -> str:
    rows = [f"{'phase':<13} {'fault':<16} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>8} {'requests':>8} {'acked':>6} "
            f"{'checks':>6}  errors (by kind)"]
    for phase in phases:
        f = figures(phase)
        rows.append(f"{phase.name:<13} {phase.fault:<16} {f['rps']:>7.1f} {f['p50']:>7.1f} {f['p99']:>8.1f} "
                    f"{f['requests']:>8} {f['acked']:>6} {'PASS' if phase.passed else 'FAIL':>6}  "
                    f"{error_text(f['errors'])}")
    return "\n".join(rows)


# --- the run -------------------------------------------------------------------------------------

def main(argv: list[str]) -> int:
    args = options(argv)
    external_db = bool(os.environ.get("GRIDSYS_BENCH_DATABASE_URL"))
    header(f"load: {args.clients} workers, {args.leaders} leaders, {args.sweepers} sweeps, {args.server}, "
           f"{args.duration:g} s per phase")
    url = bench_database(DATABASE)
    engine, session = engine_and_session(url)
    seed_demo_town(session)
    workers, leaders = people_at_work(session, args.clients, args.leaders)
    session.commit()
    session.close()
    log_dir = localdb.var_dir() / "load"
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    env = dict(os.environ, DATABASE_URL=url, GRIDSYS_SECRET_KEY="load", GRIDSYS_TILES_URL="")
    sent, refused, done = {}, {}, []
    for name in args.phases:
        header(f"phase {name}")
        phase = run_phase(name, args, env, log_dir, workers, leaders, external_db)
        sent.update(phase.rec.sent)
        refused.update(phase.rec.refused)
        engine.dispose()   # the pool may hold connections from before a restart
        phase.checks += check_phase(engine, phase.rec, sent, refused)
        for line in describe(phase) + ([timeline(phase)] if args.timeline else []):
            print(f"  {line}")
        for check in phase.checks:
            print(check.line())
        sys.stdout.flush()
        done.append(phase)
    header("load figures (ordinary clients, over each load window: requests answered per second; p50/p99 "
           "until the answer or the client's timeout)")
    print(table(done))
    print(f"\ndatabase {DATABASE} kept for inspection; server and sweep logs in {log_dir}")
    engine.dispose()
    failed = [p.name for p in done if not p.passed]
    if failed:
        print(f"FAIL: {', '.join(failed)}")
        return 1
    print("PASS: every acknowledged incident stored once, every event log in step")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
