"""Hostile input on publishing evaluations and their public pages: the administrators' form (with
CSRF; a refusal is flashed on the dashboard, 303, or a 404 for a town they may not publish) and the
public list, page and CSV of a town's publications (the corpus's town has published none)."""
from __future__ import annotations

from tests.hostile.values import A1, DATA_LIMIT, INT4_OVER, NUL, SCRIPT, SQL_OR, SQLISH, TOWN, form, query

PUBLISH = "/evaluation/publish"
OCTOBER = {"town": TOWN, "from": "2026-10-01", "to": "2026-10-31"}


def publish(**changes) -> dict:
    return {**OCTOBER, **changes}


EVALUATION_PUBLISH = [
    # the form: a browser's, with the page's token, from an administrator
    form("publish-without-csrf", PUBLISH, csrf=False, form=publish(), code="csrf_invalid"),
    form("publish-forged-csrf", PUBLISH, csrf="IjAwMDAi.forged", form=publish(), code="csrf_invalid"),
    form("publish-as-json", PUBLISH, csrf=False, json=publish(), code="csrf_invalid"),
    form("publish-no-credentials", PUBLISH, who="none", csrf=False, form=publish(), code="csrf_invalid"),
    form("publish-by-a-leader", PUBLISH, who="browser:leader1", form=publish(), status=403, code="role_required"),
    form("publish-by-a-worker", PUBLISH, who="browser:safety1", form=publish(), status=403, code="role_required"),
    form("publish-too-large", PUBLISH, form=publish(note="说" * (DATA_LIMIT + 1)), status=413,
         code="payload_too_large"),
    form("publish-nul-note", PUBLISH, form=publish(note=NUL), code="nul_byte"),
    form("publish-nul-town", PUBLISH, form=publish(town=TOWN + "\x00"), code="nul_byte"),
    # the town: one the administrator may not publish is as missing as one that does not exist
    form("publish-unknown-town", PUBLISH, form=publish(town="999999999"), status=404, code="town_not_found"),
    form("publish-area-as-town", PUBLISH, form=publish(town=A1), status=404, code="town_not_found"),
    form("publish-sql-town", PUBLISH, form=publish(town=SQLISH), status=404, code="town_not_found"),
    form("publish-script-town", PUBLISH, form=publish(town=SCRIPT), status=404, code="town_not_found"),
    form("publish-no-town", PUBLISH, form=publish(town=""), status=303, code="code_required"),
    form("publish-long-town", PUBLISH, form=publish(town=TOWN * 1000), status=404, code="town_not_found"),
    # the period and the note: flashed on the dashboard, nothing written
    form("publish-period-not-over", PUBLISH, form=publish(**{"from": "2099-01-01", "to": "2099-01-31"}), status=303,
         code="period_not_over"),
    form("publish-period-reversed", PUBLISH, form=publish(**{"from": "2026-10-31", "to": "2026-10-01"}), status=303,
         code="period_invalid"),
    form("publish-period-half", PUBLISH, form={"town": TOWN, "from": "2026-10-01"}, status=303,
         code="period_invalid"),
    form("publish-period-too-long", PUBLISH, form=publish(**{"from": "2024-01-01", "to": "2026-10-31"}),
         status=303, code="period_too_long"),
    form("publish-day-invalid", PUBLISH, form=publish(**{"from": "2026-02-30"}), status=303, code="day_invalid"),
    form("publish-day-sql", PUBLISH, form=publish(to=SQL_OR), status=303, code="day_invalid"),
    form("publish-day-year-zero", PUBLISH, form=publish(**{"from": "0000-01-01"}), status=303, code="day_invalid"),
    form("publish-note-too-long", PUBLISH, form=publish(note="长" * 501), status=303, code="note_too_long"),
    # the public pages: no login; a town without publications, ids out of range
    query("evaluations-list-unknown-town", "/public/999999999/evaluations", who="none", status=404, code="town_not_found"),
    query("evaluations-list-area-code", f"/public/{A1}/evaluations", who="none", status=404, code="town_not_found"),
    query("evaluations-list-script-town", "/public/%3Cscript%3Ealert(1)%3C%5Cscript%3E/evaluations", who="none", status=404,
          code="town_not_found"),
    query("evaluations-list-sql-town", "/public/'%20OR%20'1'='1/evaluations", who="none", status=404, code="town_not_found"),
    query("evaluations-list-long-town", f"/public/{'9' * 5000}/evaluations", who="none", status=404, code="town_not_found"),
    query("evaluations-page-missing", f"/public/{TOWN}/evaluations/1", who="none", status=404, code="evaluation_not_found"),
    query("evaluations-page-zero", f"/public/{TOWN}/evaluations/0", who="none", status=404, code="evaluation_not_found"),
    query("evaluations-page-int4-over", f"/public/{TOWN}/evaluations/{INT4_OVER}", who="none", status=404,
          code="evaluation_not_found"),
    query("evaluations-page-huge-id", f"/public/{TOWN}/evaluations/{'9' * 40}", who="none", status=404,
          code="evaluation_not_found"),
    query("evaluations-page-unknown-town", "/public/999999999/evaluations/1", who="none", status=404,
          code="evaluation_not_found"),
    query("evaluations-csv-missing", f"/public/{TOWN}/evaluations/1.csv", who="none", status=404, code="evaluation_not_found"),
    query("evaluations-csv-int4-over", f"/public/{TOWN}/evaluations/{INT4_OVER}.csv", who="none", status=404,
          code="evaluation_not_found"),
    query("evaluations-csv-zero", f"/public/{TOWN}/evaluations/0.csv", who="none", status=404, code="evaluation_not_found"),
    query("evaluations-csv-unknown-town", "/public/999999999/evaluations/1.csv", who="none", status=404,
          code="evaluation_not_found"),
    query("evaluations-csv-script-town", "/public/%3Cscript%3E/evaluations/1.csv", who="none", status=404,
          code="evaluation_not_found"),
]
