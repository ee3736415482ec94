"""The people of `make load` (bench/load.py): grid workers whose phones log incidents and resend
them as the field app's outbox does (gridsys/static/outbox.js: the same UUID again after any
answer that is not the app's own yes or no), area leaders polling their map data, and phones on
a weak link. Every request is timed and its outcome kept; every answer that acknowledges a
report is kept for the database checks (bench/loadchecks.py). Loopback only, standard library.
"""
from __future__ import annotations

import http.client
import json
import random
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from .slowclients import HOST, KB, slow_upload

TIMEOUT_S = 10                 # a phone's request gives up after this long
BACKOFF_S = (0.2, 2.0)         # the outbox waits 10 s doubling to 60 s between rounds; 50 times faster here
# Categories of the duties the grid's "a" worker holds (civilization, safety), so the reporter
# handles the report themselves and can accept it; 0202 is urgent (the area leader is told at once).
CATEGORIES = (("0101", 35), ("0103", 25), ("0201", 30), ("0202", 10))
CREATE = "/api/v1/incidents"


@dataclass
class Worker:
    username: str
    token: str
    points: list[tuple[float, float]]   # inside the worker's own grid


@dataclass
class Leader:
    username: str
    token: str
    bbox: str                           # the area's extent, as the map asks for it


@dataclass
class Answer:
    status: int | None                  # None: no answer at all
    body: dict | None                   # the app's JSON object, when it sent one
    error: str | None                   # the transport failure (conn refused, conn reset, timeout, …)
    ms: float
    request_id: str = ""


@dataclass
class Sample:
    kind: str                           # create, resend, retry, accept, poll, slow-report, slow-read
    at: float                           # time.monotonic() when it started
    ms: float
    answered: bool
    problem: str | None                 # None: the answer expected; else what went wrong


@dataclass
class Ack:
    reporter: str
    ids: set[int] = field(default_factory=set)
    created: int = 0                    # how many answers said 201 (stored now), of all for this UUID
    code: str = ""


class Recorder:
    """What one phase's clients did and were told (lists and dicts appended under the GIL)."""

    def __init__(self):
        self.samples: list[Sample] = []
        self.sent: dict[str, str] = {}      # client UUID -> reporter, every report sent at least once
        self.acks: dict[str, Ack] = {}
        self.refused: dict[str, str] = {}   # client UUID -> the refusal's code
        self._lock = threading.Lock()

    def sample(self, kind: str, answer: Answer, problem: str | None) -> None:
        self.samples.append(Sample(kind, time.monotonic() - answer.ms / 1000, answer.ms, answer.status is not None,
                                   problem))

    def ack(self, client_uuid: str, reporter: str, answer: Answer) -> None:
        with self._lock:
            entry = self.acks.setdefault(client_uuid, Ack(reporter))
            entry.ids.add(answer.body["id"])
            entry.created += answer.status == 201
            entry.code = answer.body.get("code", "")

    def problems(self, kinds) -> Counter:
        return Counter(s.problem for s in self.samples if s.problem and s.kind in kinds)


@dataclass
class Run:
    """One phase's clients: where the server is, when to stop logging new reports, and when a
    phone stops resending what it still holds."""
    port: int
    rec: Recorder
    stop_new: threading.Event
    give_up_at: float                   # time.monotonic()
    slow_stop: threading.Event = field(default_factory=threading.Event)


# --- one request --------------------------------------------------------------------------

_TRANSPORT = {"ConnectionRefusedError": "conn refused", "ConnectionResetError": "conn reset",
              "RemoteDisconnected": "conn reset", "BrokenPipeError": "conn reset",
              "ConnectionAbortedError": "conn reset", "IncompleteRead": "conn reset",
              "BadStatusLine": "conn reset", "TimeoutError": "timeout", "timeout": "timeout"}


def transport_error(exc_or_name) -> str:
    """conn refused / conn reset / timeout, or the exception's name."""
    names = [exc_or_name] if isinstance(exc_or_name, str) else [t.__name__ for t in type(exc_or_name).__mro__]
    return next((_TRANSPORT[n] for n in names if n in _TRANSPORT), names[0])


def call(port: int, method: str, path: str, token: str, payload: dict | None = None, *,
         gzip: bool = False, timeout_s: float = TIMEOUT_S) -> Answer:
    request_id = uuid.uuid4().hex   # the app logs it with any 5xx: a failure here can be found in the server log
    headers = {"Authorization": f"Bearer {token}", "X-Request-Id": request_id, "Accept": "application/json"}
    if gzip:
        headers["Accept-Encoding"] = "gzip"
    data = None
    if payload is not None:
        data = json.dumps(payload).encode()
        headers["Content-Type"] = "application/json"
    started = time.perf_counter()
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout_s)
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    except (OSError, http.client.HTTPException) as exc:
        return Answer(None, None, transport_error(exc), (time.perf_counter() - started) * 1000, request_id)
    finally:
        conn.close()
    return Answer(response.status, _json_object(raw, response.getheader("Content-Type", "")),
                  None, (time.perf_counter() - started) * 1000, request_id)


