"""Parsing untrusted values (JSON, forms, query strings) the same way everywhere: whole numbers
in range, text or nothing. Refusals are 400s with a stable code, never a 500."""
from __future__ import annotations

from .errors import GridsysError

INT4_MAX = 2**31 - 1


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
