"""Forwarded addresses trusted only from the configured proxies (GRIDSYS_TRUSTED_PROXIES).

Behind nginx the peer is the proxy; the phone's address is in X-Forwarded-For. A count of proxies
(the former GRIDSYS_PROXY_COUNT) trusted that header from anyone: with the app reachable directly,
a rotating X-Forwarded-For dodged the per-address login limit. Here the header is read only when
the request comes from a trusted proxy, and then right to left, skipping trusted hops, so the
client is the first address no trusted proxy vouches for. From anyone else X-Forwarded-* is dropped.
"""
from __future__ import annotations

import ipaddress

FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PORT",
             "HTTP_X_FORWARDED_PREFIX", "HTTP_FORWARDED")


def parse_networks(text: str) -> tuple:
    """"127.0.0.1, 10.0.0.0/8" -> networks; ValueError naming the bad entry."""
    networks = []
    for part in (p.strip() for p in (text or "").split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{part!r} is not an IP address or network (e.g. 127.0.0.1 or 10.0.0.0/8)")
    return tuple(networks)


def _trusted(address: str, networks) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


class TrustedProxies:
    """WSGI middleware: REMOTE_ADDR and the scheme from a trusted proxy's X-Forwarded-*."""

    def __init__(self, app, networks):
        self.app, self.networks = app, tuple(networks)

    def __call__(self, environ, start_response):
        peer = environ.get("REMOTE_ADDR", "")
        if self.networks and _trusted(peer, self.networks):
            hops = [h.strip() for h in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
            client = peer
            for hop in reversed(hops):
                client = hop
                if not _trusted(hop, self.networks):
                    break
            environ["REMOTE_ADDR"] = client
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
        for name in FORWARDED:   # read above or untrusted: nothing downstream reads them
            environ.pop(name, None)
        return self.app(environ, start_response)
