"""Phones on a bad network, against a server on 127.0.0.1: connections that never finish their
headers (slowloris), bodies sent a byte at a time, a photo uploaded at 50 KB/s; and, meanwhile,
ordinary requests every half second, timed.

Shared by the benchmark (bench/slow_clients.py: waitress beside the former gunicorn set-up) and
the test (tests/test_slow_clients.py: what `make run` serves stays answering). It lives in bench/
because it is a measuring tool: the test asserts on what it measures. Standard library (and
Pillow for the photo) only; loopback only.
"""
from __future__ import annotations

import http.client
import io
import os
import random
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field

HOST = "127.0.0.1"
KB = 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def get(port: int, path: str, timeout_s: float = 5.0, headers: dict | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout_s)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def start_server(argv: list[str], port: int, env: dict, cwd=None, timeout_s: float = 30) -> subprocess.Popen:
    """Start a server process and wait until /healthz answers 200 (its output goes to a pipe-less
    /dev/null unless GRIDSYS_BENCH_VERBOSE is set)."""
    quiet = not os.environ.get("GRIDSYS_BENCH_VERBOSE")
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL if quiet else None,
                            stderr=subprocess.DEVNULL if quiet else None, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{argv} exited with {proc.returncode} before serving")
        try:
            if get(port, "/healthz", timeout_s=2)[0] == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError(f"{argv} did not answer /healthz within {timeout_s} s")