def _json_object(raw: bytes, content_type: str) -> dict | None:
    if "json" not in content_type:
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def verdict(answer: Answer, expect_uuid: str | None = None) -> str:
    """outbox.js's reading of an answer: ok, refused (the app said no about this request),
    login, or later (no answer, a proxy's page, a busy or failing app)."""
    if answer.status in (200, 201) and answer.body is not None:
        return "ok" if expect_uuid is None or answer.body.get("client_uuid") == expect_uuid else "later"
    if answer.status == 401 and answer.body is not None:
        return "login"
    code = error_code(answer)
    if not code or code == "csrf_invalid" or answer.status in (408, 429) or answer.status >= 500:
        return "later"
    return "refused"


def error_code(answer: Answer) -> str | None:
    error = (answer.body or {}).get("error")
    return error.get("code") if isinstance(error, dict) else None


def problem(answer: Answer) -> str:
    """How a failed request is counted in the table: conn refused, conn reset, timeout, HTTP 500, 409 code…"""
    if answer.status is None:
        return answer.error or "no answer"
    if answer.status >= 500 or answer.status in (401, 408, 429) or not error_code(answer):
        return f"HTTP {answer.status}"
    return f"{answer.status} {error_code(answer)}"


# --- grid workers -----------------------------------------------------------------------------

def new_report(worker: Worker, rng: random.Random) -> dict:
    lon, lat = rng.choice(worker.points)
    codes, weights = zip(*CATEGORIES)
    return {"client_uuid": str(uuid.uuid4()), "lon": lon, "lat": lat, "category": rng.choices(codes, weights)[0],
            "description": f"负载测试 {worker.username}: 路面有垃圾堆放"}


def send_report(run: Run, worker: Worker, report: dict, kind: str, rng: random.Random) -> dict | None:
    """Send until the app says yes or no, backing off between tries; None if it never did before
    the phase's end (the report stays on the phone)."""
    client_uuid = report["client_uuid"]
    run.rec.sent.setdefault(client_uuid, worker.username)
    delay = BACKOFF_S[0]
    while True:
        answer = call(run.port, "POST", CREATE, worker.token, report)
        seen = verdict(answer, client_uuid)
        run.rec.sample(kind, answer, None if seen == "ok" else problem(answer))
        if seen == "ok":
            run.rec.ack(client_uuid, worker.username, answer)
            return answer.body
        if seen == "refused":
            run.rec.refused[client_uuid] = error_code(answer)
            return None
        if time.monotonic() + delay > run.give_up_at:
            return None
        time.sleep(delay * rng.uniform(0.5, 1.5))
        delay, kind = min(delay * 2, BACKOFF_S[1]), "retry"


def send_twice_at_once(run: Run, worker: Worker, report: dict, rng: random.Random) -> dict | None:
    """The same report from two threads at the same moment (two tabs, or a tap while the outbox sends)."""
    barrier, answers = threading.Barrier(2), [None, None]

    def twin(i, twin_rng):
        barrier.wait()
        answers[i] = send_report(run, worker, report, "create" if i == 0 else "resend", twin_rng)

    other = threading.Thread(target=twin, args=(1, random.Random(rng.random())), daemon=True)
    other.start()
    twin(0, rng)
    other.join()
    return answers[0] or answers[1]


def accept(run: Run, worker: Worker, incident: dict, rng: random.Random) -> None:
    """受理: the handler accepts their incident, retrying like the app (a retry whose first try
    was stored meanwhile is told 409: the incident moved on, which is what was wanted)."""
    path, body = f"{CREATE}/{incident['id']}/transitions", {"action": "accept", "version": incident["version"]}
    delay, retried = BACKOFF_S[0], False
    while True:
        answer = call(run.port, "POST", path, worker.token, body)
        done = answer.status == 200 or (retried and answer.status == 409 and
                                        error_code(answer) in ("stale_update", "transition_not_allowed"))
        seen = "ok" if done else verdict(answer)
        run.rec.sample("accept", answer, None if seen == "ok" else problem(answer))
        if seen in ("ok", "refused") or time.monotonic() + delay > run.give_up_at:
            return
        time.sleep(delay * rng.uniform(0.5, 1.5))
        delay, retried = min(delay * 2, BACKOFF_S[1]), True


