"""One language at a time: every refusal a person sees comes from the catalogue (gridsys/refusals.py)
in their language, with its values filled in; never the server's English message or a bare code."""
from __future__ import annotations

import ast
import html
import itertools
import re
import uuid
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from gridsys.errors import GridsysError
from gridsys.incidents import services as incidents
from gridsys.refusals import HTTP_CODES, REFUSALS, message_for, refusal_text, refusal_texts
from gridsys.zones.models import LEVELS
from tests.factories import ORIGIN, STEP, cell, login, login_as, make_area, make_grid, make_town, make_user, post_form

REPO = Path(__file__).resolve().parent.parent
PO = REPO / "gridsys/translations/zh/LC_MESSAGES/messages.po"
REFUSAL_CLASSES = {"GridsysError", "NotFound", "Forbidden", "Conflict"}
OUTSIDE = (ORIGIN[0] + 20 * STEP, ORIGIN[1] + 20 * STEP)  # in no town


# --- every code raised has a message ------------------------------------------------------------

class _Source:
    """gridsys/ parsed once: function definitions and calls by name, to follow a code that is
    passed down to the constructor (``whole_number(value, "page_invalid", …)``)."""

    def __init__(self, root: Path):
        self.modules = {p: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(root.rglob("*.py"))}
        self.classes = set(REFUSAL_CLASSES)
        for tree in self.modules.values():  # subclasses (GeometryError, ImportRefused, …)
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and {_name(b) for b in node.bases} & self.classes:
                    self.classes.add(node.name)
        self.parents, self.module_of = {}, {}
        for path, tree in self.modules.items():
            for node in ast.walk(tree):
                self.module_of[node] = path
                for child in ast.iter_child_nodes(node):
                    self.parents[child] = node

    def function_of(self, node):
        while node is not None and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node = self.parents.get(node)
        return node

    def calls(self, function):
        """Calls of ``function`` by name; of a private one (``_refuse``), only in its own module."""
        name, home = function.name, self.module_of[function]
        for path, tree in self.modules.items():
            if name.startswith("_") and path != home:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and _name(node.func) == name:
                    yield node

    def codes(self) -> tuple[set[str], list[str]]:
        found, unresolved = set(), []
        for path, tree in self.modules.items():
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and _name(node.func) in self.classes and node.args:
                    try:
                        found |= self.resolve(node.args[0], node, 0)
                    except LookupError as exc:
                        unresolved.append(f"{path.relative_to(REPO)}:{node.lineno} {exc}")
        return found, unresolved

    def resolve(self, expr, at, depth) -> set[str]:
        if depth > 4:
            raise LookupError(ast.unparse(expr))
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return {expr.value}
        if isinstance(expr, ast.IfExp):
            return self.resolve(expr.body, at, depth) | self.resolve(expr.orelse, at, depth)
        if isinstance(expr, ast.JoinedStr):
            parts = [self.resolve(v.value if isinstance(v, ast.FormattedValue) else v, at, depth)
                     for v in expr.values]
            return {"".join(p) for p in itertools.product(*parts)}
        if isinstance(expr, ast.Attribute) and ast.unparse(expr) == "exc.code":
            return set()  # a refusal raised again with more context: its code was found where it began
        if isinstance(expr, ast.Name) and expr.id == "level":  # a zone level, however it is worked out
            try:
                return self._name(expr, at, depth)
            except LookupError:
                return set(LEVELS)
        if isinstance(expr, ast.Name):
            return self._name(expr, at, depth)
        raise LookupError(ast.unparse(expr))

    def _name(self, expr, at, depth) -> set[str]:
        """A variable: what the function assigns to it, or what its callers pass for it."""
        function = self.function_of(at)
        if function is None:
            raise LookupError(ast.unparse(expr))
        assigned = [n.value for n in ast.walk(function) if isinstance(n, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == expr.id for t in n.targets)]
        if assigned:
            return set().union(*(self.resolve(v, v, depth) for v in assigned))
        params = [a.arg for a in function.args.args]
        if expr.id in params:
            return self.from_callers(function, params.index(expr.id), expr.id, depth)
        raise LookupError(ast.unparse(expr))

    def from_callers(self, function, index, param, depth) -> set[str]:
        values = set()
        for call in self.calls(function):
            arg = next((k.value for k in call.keywords if k.arg == param), None)
            if arg is None and index < len(call.args):
                arg = call.args[index]
            if arg is None:
                continue
            values |= self.resolve(arg, call, depth + 1)
        return values


