"""Hostile cases of the residents' pages (report without an account, tracking, rating, recovery).

They come from a browser nobody logged into (``anon``), as residents' do. Every one is refused at
the door: the CSRF token, the page's check (proof of work: missing, forged, from another secret,
expired; residents/guard.py), NUL characters, oversized bodies, unknown grids and tracking links;
refusals after the check (a missing description, a place outside the town) are in
tests/residents/test_pages.py, with the same assertion that nothing was written.
"""
from __future__ import annotations

from datetime import datetime, timezone

from gridsys.residents import guard
from tests.hostile.values import DATA_LIMIT, G11, MISSING_GRID, NUL, SCRIPT, SQL_OR, Case, _case
from tests.incidents.helpers import lonlat

SECRET = "test-secret"   # the corpus app's (tests/hostile/conftest.py)
resident = _case("form", {"who": "anon"})


def _signed(secret: str, at: datetime) -> dict:
    challenge = guard.new_challenge(secret, at=at)
    return {"challenge": challenge, "counter": guard.solve(challenge, 14)}


EXPIRED = _signed(SECRET, datetime(2020, 1, 1, tzinfo=timezone.utc))           # signed, solved, long ago
FOREIGN = _signed("another app's secret", datetime.now(timezone.utc))         # solved, but not signed by us
FORGED = {"challenge": EXPIRED["challenge"].rsplit(".", 1)[0] + "." + "0" * 32, "counter": "1"}


def report_form(**changes) -> dict:
    lon, lat = lonlat("g11")
    fields = {"client_uuid": "7d0c9e2a-4b1f-4e6a-8c3d-2f1e0a9b8c7d", "lon": f"{lon}", "lat": f"{lat}",
              "category": "0201", "description": "楼道堆放杂物", "phone": "13800001111"}
    fields.update(changes)
    return fields


R = f"/r/{G11}"
TOKEN = "0" * 32
RESIDENTS: list[Case] = [
    # a grid's report form
    resident("r-without-csrf", R, csrf=False, form=report_form(**FOREIGN), code="csrf_invalid"),
    resident("r-forged-csrf", R, csrf="IjAwMDAi.forged", form=report_form(), code="csrf_invalid"),
    resident("r-proof-missing", R, form=report_form(), code="proof_missing"),
    resident("r-proof-empty", R, form=report_form(challenge="", counter=""), code="proof_missing"),
    resident("r-proof-forged", R, form=report_form(**FORGED), code="proof_invalid"),
    resident("r-proof-other-secret", R, form=report_form(**FOREIGN), code="proof_invalid"),
    resident("r-proof-script", R, form=report_form(challenge=SCRIPT, counter="1"), code="proof_invalid"),
    resident("r-proof-sql-counter", R, form=report_form(challenge=EXPIRED["challenge"], counter=SQL_OR),
             code="proof_invalid"),
    resident("r-proof-expired", R, form=report_form(**EXPIRED), code="proof_expired"),
    resident("r-nul-description", R, form=report_form(description=NUL, **EXPIRED), code="nul_byte"),
    resident("r-too-large", R, form=report_form(description="x" * (DATA_LIMIT + 1)), status=413,
             code="payload_too_large"),
    resident("r-as-json", R, json=report_form(), code="proof_missing"),
    resident("r-photos-without-proof", R, form=report_form(), files={"photos": b"GIF89a"}, code="proof_missing"),
    resident("r-unknown-grid", f"/r/{MISSING_GRID}", form=report_form(**EXPIRED), status=404, code="grid_not_found"),
    resident("r-sql-grid", "/r/%27%20OR%20%271%27%3D%271", form=report_form(), status=404, code="grid_not_found"),
    # recovering a lost tracking link
    resident("recover-without-csrf", "/t/recover", csrf=False, form={"code": "x", "phone": "1"},
             code="csrf_invalid"),
    resident("recover-proof-missing", "/t/recover", form={"code": f"{G11}-20260101-001", "phone": "13800001111"},
             code="proof_missing"),
    resident("recover-proof-forged", "/t/recover", form={"code": SQL_OR, "phone": SQL_OR, **FORGED},
             code="proof_invalid"),
    resident("recover-proof-expired", "/t/recover", form={"code": f"{G11}-20260101-001", "phone": "13800001111",
                                                          **EXPIRED}, code="proof_expired"),
    resident("recover-nul-code", "/t/recover", form={"code": NUL, "phone": "13800001111", **EXPIRED},
             code="nul_byte"),
    resident("recover-too-large", "/t/recover", form={"code": "x" * (DATA_LIMIT + 1), "phone": "1"}, status=413,
             code="payload_too_large"),
    # rating through a tracking link
    resident("rate-unknown-token", f"/t/{TOKEN}/rate", form={"rating": "satisfied"}, status=404,
             code="tracking_not_found"),
    resident("rate-script-token", "/t/%3Cscript%3E/rate", form={"rating": "satisfied"}, status=404,
             code="tracking_not_found"),
    resident("rate-without-csrf", f"/t/{TOKEN}/rate", csrf=False, form={"rating": "satisfied"},
             code="csrf_invalid"),
    resident("rate-nul-comment", f"/t/{TOKEN}/rate", form={"rating": "unsatisfied", "comment": NUL},
             code="nul_byte"),
    resident("rate-too-large", f"/t/{TOKEN}/rate", form={"rating": "satisfied", "comment": "x" * (DATA_LIMIT + 1)},
             status=413, code="payload_too_large"),
    resident("rate-as-json", f"/t/{TOKEN}/rate", json={"rating": "satisfied"}, status=404,
             code="tracking_not_found"),
]