def worker_loop(run: Run, worker: Worker, rng: random.Random, resend_share: float, accept_share: float) -> None:
    """Log reports one after another until the load window ends. ``resend_share`` of the report
    requests carry a UUID already sent: half sent again after the answer (the answer was lost on
    the way), half sent by two threads at once."""
    duplicated = resend_share / (1 - resend_share)   # per report, so that resends are that share of requests
    while not run.stop_new.is_set():
        report, draw = new_report(worker, rng), rng.random()
        if draw < duplicated / 2:
            answer = send_twice_at_once(run, worker, report, rng)
        else:
            answer = send_report(run, worker, report, "create", rng)
            if answer is not None and draw < duplicated:
                send_report(run, worker, report, "resend", rng)
        if answer and answer.get("assignee") == worker.username and answer.get("status") == "assigned" \
                and rng.random() < accept_share:
            accept(run, worker, answer, rng)


# --- area leaders -------------------------------------------------------------------------------

LEADER_POLLS = ("/api/v1/me", "/api/v1/incidents.geojson?status=open&bbox={bbox}", "/api/v1/map/grids.geojson?lang=zh",
                "/api/v1/zones.geojson?level=area")


def leader_loop(run: Run, leader: Leader, pause_s: float) -> None:
    """What the leader's map page fetches on each refresh (map.js), then a pause."""
    while not run.stop_new.is_set():
        for path in LEADER_POLLS:
            answer = call(run.port, "GET", path.format(bbox=leader.bbox), leader.token, gzip=True)
            run.rec.sample("poll", answer, None if answer.status == 200 else problem(answer))
        run.stop_new.wait(pause_s)


# --- phones on a weak link ----------------------------------------------------------------------

def slow_reporter_loop(run: Run, worker: Worker, rng: random.Random, rate_bps: int, body_bytes: int) -> None:
    """A phone whose reports crawl out at ``rate_bps`` (the JSON padded with spaces to
    ``body_bytes``, as a report with a long description would be): each one a real report that
    must be stored once. Once the link is good again (slow_stop), what is left is resent normally."""
    while not run.slow_stop.is_set() and not run.stop_new.is_set():
        report = new_report(worker, rng)
        client_uuid = report["client_uuid"]
        run.rec.sent.setdefault(client_uuid, worker.username)
        body = json.dumps(report).encode().ljust(body_bytes)
        delay = BACKOFF_S[0]
        while not run.slow_stop.is_set():
            up = slow_upload(run.port, CREATE, body, "application/json", rate_bps=rate_bps,
                             timeout_s=body_bytes / rate_bps + 2 * TIMEOUT_S,
                             headers={"Authorization": f"Bearer {worker.token}", "Accept": "application/json"})
            answer = Answer(up.status, _json_object(up.body, "json"),
                            transport_error(up.error.split(":", 1)[0]) if up.error else None, up.seconds * 1000)
            seen = verdict(answer, client_uuid)
            run.rec.sample("slow-report", answer, None if seen == "ok" else problem(answer))
            if seen == "ok":
                run.rec.ack(client_uuid, worker.username, answer)
                break
            if seen == "refused":
                run.rec.refused[client_uuid] = error_code(answer)
                break
            run.slow_stop.wait(delay)
            delay = min(delay * 2, BACKOFF_S[1])
        else:
            send_report(run, worker, report, "retry", rng)


def slow_reader_loop(run: Run, leader: Leader, rate_bps: int = 8 * KB, give_up_s: float = 15) -> None:
    """A leader's phone reading the whole area's incidents (uncompressed) at ``rate_bps`` through
    a small receive window, closing after ``give_up_s`` if it has not got it all."""
    request = (f"GET /api/v1/incidents.geojson?status=open HTTP/1.1\r\nHost: {HOST}\r\n"
               f"Authorization: Bearer {leader.token}\r\nConnection: close\r\n\r\n").encode()
    while not run.slow_stop.is_set():
        started, status, error, got = time.perf_counter(), None, None, 0
        try:
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * KB)
                sock.settimeout(TIMEOUT_S)
                sock.connect((HOST, run.port))
                sock.sendall(request)
                while time.perf_counter() - started < give_up_s:
                    chunk = sock.recv(KB)
                    if not chunk:
                        break
                    if status is None:
                        status = int(chunk.split(b" ", 2)[1]) if chunk.startswith(b"HTTP/") else 0
                    got += len(chunk)
                    time.sleep(max(0.0, got / rate_bps - (time.perf_counter() - started)))
        except OSError as exc:
            error = transport_error(exc)
        answer = Answer(status, None, error, (time.perf_counter() - started) * 1000)
        run.rec.sample("slow-read", answer, None if status == 200 else problem(answer))
