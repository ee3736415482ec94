"""The hostile-input corpus as data: one ``Case`` per request (or CLI command) that must be refused
with a stable code, a 4xx (or `error <code>` and a non-zero exit), and nothing changed.

Who sends it (``who``): ``token:<name>`` (a bearer token), ``browser:<name>`` (a logged-in browser,
which adds its CSRF token unless ``csrf`` says otherwise), ``anon`` (a browser nobody logged into),
``none`` (no credentials at all), ``stolen`` (a cookie copied before its session ended; it sends
no CSRF token).
Names are the people of conftest.py's town; ``{inc}`` and the like in a URL, or a whole JSON string
such as ``"{inc21_uuid}"``, are filled in from the town's ids. Refusals of the forms that answer
with a redirect and a flashed message (acting on an incident, the administrator's person page)
are checked through that flash; ``status`` is then 303.

To add a case: append it to the list of its input path in cases_*.py (or write a new list and add
it to CASES below), with the builder of that path from values.py; the runner, test_corpus.py,
needs nothing else.
"""
from __future__ import annotations

from tests.hostile.cases_api import CREATE, NOTICES, TRANSITION, UPLOADS
from tests.hostile.cases_cli import CLI
from tests.hostile.cases_evaluation_api import EVALUATION_API
from tests.hostile.cases_evaluation_pages import EVALUATION_PAGES
from tests.hostile.cases_evaluation_publish import EVALUATION_PUBLISH
from tests.hostile.cases_open311 import OPEN311
from tests.hostile.cases_pages import FORMS, HEADERS, QUERIES
from tests.hostile.cases_paging import PAGING
from tests.hostile.cases_residents import RESIDENTS
from tests.hostile.cases_staff_residents import STAFF_RESIDENTS
from tests.hostile.cases_tiles import TILES
from tests.hostile.cases_zones import edit_cases, geometry_cases
from tests.hostile.values import Case

CASES: list[Case] = [*CREATE, *TRANSITION, *NOTICES, *edit_cases(), *geometry_cases(), *UPLOADS, *FORMS,
                     *QUERIES, *HEADERS, *CLI, *RESIDENTS, *OPEN311, *STAFF_RESIDENTS, *PAGING,
                     *EVALUATION_API, *EVALUATION_PAGES, *EVALUATION_PUBLISH, *TILES]
PATHS = ("json", "form", "upload", "geojson", "query", "header", "cli")
