"""Hostile query strings on the evaluation pages (the dashboard /evaluation and the drill page
/evaluation/incidents), sent by a logged-in browser: each refused on the page with its stable code
(data-code on the refusal) and a 400 or 404, and nothing changed (the pages only read)."""
from __future__ import annotations

from tests.factories import TOWN
from tests.hostile.values import NUL, SCRIPT, SQL_OR, SQLISH, query

TOWN_Q = f"scope=town&code={TOWN}"
DASHBOARD = (
    ("scope-unknown", "scope=city&code=1", "scope_invalid", 400),
    ("subject-script", f"subject={SCRIPT}", "scope_invalid", 400),
    ("subject-sql", f"subject=grid:{SQL_OR}", "grid_not_found", 404),
    ("subject-no-code", "subject=town:", "code_required", 400),
    ("person-sql", f"subject=person:{SQLISH}", "person_not_found", 404),
    ("month-13", "month=2026-13", "month_invalid", 400),
    ("month-words", "month=last%20month", "month_invalid", 400),
    ("month-year-zero", "month=0000-01", "month_invalid", 400),
    ("days-reversed", "from=2026-10-31&to=2026-10-01&days=1", "period_invalid", 400),
    ("days-too-long", f"{TOWN_Q}&from=2020-01-01&to=2026-10-01", "period_too_long", 400),
    ("by-unknown", f"{TOWN_Q}&by=street", "by_invalid", 400),
    ("nul", "month=2026-10%00", "nul_byte", 400),
)
DRILL = (
    ("no-subject", "indicator=closed", "scope_invalid", 400),
    ("indicator-missing", TOWN_Q, "indicator_unknown", 400),
    ("indicator-script", f"{TOWN_Q}&indicator={SCRIPT}", "indicator_unknown", 400),
    ("part-unknown", f"{TOWN_Q}&indicator=closed&part=half", "part_invalid", 400),
    ("page-zero", f"{TOWN_Q}&indicator=closed&page=0", "page_invalid", 400),
    ("page-huge", f"{TOWN_Q}&indicator=closed&page=99999999999", "page_invalid", 400),
    ("by-sql", f"{TOWN_Q}&indicator=closed&by={SQL_OR}&key=1", "by_invalid", 400),
    ("month-words", f"{TOWN_Q}&indicator=closed&month=soon", "month_invalid", 400),
    ("key-nul", f"{TOWN_Q}&indicator=closed&by=grid&key=" + NUL.replace("\x00", "%00"), "nul_byte", 400),
)

EVALUATION_PAGES = [
    *[query(f"evaluation-page-{name}", f"/evaluation?{qs}", who="browser:admin", code=code, status=status)
      for name, qs, code, status in DASHBOARD],
    query("evaluation-page-leader-town", f"/evaluation?{TOWN_Q}", who="browser:leader1", code="town_not_found",
          status=404),
    query("evaluation-page-worker-other-person", "/evaluation?scope=person&code=worker21", who="browser:safety1",
          code="person_not_found", status=404),
    *[query(f"evaluation-drill-{name}", f"/evaluation/incidents?{qs}", who="browser:admin", code=code, status=status)
      for name, qs, code, status in DRILL],
    query("evaluation-drill-leader-town", f"/evaluation/incidents?{TOWN_Q}&indicator=closed", who="browser:leader1",
          code="town_not_found", status=404),
]
