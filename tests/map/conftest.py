"""The incident tests' town and people (tests/incidents/conftest.py) for the map's tiles."""
from __future__ import annotations

from tests.incidents.conftest import app, password_hash, users, world, zones  # noqa: F401 (fixtures)
