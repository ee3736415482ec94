"""Publishing a town's evaluation, and the public pages and CSV of what was published."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("evaluation_public", __name__, template_folder="templates")