def _name(func) -> str | None:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


@pytest.fixture(scope="module")
def raised_codes():
    found, unresolved = _Source(REPO / "gridsys").codes()
    assert not unresolved, f"codes the test cannot follow to a literal: {unresolved}"
    return found


def test_the_scan_finds_the_codes_raised_directly_and_passed_down(raised_codes):
    assert {"point_outside_towns", "incident_not_found", "page_invalid", "grid_not_found", "town_not_found",
            "overdue_invalid", "geometry_not_2d", "neighbour_split"} <= raised_codes
    assert len(raised_codes) > 120


def test_every_code_raised_has_a_message_in_the_catalogue(raised_codes):
    codes = raised_codes | set(HTTP_CODES.values()) | {"csrf_invalid", "http_error"}
    missing = sorted(codes - set(REFUSALS))
    assert not missing, f"add these codes to gridsys/refusals.py: {missing}"


def test_every_message_of_the_catalogue_has_a_chinese_translation_with_the_same_values():
    with open(PO, "rb") as f:
        catalog = read_po(f)
    placeholders = re.compile(r"%\((\w+)\)[sd]")
    for code, entry in REFUSALS.items():
        for text in filter(None, (entry.text, entry.plain)):
            msgid = text._args[0]
            assert msgid in catalog and catalog[msgid].string, f"{code}: no Chinese for {msgid!r}"
            assert sorted(placeholders.findall(catalog[msgid].string)) == sorted(placeholders.findall(msgid)), code
        if "%(" in entry.text._args[0]:
            assert entry.plain is not None and "%(" not in entry.plain._args[0], \
                f"{code}: a message with values needs a plain form for a refusal without them"


def test_values_are_filled_in_and_missing_ones_fall_back_to_the_plain_message(app):
    with app.test_request_context("/"):  # Chinese by default
        outside = GridsysError("point_outside_towns", "English", location=[106.5, 29.75])
        assert refusal_text(outside).startswith("该位置（106.500000, 29.750000）不在任何镇的范围内")
        assert refusal_text(GridsysError("point_outside_towns", "English")) == str(REFUSALS["point_outside_towns"].plain)
        assert refusal_text(GridsysError("duty_taken", "English", grid_code="500106901001001", holder="w1",
                                         duty="safety")) == \
            "网格 500106901001001 已由 w1 担任平安综治网格员：请设为备岗，或选择替换。"
        assert refusal_text(GridsysError("no_such_code", "the English text")) == "服务器拒绝了此操作（代码 no_such_code）。"
        assert refusal_text(ValueError("invalid literal for int()")) == message_for("internal_error")
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert refusal_text(outside).startswith("The place (106.500000, 29.750000) is outside every town")


def test_the_phone_gets_every_message_without_values(app):
    with app.test_request_context("/"):
        texts = refusal_texts()
    assert set(REFUSALS) | {"other"} == set(texts)
    assert texts["other"] == "服务器拒绝了此操作（代码 {code}）。"  # report.js fills {code}
    assert not [t for t in texts.values() if "%(" in t]
    assert texts["point_outside_towns"] == "此位置不在任何镇的范围内：请把标记移到本镇范围内。"


# --- what people see in Chinese --------------------------------------------------------------

