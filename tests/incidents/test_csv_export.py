"""CSV export: scoped like the list, same filters, safe for spreadsheets."""
import csv
import io

from tests.incidents.helpers import bearer, report


def rows(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_export_lists_only_the_callers_incidents_with_filters(client, session, world):
    mine = report(session, world.safety1, "g11", "0201", description="路口井盖缺失")
    other = report(session, world.worker21, "g21", "0101", description="别处的垃圾")
    found = rows(client.get("/api/v1/incidents.csv", headers=bearer(session, world.safety1)))
    codes = {r["code"] for r in found}
    assert mine.code in codes and other.code not in codes
    row = next(r for r in found if r["code"] == mine.code)
    assert row["category_name"] and row["status"] == "assigned" and row["grid"] == world.g11.code
    assert rows(client.get("/api/v1/incidents.csv?status=closed", headers=bearer(session, world.safety1))) == []


def test_formula_like_text_is_exported_as_text(client, session, world):
    report(session, world.safety1, "g11", "0201", description='=HYPERLINK("http://evil")')
    found = rows(client.get("/api/v1/incidents.csv", headers=bearer(session, world.admin)))
    assert any(r["description"] == "'=HYPERLINK(\"http://evil\")" for r in found)


def test_bad_filter_and_anonymous_are_refused(client, session, world):
    assert client.get("/api/v1/incidents.csv?status=nope", headers=bearer(session, world.admin)).status_code == 400
    assert client.get("/api/v1/incidents.csv").status_code == 401
