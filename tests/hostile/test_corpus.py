"""The hostile-input corpus (issue 13 item 8): every case of corpus.py is refused with its stable
code and a 4xx (or the CLI's `error <code>` and a non-zero exit), never a 5xx or a traceback, and
the database is the same after it as before: row count and an md5 of the rows of every table.

Every route that takes input (a POST/PUT/PATCH/DELETE, or query parameters in the OpenAPI
document) needs at least five cases, and every CLI command that writes at least three, so a new
route or command cannot slip past the corpus.
"""
from __future__ import annotations

import html
import io
import json
import re
from collections import Counter
from xml.etree import ElementTree

import pytest
from flask.cli import AppGroup
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.test import encode_multipart

from gridsys import create_app
from gridsys.apidoc import document
from gridsys.commands import transactional
from gridsys.refusals import REFUSALS
from tests.hostile.corpus import CASES, PATHS
from tests.hostile.values import NOTHING, Case

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
PER_ROUTE, PER_COMMAND, PER_IMPORT = 5, 3, 5
PLACEHOLDER = re.compile(r"\{(\w+)\}")


# --- sending a case -------------------------------------------------------------------------

def fill(value, ids: dict):
    """``"{inc21_uuid}"`` anywhere in a JSON value or form becomes the town's value."""
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value)
        return ids[whole.group(1)] if whole and whole.group(1) in ids else value
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


def fill_url(url: str, ids: dict) -> str:
    return PLACEHOLDER.sub(lambda m: str(ids[m.group(1)]) if m.group(1) in ids else m.group(0), url)


def _bytes(value) -> bytes:
    value = value() if callable(value) else value
    return value.encode() if isinstance(value, str) else value


def send(case: Case, town):
    kind, _, name = case.who.partition(":")
    headers, token = dict(case.headers), None
    if kind == "token":
        client = town.bare
        headers["Authorization"] = f"Bearer {town.tokens[name]}"
    elif kind in ("browser", "anon"):
        client = town.browsers[name or "anon"]
        token = town.csrf[name or "anon"] if case.csrf is True else case.csrf or None
    elif kind == "stolen":
        client = town.stolen
    else:
        client = town.bare
    options: dict = {"method": case.method, "headers": headers}
    data = None
    if case.json is not NOTHING:
        data, options["content_type"] = json.dumps(fill(case.json, town.ids)), "application/json"
        if token:
            headers.setdefault("X-CSRFToken", token)
    elif case.body is not None:
        data = _bytes(case.body)
        if case.content_type:
            options["content_type"] = case.content_type
    elif case.form is not None or case.files:
        data = fill(dict(case.form or {}), town.ids)
        for field, content in (case.files or {}).items():
            data[field] = FileStorage(io.BytesIO(_bytes(content)), "photo.jpg", content_type="image/jpeg")
        if token and case.method in UNSAFE:
            data["csrf_token"] = token
        if case.content_type == "multipart/form-data" or case.files:   # in memory: no spooled file left open
            boundary, data = encode_multipart(data)
            options["content_type"] = f"multipart/form-data; boundary={boundary}"
    if case.chunked:   # as waitress hands over a chunked body: no length, the stream ends the body
        headers["Transfer-Encoding"] = "chunked"
        options.update(input_stream=io.BytesIO(_bytes(data)), environ_overrides={"wsgi.input_terminated": True})
    elif data is not None:
        options["data"] = data
    return client, client.open(fill_url(case.url, town.ids), **options)


class Refusals:
    """The codes a person's page can be showing: a flashed refusal carries the catalogue's
    message for its code (in the page's language), not the code itself."""

    def __init__(self, app):
        self.patterns = {}
        with app.test_request_context("/"):
            for code, entry in REFUSALS.items():
                texts = [str(t) for t in (entry.text, entry.plain) if t is not None]
                self.patterns[code] = [re.compile(re.sub(r"%\\\(\w+\\\)[sd]", ".+?", re.escape(t)) + r"\Z", re.S)
                                       for t in texts]

    def codes_for(self, text: str) -> set[str]:
        text = html.unescape(text).strip()
        return {code for code, patterns in self.patterns.items() if any(p.match(text) for p in patterns)}


