"""The incident tests' town and people (tests/incidents/conftest.py) serve the evaluation tests too."""
from tests.incidents.conftest import app, password_hash, users, world, zones  # noqa: F401
