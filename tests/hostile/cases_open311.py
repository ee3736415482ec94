"""Hostile cases of Open311 GeoReport v2 and the public results."""
from __future__ import annotations

from tests.hostile.values import Case

OPEN311: list[Case] = []