def refusal_codes(response, client, refusals: Refusals) -> set[str]:
    """The stable code(s) a refusal carries: {"error": {"code"}} in JSON; data-code on an HTML
    page's refusal; a flashed refusal (after a redirect, or on a page) by its message."""
    if response.status_code in (301, 302, 303):
        with client.session_transaction() as cookie:
            flashes = cookie.pop("_flashes", [])
        return set().union(*(refusals.codes_for(message) for kind, message in flashes if kind == "error"))
    body = response.get_json(silent=True)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return {body["error"].get("code")}
    if response.mimetype in ("application/json", "text/xml") and response.request.path.startswith("/open311/"):
        return open311_codes(response)
    page = response.get_data(as_text=True)
    coded = re.findall(r'<p class="flash error"[^>]*\sdata-code="([^"]*)"', page)
    if coded:
        return set(coded)
    return set().union(*(refusals.codes_for(m) for m in re.findall(r'<p class="flash error">(.*?)</p>', page, re.S)))


def open311_codes(response) -> set[str]:
    """Open311's errors, [{code, description}] or <errors><error>…: the description opens with the
    stable code ("api_key_invalid: …")."""
    if response.mimetype == "text/xml":
        descriptions = [e.findtext("description") or "" for e in ElementTree.fromstring(response.data).iter("error")]
    else:
        descriptions = [str(e.get("description", "")) for e in response.get_json() if isinstance(e, dict)]
    return {match.group(1) for text in descriptions if (match := re.match(r"(\w+): ", text))}


def run_cli(case: Case, app, tmp_path):
    path = tmp_path / "input"
    if case.file is not None:
        path.write_bytes(_bytes(case.file))
    args = [a.replace("{file}", str(path)) for a in case.cli]
    result = app.test_cli_runner().invoke(args=args, input=case.stdin)
    match = re.search(r"^error (\w+):", result.output, re.M)
    return result, {match.group(1)} if match else set()


# --- the corpus -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def refusals(corpus_app):
    return Refusals(corpus_app)


def _param(case: Case):
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, id=f"{case.path}:{case.id}", marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_hostile_input_is_refused_with_a_code_and_changes_nothing(case, town, corpus_app, corpus_session,
                                                                  corpus_connection, fingerprint, refusals, tmp_path):
    corpus_session.rollback()
    savepoint = corpus_connection.begin_nested()   # whatever the case does, the next one starts clean
    try:
        before = fingerprint()
        if case.path == "cli":
            result, codes = run_cli(case, corpus_app, tmp_path)
            status = None
        else:
            client, response = send(case, town)
            codes, status = refusal_codes(response, client, refusals), response.status_code
        corpus_session.rollback()   # as the end of a request: what was not committed is not kept
        after = fingerprint()
    finally:
        corpus_session.rollback()
        savepoint.rollback()
        corpus_session.expire_all()

    if case.path == "cli":
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            f"traceback: {result.exception!r}\n{result.output[-2000:]}"
        assert result.exit_code != 0, result.output[-2000:]
    else:
        assert status < 500, response.get_data(as_text=True)[:2000]
    if case.login_failure:   # the limiter's count is the one thing a refused login writes
        failures_before, failures_after = before.pop("login_failures"), after.pop("login_failures")
        assert failures_after[0] == failures_before[0] + 1
    changed = sorted(table for table in before if before[table] != after.get(table))
    assert not changed, f"a refused request changed {changed}"
    expected = {case.code} if isinstance(case.code, str) else set(case.code)
    if case.path == "cli":
        assert codes & expected, f"expected `error {case.code}`, got: {result.output[-1000:]}"
    else:
        statuses = {case.status} if isinstance(case.status, int) else set(case.status)
        assert status in statuses and codes & expected, \
            (status, codes, response.headers.get("Location"), response.get_data(as_text=True)[:1000])


