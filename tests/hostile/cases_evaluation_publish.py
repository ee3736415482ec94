"""Hostile input on publishing evaluations and their public pages: filled in with them."""
from __future__ import annotations

EVALUATION_PUBLISH: list = []
