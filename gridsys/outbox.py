"""Messages written in a transaction are sent after it commits, the same way everywhere.

A rule that writes an outbox row (a webhook message) calls ``recorded(session)``. When that
session commits, whatever *courier* the session carries is kicked: the app's courier is one
background thread per process that sends what is due and sleeps until kicked again. Over HTTP,
from the CLI and in a benchmark it is the same session event, so no request hook, no ``flask.g``
and no per-caller code. A session without a courier (tests, or ``GRIDSYS_WEBHOOKS_IN_BACKGROUND``
off) leaves the rows for the sweep or ``flask --app gridsys webhooks deliver``; the rows are the
truth, the courier only makes delivery prompt. Rows are claimed with ``FOR UPDATE SKIP LOCKED``,
so several couriers and deliverers share the work; a deliverer killed mid-send leaves its row
pending and another sends it again with the same message id (receivers de-duplicate on it).
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
from typing import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger("gridsys.outbox")


def recorded(session: Session) -> None:
    """This transaction wrote an outbox row: kick the session's courier once it commits."""
    session.info["outbox_recorded"] = True


def carry(session: Session, courier: "Courier | None") -> Session:
    if courier is None:
        session.info.pop("outbox_courier", None)
    else:
        session.info["outbox_courier"] = courier
    return session


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop("outbox_recorded", False):
        courier = session.info.get("outbox_courier")
        if courier is not None:
            courier.kick()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop("outbox_recorded", None)


class Courier:
    """One daemon thread per process running ``work`` whenever kicked; kicks while it works
    coalesce into one more pass. Started lazily, and again in a forked worker (gunicorn)."""

    def __init__(self, work: Callable[[], object], name: str = "gridsys-outbox"):
        self._work, self._name = work, name
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = None
        self._idle = threading.Event()
        self._idle.set()
        atexit.register(self._finish)

    def kick(self) -> None:
        with self._lock:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._wake = threading.Event()
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._wake.set()

    def _run(self) -> None:
        wake = self._wake
        while True:
            wake.wait()
            self._idle.clear()
            wake.clear()
            try:
                self._work()
            except Exception:  # the rows stay pending: the next kick or the sweep sends them
                log.exception("outbox delivery failed")
            finally:
                self._idle.set()

    def _finish(self, timeout: float = 15) -> None:
        """At exit (a CLI command's end), let a pass under way finish its send rather than cut it."""
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            self._idle.wait(timeout)
