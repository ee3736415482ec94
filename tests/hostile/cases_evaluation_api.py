"""Hostile query strings on the evaluation API (/api/v1/indicators and its drill-down): each refused
with its stable code, and nothing changed (the API only reads)."""
from __future__ import annotations

from tests.factories import TOWN
from tests.hostile.values import NUL, SCRIPT, SQL_OR, query

TOWN_Q = f"scope=town&code={TOWN}"
BAD = (
    ("scope-unknown", "scope=city&code=1", "scope_invalid", 400),
    ("scope-sql", f"scope={SQL_OR}&code=1", "scope_invalid", 400),
    ("code-missing", "scope=town", "code_required", 400),
    ("code-script", f"scope=grid&code={SCRIPT}", "grid_not_found", 404),
    ("code-sql", f"scope=person&code={SQL_OR}", "person_not_found", 404),
    ("other-area", "scope=town&code=" + TOWN, "town_not_found", 404),   # leader1 does not lead the town
    ("from-only", f"{TOWN_Q}&from=2026-10-01", "period_invalid", 400),
    ("reversed", f"{TOWN_Q}&from=2026-10-31&to=2026-10-01", "period_invalid", 400),
    ("too-long", f"{TOWN_Q}&from=2020-01-01&to=2026-10-01", "period_too_long", 400),
    ("day-13th-month", f"{TOWN_Q}&from=2026-13-01&to=2026-12-01", "day_invalid", 400),
    ("day-words", f"{TOWN_Q}&from=yesterday&to=today", "day_invalid", 400),
    ("by-unknown", f"{TOWN_Q}&by=street", "by_invalid", 400),
    ("nul", "scope=town&code=" + NUL.replace("\x00", "%00"), "nul_byte", 400),
)
DRILL = (
    ("indicator-missing", "", "indicator_unknown", 400),
    ("indicator-unknown", "&indicator=happiness", "indicator_unknown", 400),
    ("part-unknown", "&indicator=closed&part=half", "part_invalid", 400),
    ("page-zero", "&indicator=closed&page=0", "page_invalid", 400),
    ("page-huge", "&indicator=closed&page=99999999999", "page_invalid", 400),
)

EVALUATION_API = [
    *[query(f"indicators-{name}", f"/api/v1/indicators?{qs}", who="token:admin" if name != "other-area"
            else "token:leader1", code=code, status=status) for name, qs, code, status in BAD],
    *[query(f"indicators-drill-{name}", f"/api/v1/indicators/incidents?{TOWN_Q}{qs}", who="token:admin",
            code=code, status=status) for name, qs, code, status in DRILL],
]