def _visible(response) -> str:
    """The page's text a person reads (tags, scripts and attributes left out)."""
    page = response.get_data(as_text=True)
    main = re.search(r"<main.*?</main>", page, re.S)
    body = re.sub(r"<script.*?</script>|<style.*?</style>", "", main.group(0) if main else page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def _flash(response, client) -> str:
    assert response.status_code in (302, 303), response.status_code
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    found = re.findall(r'<p class="flash error"[^>]*>(.*?)</p>', page, re.S)
    assert len(found) == 1, found
    return html.unescape(found[0])


def assert_chinese_only(text: str, *english: str):
    for sentence in english:
        assert sentence not in text
    assert not re.search(r"[A-Za-z]{3,}(?:[ _][A-Za-z]{2,})+", text), f"English words or a code in {text!r}"


@pytest.fixture
def town(session, catalogue):
    town = make_town(session, geom=cell(0, 0, 10, 10))
    area = make_area(session, town, 1, cell(0, 0, 10, 10))
    grid = make_grid(session, area, 1, cell(0, 0, 10, 10))
    worker = make_user(session, "worker1", ["grid_worker"])
    admin = make_user(session, "admin1", ["admin"])
    session.commit()
    return town, area, grid, worker, admin


def test_a_report_outside_every_town_says_so_in_chinese_with_the_place(client, town):
    login_as(client, town[3])
    response = post_form(client, "/report", {"client_uuid": str(uuid.uuid4()), "lon": OUTSIDE[0], "lat": OUTSIDE[1],
                                             "category": "0201", "description": "井盖缺失"}, token_page="/report")
    assert response.status_code == 422
    text = _visible(response)
    assert f"该位置（{OUTSIDE[0]:.6f}, {OUTSIDE[1]:.6f}）不在任何镇的范围内" in text
    assert 'data-code="point_outside_towns"' in response.get_data(as_text=True)
    assert_chinese_only(text, "outside every town", "lies outside")


def test_a_missing_incident_is_a_chinese_page_naming_it(client, town):
    login_as(client, town[3])
    response = client.get("/incidents/99999")
    assert response.status_code == 404
    text = _visible(response)
    assert "事件 99999 不存在，或不在您的工作范围内。" in text
    assert_chinese_only(text, "no incident", "incident_not_found")


def test_an_action_the_incident_does_not_allow_is_refused_in_chinese(client, session, town):
    worker = town[3]
    incident, _created = incidents.create_incident(session, worker, incidents.NewIncident(
        client_uuid=uuid.uuid4(), lon=ORIGIN[0] + 3 * STEP, lat=ORIGIN[1] + 3 * STEP, category="0201",
        description="井盖缺失"))
    session.commit()
    login_as(client, worker)
    page = f"/incidents/{incident.id}"
    for action in ("close", "no-such-action"):
        flash = _flash(post_form(client, f"{page}/act", {"action": action, "version": incident.version},
                                 token_page=page), client)
        assert flash and re.search(r"[\u4e00-\u9fff]", flash)
        assert_chinese_only(flash, "cannot close", "you may not", "unknown action")


def test_a_failed_login_is_chinese(client, town):
    response = login(client, "worker1", "wrong password")
    assert response.status_code == 401
    assert "用户名或密码错误。" in _visible(response)
    assert_chinese_only(_visible(response), "Wrong username", "wrong username")


def test_a_bad_admin_form_names_the_fault_in_chinese(client, town):
    login_as(client, town[4])
    refused = post_form(client, "/admin/people", {"username": "worker1", "roles": "grid_worker"},
                        token_page="/admin/people")
    assert refused.status_code == 409
    assert "用户名 worker1 已被使用。" in _visible(refused)
    assert_chinese_only(_visible(refused), "already taken")
    flash = _flash(post_form(client, "/admin/people/worker1/assign-grid", {"grid": "500106901001999", "duty": "safety"},
                             token_page="/admin/people/worker1"), client)
    assert flash == "没有编码为 500106901001999 的网格。"
    flash = _flash(post_form(client, "/admin/people/worker1/end-assignment", {"kind": "grid", "id": "x"},
                             token_page="/admin/people/worker1"), client)
    assert flash == "没有该编号的当前分配。"


@pytest.mark.parametrize("method, path, status, message", [
    ("get", "/no-such-page", 404, "该页面不存在。"),
    ("get", "/logout", 405, "此页面不支持这种操作方式。"),
    ("post", "/login", 400, "表单已过期：请刷新页面后重新提交。"),  # no CSRF token
])
def test_http_error_pages_are_chinese(client, town, method, path, status, message):
    response = getattr(client, method)(path)
    assert response.status_code == status
    text = _visible(response)
    assert message in text
    assert_chinese_only(text, "Not Found", "not allowed", "CSRF")


def test_the_api_keeps_its_english_message_and_carries_the_values(client, session, town):
    from tests.incidents.helpers import bearer
    response = client.get("/api/v1/incidents/99999", headers=bearer(session, town[3]))
    assert response.status_code == 404
    assert response.get_json()["error"] == {"code": "incident_not_found", "message": "no incident 99999",
                                            "incident_id": 99999}
