"""Loading and checking the category catalogue (category -> duty, deadlines, priority, sensitive,
and for residents: may they choose it, its plain-word name, its response hours)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import GridsysError
from ..inputs import parse_json
from ..vocabulary import DUTIES
from .models import PRIORITIES, Category

FIELDS = ("code", "name_zh", "name_en", "duty", "deadline_hours", "escalate_after_hours", "priority")
# Optional true/false fields and their defaults. Sensitive (心理咨询, 民政救济, disputes): group
# robots and the JSON webhook get only the code, the category and a link.
FLAGS = {"active": True, "sensitive": False, "resident_choice": False}
# The residents' channel: the plain-word names residents read (optional: the catalogue's name
# otherwise) and how soon a resident's report must be registered (立案) or declined.
PLAIN = ("plain_zh", "plain_en")
DEFAULT_RESPONSE_HOURS = 24


def _check_entry(index: int, entry) -> dict:
    where = f"entry #{index}"
    if not isinstance(entry, dict):
        raise GridsysError("category_malformed", f"{where}: each category is a JSON object")
    missing = [f for f in FIELDS if f not in entry]
    if missing:
        raise GridsysError("category_malformed", f"{where}: missing {', '.join(missing)}")
    code = entry["code"]
    if not (isinstance(code, str) and len(code) == 4 and code.isascii() and code.isdigit()):
        raise GridsysError("category_code_invalid", f"{where}: code is 4 digits (2-digit class + "
                                                    f"2-digit subclass), got {code!r}")
    if entry["duty"] not in DUTIES:
        raise GridsysError("duty_unknown", f"{where} ({code}): duty must be one of {', '.join(DUTIES)}")
    if entry["priority"] not in PRIORITIES:
        raise GridsysError("priority_unknown", f"{where} ({code}): priority is normal or urgent")
    for key in ("deadline_hours", "escalate_after_hours"):
        value = entry[key]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 24 * 90:
            raise GridsysError("hours_invalid", f"{where} ({code}): {key} is a whole number of hours "
                                                "from 1 to 2160")
    for key in ("name_zh", "name_en"):
        if not isinstance(entry[key], str) or not entry[key].strip() or len(entry[key]) > 100:
            raise GridsysError("name_invalid", f"{where} ({code}): {key} is 1 to 100 characters")
    for key in PLAIN:
        value = entry.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > 100):
            raise GridsysError("name_invalid", f"{where} ({code}): {key} is 1 to 100 characters")
    response = entry.get("response_hours", DEFAULT_RESPONSE_HOURS)
    if not isinstance(response, int) or isinstance(response, bool) or not 0 < response <= 24 * 90:
        raise GridsysError("hours_invalid", f"{where} ({code}): response_hours is a whole number of hours "
                                            "from 1 to 2160")
    flags = {key: entry.get(key, default) for key, default in FLAGS.items()}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise GridsysError("category_malformed", f"{where} ({code}): {key} is true or false")
    return {**{f: entry[f] for f in FIELDS}, **flags, **{k: entry.get(k) for k in PLAIN},
            "response_hours": response}


def load_catalogue(session: Session, text: str | bytes) -> dict:
    """Upsert the catalogue from JSON text, all or nothing. Categories absent from the file
    are retired (active = false), never deleted: past incidents keep their category."""
    data = parse_json(text, "file_not_json", "the catalogue", status=422)   # nesting, NUL, broken characters
    if not isinstance(data, list) or not data:
        raise GridsysError("category_malformed", "the catalogue is a non-empty JSON list of categories")
    entries = [_check_entry(i, e) for i, e in enumerate(data)]
    codes = [e["code"] for e in entries]
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        raise GridsysError("duplicate_code", f"category codes appear twice: {', '.join(dupes)}")
    existing = {c.code: c for c in session.scalars(select(Category))}
    counts = {"created": 0, "updated": 0, "retired": 0}
    for entry in entries:
        cat = existing.pop(entry["code"], None)
        if cat is None:
            session.add(Category(**entry))
            counts["created"] += 1
        else:
            for key, value in entry.items():
                setattr(cat, key, value)
            counts["updated"] += 1
    for cat in existing.values():
        if cat.active:
            cat.active = False
            counts["retired"] += 1
    session.flush()
    return counts
