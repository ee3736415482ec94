"""Every write of an incident's status, escalation level and event log is in this package.

reported → assigned → in_progress → resolved → closed, plus reopened (返工, counted) and
cancelled (with a reason). ``rules``: the tables, written once: people's ``ACTIONS`` (from which
states, to which, who may), ``CREATED`` (what a new report becomes, by channel) and
``HANDED_OVER`` (a boundary change gives it a new handler), and the guard ``may``. The writers:
one incident at a time on a locked ORM row (``single``: ``transition``, ``escalate``, ``rate``;
``creation``: ``create``), or set-based for many rows in a few statements (``bulk``: ``rehome``
for a redraw, ``escalate_due`` for the sweep). No other code writes ``Incident.status`` or an event.
"""
from .bulk import escalate_due, rehome
from .creation import create
from .rules import ACTIONS, CREATED, HANDED_OVER, MAX_NOTE, Action, may
from .single import escalate, rate, transition

__all__ = ["ACTIONS", "CREATED", "HANDED_OVER", "MAX_NOTE", "Action", "create", "escalate", "escalate_due", "may",
           "rate", "rehome", "transition"]
