"""The server `make run` starts: python -m gridsys.serve --host H --port P [--threads N].

waitress reads every request whole (headers and body, large bodies spooled to disk) in its
asynchronous I/O loop and hands only complete requests to its threads, and buffers answers the
same way: a phone trickling a photo at 50 KB/s, or a client that never finishes its headers,
holds a socket, never a thread. (gunicorn's sync workers read in the worker: three slow
clients stop everyone. In production nginx buffers in front of gunicorn; see README.)
"""
from __future__ import annotations

import argparse
import gc
import logging
import signal
import socket
import sys
import time

from waitress.server import create_server
from werkzeug.wsgi import ClosingIterator

from . import create_app
from .limits import server_body_limit

THREADS = 8
# Sockets held at once (slow phones, keep-alive); each costs a file descriptor, not a thread.
CONNECTION_LIMIT = 500
# Seconds a connection may send nothing before it is closed: a phone losing signal for a while
# may resume; an upload that keeps trickling, however slowly, is never cut.
CHANNEL_TIMEOUT_S = 120

log = logging.getLogger("gridsys.serve")


def server_options(app, threads: int = THREADS) -> dict:
    """waitress settings for ``app``: body limit from the app's own, proxy headers left to the app."""
    return {
        "threads": threads,
        "connection_limit": CONNECTION_LIMIT,
        "channel_timeout": CHANNEL_TIMEOUT_S,
        "asyncore_use_poll": True,  # select() fails beyond 1024 file descriptors
        "max_request_body_size": server_body_limit(app.config),
        # Behind a proxy (GRIDSYS_TRUSTED_PROXIES) the app reads X-Forwarded-* from it (proxies.py):
        # waitress must pass them on. Without one nobody trusts them, and waitress drops them.
        "clear_untrusted_proxy_headers": not app.config["TRUSTED_PROXIES"],
        "url_scheme": "http",  # https comes from the proxy's X-Forwarded-Proto, through ProxyFix
        "ident": "gridsys",
    }


def access_log(app):
    """One line per request, like gunicorn's --access-logfile -: address, request, status, bytes, time."""
    out = logging.getLogger("gridsys.access")

    def logged(environ, start_response):
        started = time.perf_counter()
        seen = {"status": "-", "length": "-"}

        def recording_start_response(status, headers, exc_info=None):
            seen["status"] = status.split(" ", 1)[0]
            seen["length"] = next((v for k, v in headers if k.lower() == "content-length"), "-")
            return start_response(status, headers, exc_info)

        def write():
            query = environ.get("QUERY_STRING")
            out.info('%s "%s %s%s" %s %s %.0f ms', environ.get("REMOTE_ADDR", "-"), environ.get("REQUEST_METHOD"),
                     environ.get("PATH_INFO", ""), "?" + query if query else "", seen["status"], seen["length"],
                     (time.perf_counter() - started) * 1000)
        return ClosingIterator(app(environ, recording_start_response), write)
    return logged


def addresses(host: str, port: int) -> list[str]:
    """Where the server can be reached: the host itself, or this machine's addresses for 0.0.0.0."""
    if host not in ("0.0.0.0", "::", ""):
        return [f"http://{'[' + host + ']' if ':' in host else host}:{port}/"]
    found = {"127.0.0.1"}
    try:
        found |= {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    except OSError:
        pass
    return [f"http://{address}:{port}/" for address in sorted(found)]


def settle() -> None:
    """Once the app is built, before the first request: collect what starting left behind, then
    move every object allocated so far (the modules, the app, its blueprints, models and tables)
    out of the garbage collector's reach. A full collection otherwise walks them all, and one
    landing in a request cost it 30 to 65 ms (at city scale: the administrator's landing page p99
    209 -> 148 ms, /api/v1/me p99 16-66 -> 10.5-14 ms). What the first requests build lazily
    (mappers configured, compiled statements cached) stays walked. gunicorn calls this from
    ``gunicorn.conf.py`` in each worker."""
    gc.collect()
    gc.freeze()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gridsys.serve", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--no-access-log", action="store_true", help="log errors only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stdout)
    if args.no_access_log:
        logging.getLogger("gridsys.access").setLevel(logging.WARNING)
    app = create_app()
    settle()
    server = create_server(access_log(app), host=args.host, port=args.port, **server_options(app, args.threads))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    for url in addresses(args.host, args.port):
        print(f"gridsys on {url}", flush=True)
    print(f"(waitress, {args.threads} threads, up to {CONNECTION_LIMIT} connections; Ctrl-C to stop)", flush=True)
    try:
        server.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
