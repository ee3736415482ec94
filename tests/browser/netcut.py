"""A loopback TCP proxy between the browser and the app whose cable the test can pull.

Chromium's own offline emulation may not cover a service worker's requests; a proxy that
refuses connections does, exactly like a phone that lost its signal. It can also cut one
upload half-way, or let a request reach the app and lose its answer (the case that client
UUIDs exist for). Loopback only; every socket is closed by ``close()``.
"""
from __future__ import annotations

import socket
import threading


class NetCut:
    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.online = True
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._cut_request: tuple[bytes, int] | None = None    # (marker, bytes of the body sent before the cut)
        self._lose_answer: bytes | None = None                # marker of the request whose answer is lost
        self._blocked: bytes | None = None                    # requests with this marker never get through
        self.cuts = 0
        self._closed = False
        threading.Thread(target=self._accept, name="netcut", daemon=True).start()

    # --- what a test does ---------------------------------------------------------------------
    def cut(self) -> None:
        """No network: existing connections die, new ones are refused."""
        with self._lock:
            self.online = False
            doomed, self._sockets = self._sockets, set()
        for s in doomed:
            _close(s)

    def restore(self) -> None:
        with self._lock:
            self.online = True

    def cut_during(self, marker: bytes, after_bytes: int) -> None:
        """Cut the network once a request whose head contains ``marker`` has sent ``after_bytes``."""
        self._cut_request = (marker, after_bytes)

    def lose_answer_of(self, marker: bytes) -> None:
        """Let the next request containing ``marker`` reach the app, then cut before its answer."""
        self._lose_answer = marker

    def block(self, marker: bytes | None) -> None:
        """Drop every connection that sends a request containing ``marker`` (None: let all through)."""
        self._blocked = marker

    def close(self) -> None:
        self._closed = True
        self.cut()
        _close(self.listener)

    # --- the plumbing -------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.online:
                _close(client)   # like a dead link: nothing answers
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            state = {"marked": False, "sent": 0, "lose": False}
            threading.Thread(target=self._pump, args=(client, upstream, state, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, state, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, state: dict, upward: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if upward:
                    if self._blocked and self._blocked in data:
                        return   # the request never reaches the app; the connection is closed
                    if self._cut_request and self._cut_request[0] in data:
                        state["marked"], state["sent"] = True, 0
                    if self._lose_answer and self._lose_answer in data:
                        state["lose"], self._lose_answer = True, None
                    if state["marked"]:
                        limit = self._cut_request[1] if self._cut_request else None
                        if limit is not None and state["sent"] + len(data) > limit:
                            dst.sendall(data[:max(limit - state["sent"], 0)])
                            self._cut_request = None
                            self.cuts += 1
                            self.cut()
                            return
                        state["sent"] += len(data)
                elif state["lose"]:
                    self.cuts += 1
                    self.cut()   # the app has answered (and committed): the phone never hears it
                    return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _close(src)
            _close(dst)


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass
