"""Parsing untrusted values (JSON, forms, query strings) the same way everywhere: whole numbers
in range, text or nothing. Refusals are 400s with a stable code, never a 500."""
from __future__ import annotations

import json
import re
import unicodedata

from .errors import GridsysError

INT4_MAX = 2**31 - 1
# Nesting any real input needs: a GeoJSON MultiPolygon is 5 deep inside its feature collection.
MAX_JSON_DEPTH = 32


def whole_number(value, code: str, what: str, lo: int = 0, hi: int = INT4_MAX, *, status: int = 400) -> int:
    """An integer from 2, 2.0 (JSON does not tell them apart), "2" or "02"; refuses booleans,
    fractions, NaN/Infinity and huge values."""
    refusal = GridsysError(code, f"{what} is a whole number from {lo} to {hi}", status=status, min=lo, max=hi)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e12:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise refusal
    text = str(value).strip()
    digits = text[1:] if text[:1] == "-" else text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 12:
        raise refusal
    number = int(text)
    if not lo <= number <= hi:
        raise refusal
    return number


def text_or_none(value, code: str, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise GridsysError(code, f"{what} must be text", status=400)


def has_nul(*texts) -> bool:
    return any("\x00" in t for t in texts if isinstance(t, str))


def check_text(text: str, where: str = "the text") -> str:
    """Text PostgreSQL can store: no NUL character, no lone UTF-16 surrogate (JSON's "\\udfff")."""
    if "\x00" in text:
        raise GridsysError("nul_byte", f"{where} contains a NUL character: remove it", status=400)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise GridsysError("text_invalid", f"{where} contains a broken character (a lone surrogate): "
                                           "send it as UTF-8 text", status=400)
    return text


def check_json(value, max_depth: int = MAX_JSON_DEPTH):
    """The one check of parsed JSON, whatever it came through (API body, GeoJSON file, CLI): nesting
    at most ``max_depth`` deep, and every string and key storable text. Iterative: a hostile
    nesting cannot exhaust the stack here. Returns the value."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            check_text(item)
        elif isinstance(item, (dict, list)):
            if depth >= max_depth:
                raise GridsysError("json_too_deep", f"the JSON is nested more than {max_depth} levels deep",
                                   status=400, max_depth=max_depth)
            if isinstance(item, dict):
                for key, inner in item.items():
                    check_text(key)
                    stack.append((inner, depth + 1))
            else:
                stack.extend((inner, depth + 1) for inner in item)
    return value


def parse_json(raw: str | bytes, code: str = "body_not_json", what: str = "the body", *, status: int = 400):
    """JSON text to checked values: unreadable JSON is ``code``, deep nesting ``json_too_deep``,
    NUL or broken characters ``nul_byte`` / ``text_invalid``; never a RecursionError."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise GridsysError("json_too_deep", f"{what} is nested too deep to read", status=400,
                           max_depth=MAX_JSON_DEPTH)
    except (ValueError, UnicodeDecodeError) as exc:
        raise GridsysError(code, f"{what} is not JSON: {exc}", status=status)
    return check_json(value)


# Characters that show nothing: format controls (zero-width space/joiners, BOM), separators, and
# the Hangul fillers (letters by category, blank on screen: a favourite for "empty" text).
_FILLERS = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"}


def has_visible(text: str) -> bool:
    """Whether the text shows anything: a description of only invisible characters is no description."""
    return any(not (ch.isspace() or ch in _FILLERS or unicodedata.category(ch) in ("Cf", "Cc", "Zs", "Zl", "Zp"))
               for ch in text)


DECIMAL = re.compile(r"-?[0-9]{1,3}(\.[0-9]{1,15})?")


def decimal_number(value) -> float | None:
    """A coordinate as sent: a JSON number, or (from a form) plain decimal text such as "106.3";
    None for anything else (true, "1_06.3", "1e2", "NaN", " 106", "")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:   # an integer beyond any float: no coordinate
            return None
    if isinstance(value, str) and DECIMAL.fullmatch(value):
        return float(value)
    return None


def csv_cell(value) -> str:
    """A CSV cell that a spreadsheet shows as text: no formula from user input (=, +, -, @)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
