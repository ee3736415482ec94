"""The one clock: timezone-aware UTC now. Rules take ``at``/``as_of`` arguments where a caller
(a drill, a test, a benchmark) needs another time; otherwise they ask here."""
from __future__ import annotations

from datetime import datetime, timezone


def now() -> datetime:
    return datetime.now(timezone.utc)
