"""The residents' tests use the incidents' test town and people (tests/incidents/conftest.py)."""
from tests.incidents.conftest import app, password_hash, users, world, zones  # noqa: F401