def stop_server(proc: subprocess.Popen, timeout_s: float = 10) -> None:
    """SIGTERM the server's process group (gunicorn's workers too), SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout_s)
    except ProcessLookupError:
        pass


def noise_jpeg(target_bytes: int = 3_000_000, seed: int = 7) -> bytes:
    """A JPEG of random pixels (it does not compress) of about ``target_bytes``, like a camera photo."""
    from PIL import Image
    rng = random.Random(seed)
    side = 1000
    for _ in range(8):
        out = io.BytesIO()
        Image.frombytes("RGB", (side * 4 // 3, side), rng.randbytes(side * 4 // 3 * side * 3)).save(
            out, "JPEG", quality=85)
        size = out.tell()
        if abs(size - target_bytes) < target_bytes * 0.03:
            break
        side = int(side * (target_bytes / size) ** 0.5)
    return out.getvalue()


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, data, content_type) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f'Content-Type: {content_type}\r\n\r\n'.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@dataclass
class Upload:
    status: int | None
    body: bytes
    seconds: float
    error: str | None = None


def slow_upload(port: int, path: str, body: bytes, content_type: str, headers: dict | None = None,
                rate_bps: int = 50 * KB, timeout_s: float = 120) -> Upload:
    """POST ``body`` paced at ``rate_bps`` (bytes per second) and read the answer, all within
    ``timeout_s``."""
    started = time.monotonic()
    deadline = started + timeout_s
    head = [f"POST {path} HTTP/1.1", f"Host: {HOST}:{port}", f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}", "Connection: close"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    try:
        with socket.create_connection((HOST, port), timeout=timeout_s) as sock:
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
            sent, chunk = 0, 2 * KB
            while sent < len(body):
                sock.settimeout(max(0.1, deadline - time.monotonic()))
                sock.sendall(body[sent:sent + chunk])
                sent += chunk
                ahead = sent / rate_bps - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            response = http.client.HTTPResponse(sock)
            response.begin()
            return Upload(response.status, response.read(), time.monotonic() - started)
    except OSError as exc:
        return Upload(None, b"", time.monotonic() - started, f"{type(exc).__name__}: {exc}")


class Trickler(threading.Thread):
    """Holds slow connections open, sending one byte on each every ``every_s`` seconds:
    ``slowloris`` requests whose headers never end, and ``slow_bodies`` that declare a body of
    ``body_bytes`` and never finish sending it."""

    def __init__(self, port: int, slowloris: int = 40, slow_bodies: int = 5, every_s: float = 2.0,
                 body_path: str = "/api/v1/incidents", body_bytes: int = 100_000):
        super().__init__(daemon=True, name="slow-clients")
        self.port, self.every_s = port, every_s
        self.plan = [("loris", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")] * slowloris + [
            ("body", (f"POST {body_path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {body_bytes}\r\n\r\n").encode())] * slow_bodies
        self.sockets: list[tuple[str, socket.socket]] = []
        self.opened = {"loris": 0, "body": 0}
        self.ready = threading.Event()
        self._stopping = threading.Event()

    def run(self) -> None:
        for kind, start in self.plan:
            try:
                sock = socket.create_connection((HOST, self.port), timeout=5)
                sock.sendall(start)
                self.sockets.append((kind, sock))
                self.opened[kind] += 1
            except OSError:
                pass
        self.ready.set()
        while not self._stopping.wait(self.every_s):
            for kind, sock in self.sockets:
                try:
                    sock.sendall(b"a" if kind == "loris" else b" ")
                except OSError:
                    pass

    def still_open(self) -> dict[str, int]:
        """Connections the server has not closed (a closed one reads EOF or fails)."""
        found = {"loris": 0, "body": 0}
        for kind, sock in self.sockets:
            try:
                sock.setblocking(False)
                sock.recv(1)  # end of stream or an answer: the server is done with it
            except BlockingIOError:
                found[kind] += 1
            except OSError:
                pass
        return found

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=10)
        for _, sock in self.sockets:
            sock.close()


@dataclass
class Probe:
    path: str
    status: int | None
    seconds: float


@dataclass
class Attack:
    probes: list[Probe]
    upload: Upload | None
    opened: dict[str, int]
    still_open: dict[str, int]
    slow_after_s: float = 2.0
    latencies: list[float] = field(init=False)

    def __post_init__(self):
        self.latencies = sorted(p.seconds for p in self.probes if p.status == 200)

    @property
    def served(self) -> int:
        """Ordinary requests answered 200 within ``slow_after_s``."""
        return sum(1 for p in self.probes if p.status == 200 and p.seconds <= self.slow_after_s)

    def percentile(self, q: float) -> float:
        """Latency (s) of answered requests at quantile ``q``, linearly interpolated."""
        values = self.latencies
        if not values:
            return float("nan")
        k = (len(values) - 1) * q
        lo = int(k)
        hi = min(lo + 1, len(values) - 1)
        return values[lo] + (values[hi] - values[lo]) * (k - lo)


def attack(port: int, probe_paths: list[str], upload=None, duration_s: float = 0, probe_every_s: float = 0.5,
           probe_timeout_s: float = 10, slowloris: int = 40, slow_bodies: int = 5) -> Attack:
    """Open the slow connections, run ``upload()`` (a callable returning an Upload) beside them,
    and GET ``probe_paths`` in turn every ``probe_every_s`` (each in its own thread, as separate
    people would) until the upload has ended and ``duration_s`` has passed."""
    trickler = Trickler(port, slowloris=slowloris, slow_bodies=slow_bodies)
    trickler.start()
    try:
        trickler.ready.wait(30)
        result: dict = {}
        uploader = threading.Thread(target=lambda: result.update(upload=upload()), daemon=True) if upload else None
        probes = _probe_while(port, probe_paths, uploader, duration_s, probe_every_s, probe_timeout_s)
        still_open = trickler.still_open()
    finally:
        trickler.stop()
    return Attack(probes=probes, upload=result.get("upload"), opened=dict(trickler.opened), still_open=still_open)


def _probe_while(port, paths, uploader, duration_s, every_s, timeout_s) -> list[Probe]:
    """GET ``paths`` in turn every ``every_s``, each in its own thread, while ``uploader`` runs
    (started here) and for at least ``duration_s``; returns once every probe has ended."""
    probes: list[Probe] = []
    threads = []

    def one(path):
        began = time.monotonic()
        try:
            status = get(port, path, timeout_s=timeout_s)[0]
        except OSError:
            status = None
        probes.append(Probe(path, status, time.monotonic() - began))

    started = time.monotonic()
    if uploader:
        uploader.start()
    n = 0
    while (uploader and uploader.is_alive()) or time.monotonic() - started < duration_s:
        thread = threading.Thread(target=one, args=(paths[n % len(paths)],), daemon=True)
        thread.start()
        threads.append(thread)
        n += 1
        time.sleep(max(0.0, started + n * every_s - time.monotonic()))
    if uploader:
        uploader.join()
    for thread in threads:
        thread.join(timeout_s + 1)
    return probes
