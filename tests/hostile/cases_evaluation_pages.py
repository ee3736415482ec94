"""Hostile input on the evaluation pages (dashboard, drill-down): filled in with the pages."""
from __future__ import annotations

EVALUATION_PAGES: list = []
