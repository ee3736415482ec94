"""The evaluation dashboard (考核) for leaders and administrators, and the drill-down pages."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("evaluation", __name__, template_folder="templates")