def test_the_fingerprint_sees_what_an_accepted_request_writes(town, corpus_session, corpus_connection, fingerprint):
    """The control: the same run, with a request that is not refused, reports the tables it wrote
    (and using a credential again writes nothing the fingerprint sees)."""
    corpus_session.rollback()
    savepoint = corpus_connection.begin_nested()
    try:
        before = fingerprint()
        client, response = send(Case(id="control", path="json", url="/api/v1/incidents/{inc}/transitions",
                                     who="token:leader1", json={"action": "comment", "note": "看过了"}), town)
        corpus_session.rollback()
        after = fingerprint()
    finally:
        corpus_session.rollback()
        savepoint.rollback()
        corpus_session.expire_all()
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert {t for t in before if before[t] != after[t]} == {"incidents", "incident_events"}
    assert fingerprint() == before, "each case's savepoint undoes what it wrote"


# --- the corpus covers every input ----------------------------------------------------------

@pytest.fixture(scope="module")
def bare_app():
    return create_app({"TESTING": True, "SECRET_KEY": "x", "TILES_URL": ""})


def _route_of(adapter, case: Case) -> tuple[str, str] | None:
    path = PLACEHOLDER.sub("1", case.url.partition("?")[0])
    try:
        return adapter.match(path, method=case.method, return_rule=True)[0].rule, case.method
    except (NotFound, MethodNotAllowed):
        return None


def routes_taking_input(app) -> set[tuple[str, str]]:
    """(rule, method): every POST/PUT/PATCH/DELETE, and every operation whose OpenAPI entry has
    query parameters or a body."""
    routes = {(r.rule, m) for r in app.url_map.iter_rules() for m in r.methods & UNSAFE}
    as_openapi = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.rule): r.rule for r in app.url_map.iter_rules()}
    with app.app_context():
        paths = document()["paths"]
    for path, operations in paths.items():
        for method, op in operations.items():
            if "requestBody" in op or any(p.get("in") == "query" for p in op.get("parameters", [])):
                routes.add((as_openapi[path], method.upper()))
    return routes


def test_every_route_that_takes_input_has_five_cases(bare_app):
    adapter = bare_app.url_map.bind("localhost")
    http = [c for c in CASES if c.path != "cli"]
    counts = Counter(_route_of(adapter, c) for c in http)
    assert counts[None] == 0, [c.id for c in http if _route_of(adapter, c) is None]
    thin = {route: counts[route] for route in sorted(routes_taking_input(bare_app)) if counts[route] < PER_ROUTE}
    assert not thin, f"routes with fewer than {PER_ROUTE} hostile cases in tests/hostile/corpus.py: {thin}"


TRANSACTIONAL = transactional(lambda: None).__code__   # the code of the wrapper every writing command has


def _writes(callback) -> bool:
    while callback is not None:   # Flask's with_appcontext around commands.transactional around the command
        if getattr(callback, "__code__", None) is TRANSACTIONAL:
            return True
        callback = getattr(callback, "__wrapped__", None)
    return False


def writing_commands(app) -> dict[str, object]:
    """CLI commands that take arguments and write (one transaction each: commands.transactional)."""
    found = {}

    def walk(group, prefix):
        for name, command in group.commands.items():
            if isinstance(command, AppGroup):
                walk(command, prefix + [name])
            elif _writes(command.callback) and command.params:
                found[" ".join(prefix + [name])] = command
    walk(app.cli, [])
    return found


def _command_of(args: tuple[str, ...], commands) -> str:
    """The command a case runs: the longest run of its first arguments naming one (``open311 keys
    create``), else its first two."""
    named = [" ".join(args[:n]) for n in range(len(args), 0, -1) if " ".join(args[:n]) in commands]
    return named[0] if named else " ".join(args[:2])


def test_every_command_that_writes_has_cases(bare_app):
    commands = writing_commands(bare_app)
    counts = Counter(_command_of(c.cli, commands) for c in CASES if c.path == "cli")
    assert "zones import" in commands and "users create" in commands
    assert set(counts) <= set(commands), set(counts) - set(commands)
    thin = {name: counts[name] for name in commands
            if counts[name] < (PER_IMPORT if name == "zones import" else PER_COMMAND)}
    assert not thin, f"commands with too few hostile cases: {thin}"


def test_the_corpus_is_large_and_spans_every_input_path():
    assert len(CASES) >= 300
    assert len({c.id for c in CASES}) == len(CASES), [i for i, n in Counter(c.id for c in CASES).items() if n > 1]
    per_path = Counter(c.path for c in CASES)
    assert set(per_path) == set(PATHS) and min(per_path.values()) >= 5, per_path
