"""Hostile cases of the residents' pages (report without an account, tracking, rating, recovery)."""
from __future__ import annotations

from tests.hostile.values import Case

RESIDENTS: list[Case] = []
