"""Schemathesis over the served OpenAPI document: generated requests to every operation, through the
app's WSGI interface and the test town of tests/incidents, must never give a 5xx, and every status and
body must be one the document declares. Bounded: a few examples per operation, no shrinking."""
from __future__ import annotations

import hypothesis
import hypothesis.strategies as st
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.incidents.helpers import bearer, lonlat, report

EXAMPLES = 15
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
SKIPPED: set[str] = set()
# NUL characters are refused at the door (400 nul_byte, documented) before any operation looks at the data.
CONFIG = SchemathesisConfig.from_dict({"generation": {"allow-x00": False}})


@pytest.fixture
def api_schema(app, session, world):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=CONFIG)
    return schema.exclude(operation_id=list(SKIPPED)) if SKIPPED else schema


@pytest.fixture
def tokens(session, world):
    """A grid worker for everyday operations, an administrator for boundary edits and maps."""
    plain = {"Accept-Encoding": "identity"}  # the WSGI client does not undo Flask-Compress
    return {"worker": {**bearer(session, world.general1), **plain}, "admin": {**bearer(session, world.admin), **plain}}


SETTINGS = hypothesis.settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                               phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                               suppress_health_check=list(hypothesis.HealthCheck))


@pytest.fixture
def realistic(session, world):
    """Most examples of an operation name things that exist (the town's zones, an incident, a point
    inside a grid), so they get past the 404s and 422s of random codes into the real work."""
    incident = report(session, world.general1, "g11")
    codes = {"grids": world.g11.code, "areas": world.a1.code, "towns": world.town.code}
    lon, lat = lonlat("g11")

    def apply(case):
        if "code" in (case.path_parameters or {}):
            case.path_parameters["code"] = codes[case.operation.path.split("/")[3]]
        if "incident_id" in (case.path_parameters or {}):
            case.path_parameters["incident_id"] = incident.id
        if case.query and "lon" in case.query:
            case.query.update(lon=lon, lat=lat)
        if case.query and "scope" in case.query:   # the evaluation: the town, over a period with figures
            case.query.update(scope="town", code=world.town.code)
        return case
    return apply


def test_api_conforms_to_its_document(api_schema, tokens, realistic):
    """Each operation in turn (schemathesis' own pytest plugin does not run under pytest 9); every
    failure is collected, so one run shows them all."""
    failures, seen = [], {}
    for result in api_schema.get_all_operations():
        operation = result.ok()
        who = "admin" if {"boundaries", "maps", "evaluation"} & set(operation.tags or ()) else "worker"
        valid = operation.as_strategy(GenerationMode.POSITIVE)
        invalid = operation.as_strategy(GenerationMode.NEGATIVE)

        @SETTINGS
        @hypothesis.given(case=st.one_of(valid, valid.map(realistic), invalid.map(realistic)))
        def check(case):
            response = case.call_and_validate(headers=tokens[who], checks=CHECKS)
            seen.setdefault(operation.label, set()).add(response.status_code)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 (reported below, per operation)
            failures.append(f"{operation.label}: {exc}")
    assert len(seen) >= 35, sorted(seen)
    assert sum(any(s < 300 for s in statuses) for statuses in seen.values()) >= 15, seen  # not only refusals
    assert not failures, "\n\n".join(failures)
