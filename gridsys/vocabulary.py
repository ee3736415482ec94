"""The shared vocabulary at the bottom of every domain: the codes of duties and roles. Every domain
takes them from here, so none reaches up to another for them; the names people read for them are
msgids of the message catalogue, in gridsys/wording.py."""
from __future__ import annotations

# The six duties of a grid worker (the town grid model); incidents' categories map onto them.
DUTIES = ("civilization", "safety", "civil_affairs", "culture", "legal", "counseling")
# What a grid assignment may hold: a duty, or the grid's general worker.
ASSIGNABLE_DUTIES = (*DUTIES, "general")
ROLES = ("admin", "area_leader", "grid_worker")
