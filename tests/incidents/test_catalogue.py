"""The category catalogue: data/categories.json loaded all or nothing, the optional flags checked
(``active``, ``sensitive``), and the sensitive categories the shipped file marks."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from gridsys.errors import GridsysError
from gridsys.incidents.catalogue import load_catalogue
from gridsys.incidents.models import Category
from tests.incidents.helpers import CATALOGUE


def entry(code="0201", **kw) -> dict:
    return {"code": code, "name_zh": "治安隐患", "name_en": "Public-security hazard", "duty": "safety",
            "deadline_hours": 24, "escalate_after_hours": 24, "priority": "normal", **kw}


def sensitive_codes(session) -> list[str]:
    session.expire_all()
    return list(session.scalars(select(Category.code).where(Category.sensitive).order_by(Category.code)))


def test_shipped_catalogue_marks_counseling_civil_affairs_and_disputes_sensitive(session, catalogue):
    assert sensitive_codes(session) == ["0203", "0204", "0205", "0301", "0302", "0303", "0304", "0305",
                                        "0601", "0602", "0603"]
    duties = dict(session.execute(select(Category.code, Category.duty)).all())
    assert {duties[c] for c in sensitive_codes(session)} == {"safety", "civil_affairs", "counseling"}
    assert all(duties[c] == "safety" for c in ("0203", "0204", "0205"))


def test_sensitive_is_false_unless_the_file_says_true(session, catalogue):
    def listed():
        return [c for c in sensitive_codes(session) if c in ("0201", "0202")]
    load_catalogue(session, json.dumps([entry("0201", sensitive=True), entry("0202", name_zh="消防安全隐患")]))
    assert listed() == ["0201"]
    load_catalogue(session, json.dumps([entry("0201"), entry("0202", sensitive=True)]))  # dropped: back to false
    assert listed() == ["0202"]
    assert "0601" in sensitive_codes(session)  # retired, it stays sensitive: its past incidents still are


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, None, [], {}])
def test_sensitive_that_is_not_true_or_false_is_refused_and_nothing_changes(session, catalogue, value):
    before = sensitive_codes(session)
    with pytest.raises(GridsysError) as err:
        load_catalogue(session, json.dumps([entry("0201", sensitive=True), entry("0202", sensitive=value)]))
    assert err.value.code == "category_malformed"
    assert "0202" in err.value.message and "sensitive" in err.value.message
    assert sensitive_codes(session) == before


def test_categories_load_command_refuses_a_bad_flag(cli, session, catalogue, tmp_path):
    bad = tmp_path / "categories.json"
    bad.write_text(json.dumps([entry("0201", sensitive="no")]), encoding="utf-8")
    result = cli.invoke(args=["categories", "load", str(bad)])
    assert result.exit_code == 1 and "error category_malformed" in result.output, result.output
    assert sensitive_codes(session) == ["0203", "0204", "0205", "0301", "0302", "0303", "0304", "0305",
                                        "0601", "0602", "0603"]
    assert session.get(Category, "0201").active  # not retired by the refused file


def test_active_that_is_not_true_or_false_is_refused(session, catalogue):
    with pytest.raises(GridsysError) as err:
        load_catalogue(session, json.dumps([entry("0201", active="no")]))
    assert err.value.code == "category_malformed"


def test_shipped_file_loads_into_itself_unchanged(session, catalogue):
    assert load_catalogue(session, CATALOGUE.read_bytes()) == {"created": 0, "updated": len(
        json.loads(CATALOGUE.read_text(encoding="utf-8"))), "retired": 0}
