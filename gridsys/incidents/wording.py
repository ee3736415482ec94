"""What people read about incidents, each name once: statuses, actions, notices, queues, escalation
levels and triggers, as English msgids of the message catalogue (gridsys/translations). Pages
translate them in the request's language (``i18n.label``), group robots in Chinese (webhooks.py,
``wording.text``); routing reasons live with the rule that makes them (routing.py)."""
from __future__ import annotations

from dataclasses import dataclass

from ..wording import N_, ROLE_NAMES

STATUS_NAMES = {"reported": N_("Reported"), "assigned": N_("Assigned"), "in_progress": N_("In progress"),
                "resolved": N_("Resolved"), "closed": N_("Closed"), "reopened": N_("Sent back"),
                "cancelled": N_("Cancelled")}
ACTION_NAMES = {"report": N_("Reported"), "dispatch": N_("Dispatched"), "unrouted": N_("Not dispatched"),
                "accept": N_("Accept"), "comment": N_("Add a note"), "resolve": N_("Resolve"),
                "close": N_("Verify and close"), "reopen": N_("Send back (rework)"),
                "cancel": N_("Cancel the incident"), "reassign": N_("Reassign"), "extend": N_("Extend deadline"),
                "escalate": N_("Escalate"), "rehome": N_("Moved by a boundary change"), "take": N_("Take it over"),
                "send_down": N_("Send back down with instructions"), "to_register": N_("Awaiting registration"),
                "register": N_("Register (立案)"), "decline": N_("Decline"), "merge": N_("Merge as a duplicate"),
                "confirm": N_("Confirm the closure"), "rate": N_("Rated by the resident"),
                "photo": N_("Photo added"), "photo_public": N_("Photo shown to the public")}
# What an action's note field asks for.
NOTE_PROMPTS = {"resolve": N_("What was done"), "reopen": N_("What must be redone"),
                "send_down": N_("Instructions"), "cancel": N_("Why it is cancelled (e.g. a duplicate)"),
                "extend": N_("Why more time is needed"), "escalate": N_("Why it is beyond you"),
                "comment": N_("Note"), "decline": N_("Reply to the resident: why it is not taken up"),
                "confirm": N_("Reply to the resident"), "merge": N_("Note")}
NOTE = N_("Note")

QUEUE_NAMES = {"to_accept": N_("To accept"), "in_progress": N_("In progress"), "returned": N_("Sent back to me"),
               "to_register": N_("To register"), "to_verify": N_("To verify"), "escalated": N_("Escalated to me"),
               "due_soon": N_("Due soon"), "unsatisfied": N_("Unsatisfied"), "unassigned": N_("Unassigned")}
QUEUE_HINTS = {"to_accept": N_("Assigned to you, not yet accepted"), "in_progress": N_("Accepted by you"),
               "returned": N_("Sent back for rework"), "to_register": N_("Residents' reports awaiting registration"),
               "to_verify": N_("Resolved in your areas: verify and close, or send back"),
               "escalated": N_("Escalated to you: act on it or send it down with instructions"),
               "due_soon": N_("Open in your areas, due within %(h)d hours"),
               "unsatisfied": N_("Closed, but the resident was not satisfied: reopen it or confirm the closure"),
               "unassigned": N_("Routed to nobody: assign someone")}

# Why an incident was escalated (Incident.escalation_trigger), and who holds each level.
TRIGGER_NAMES = {"overdue": N_("overdue"), "urgent": N_("urgent"), "manual": N_("asked by the handler"),
                 "stale": N_("not handled after escalation")}
LEVEL_NAMES = {0: N_("Handler"), 1: ROLE_NAMES["area_leader"], 2: N_("Town administrators")}


@dataclass(frozen=True)
class Notice:
    """The names of one kind of notice (notify.KINDS): ``inbox`` in the person's own inbox; a group
    robot's ``title``, what it ``asks`` of the people it mentions, and how it introduces the ``note``."""
    inbox: str
    title: str
    ask: str
    note: str = N_("Note: %(note)s")


NOTICES = {
    "assigned": Notice(N_("Assigned to you"), N_("Incident assigned"), N_("Please accept it and handle it promptly")),
    "returned": Notice(N_("Sent back for rework"), N_("Returned for rework"),
                       N_("It did not pass verification: please handle it again"),
                       N_("Why it was sent back: %(note)s")),
    "instructed": Notice(N_("Instructions from your leader"), N_("Sent down with instructions"),
                         N_("Your leader sent it down with instructions: handle it as instructed"),
                         N_("Instructions: %(note)s")),
    "extended": Notice(N_("Deadline extended"), N_("Incident deadline extended"),
                       N_("The deadline for handling it has been extended")),
    "due_soon": Notice(N_("Due soon"), N_("Due soon"), N_("It is due soon: please resolve it in time")),
    "to_verify": Notice(N_("Awaits your verification"), N_("To verify"),
                        N_("It has been resolved: please verify and close it"),
                        N_("What was done: %(note)s")),
    "escalated": Notice(N_("Escalated"), N_("Incident escalated"), N_("It has been escalated: please supervise it")),
    "to_register": Notice(N_("A resident's report to register"), N_("Resident's report"),
                          N_("A resident reported it: please register it or decline it in time")),
    "unsatisfied": Notice(N_("The resident was not satisfied"), N_("Resident not satisfied"),
                          N_("The resident was not satisfied: please reopen it or confirm the closure"),
                          N_("The resident said: %(note)s")),
}
# What a resident reads of the status (plain words), and of their rating.
RESIDENT_STATUS = {"reported": N_("Received, waiting to be registered"), "assigned": N_("Registered and handed to a grid worker"),
                   "in_progress": N_("Being handled"), "resolved": N_("Handled, being checked"),
                   "closed": N_("Done"), "reopened": N_("Being handled again"), "cancelled": N_("Not taken up")}
RATING_NAMES = {"satisfied": N_("Satisfied"), "basically": N_("Basically satisfied"), "unsatisfied": N_("Not satisfied")}
CANCEL_REASON_NAMES = {"declined": N_("Declined (不予受理)"), "duplicate": N_("Merged as a duplicate"),
                       "other": N_("Cancelled")}
REVIEW_NAMES = {"reopened": N_("Reopened by the leader"), "confirmed": N_("Closure confirmed by the leader")}
CHANNEL_NAMES = {"staff": N_("Staff"), "resident": N_("Resident (web)"), "phone": N_("Resident (phone)"),
                 "open311": N_("Open311 client")}
