"""One incident at a time, on a locked row: people's actions, an escalation, a resident's rating."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ... import applog, settings
from ...clock import now
from ...errors import Conflict, Forbidden, GridsysError
from ...inputs import has_visible, text_or_none, whole_number
from ...people import access
from ...people.models import User
from .. import deadlines, notify, privacy, scoping
from ..deadlines import MAX_LEVEL
from ..events import record
from ..models import RATINGS, Incident
from .rules import ACTIONS, MAX_NOTE, PUBLIC_NOTES, RESIDENT_ONLY, may

MAX_COMMENT = 500


def transition(session: Session, incident: Incident, actor: User, action: str, *, note: str = "",
               expected_version: int | None = None, assignee: str | None = None,
               hours: int | None = None, at: datetime | None = None, scope: access.Scope | None = None,
               public: bool = False, duplicate_of: str | None = None):
    """Perform ``action`` on a row-locked incident; raises with a stable code when not allowed.
    ``public``: the note is a reply the resident who reported it reads (a decline's and a
    confirmation's always are); ``duplicate_of``: the code of the incident a merge points to."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise GridsysError("action_unknown", f"unknown action {action!r}: one of {', '.join(ACTIONS)}",
                           status=400)
    session.refresh(incident, with_for_update={"of": Incident})
    if expected_version is not None and \
            whole_number(expected_version, "version_invalid", "version") != incident.version:
        raise Conflict("stale_update", "someone else changed this incident meanwhile: reload it and "
                                       "try again")
    scope = scope or access.scope_for(session, actor)
    if incident.status not in spec.allowed_from:
        raise Conflict("transition_not_allowed", f"cannot {action} an incident that is {incident.status}")
    if not may(actor, scope, incident, spec.who):
        raise Forbidden("actor_not_allowed", f"you may not {action} this incident")
    if action in RESIDENT_ONLY and incident.channel == "staff":
        raise Conflict("not_a_resident_report", "only a resident's report is registered, declined or merged: "
                                                "reassign or cancel this one")
    note = (text_or_none(note, "note_invalid", "note") or "").strip()
    if spec.needs_note and not has_visible(note):
        raise GridsysError("note_required", f"{action} needs a note saying why or what was done")
    if len(note) > MAX_NOTE:
        raise GridsysError("note_too_long", f"a note has at most {MAX_NOTE} characters", max_length=MAX_NOTE)
    at = at or now()
    before = incident.status
    data = _apply(session, incident, actor, action, assignee=assignee, hours=hours, at=at, scope=scope,
                  duplicate_of=duplicate_of)
    if spec.to is not None:
        incident.status = spec.to
    deadlines.schedule(incident)
    incident.version += 1
    incident.updated_at = at
    public = bool(note) and (action in PUBLIC_NOTES or (public is True and incident.channel != "staff"))
    if public:
        data = {**data, "public_text": privacy.public_text(note, incident.contact_name)}
    event = record(session, incident, actor, action, before, incident.status, note=note, data=data, at=at,
                   public=public)
    _tell(session, incident, actor, action, note, data)
    applog.event("transition", user=actor.username, incident=incident.id, code=incident.code, act=action,
                 from_status=before, to_status=incident.status)
    return event


# Who must act after an action, and the notice they get (escalate notifies from ``escalate``).
NOTICES = {"reassign": "assigned", "reopen": "returned", "send_down": "instructed", "extend": "extended",
           "register": "assigned"}
NOTICE_NOTE = 500   # the start of the note the notice carries


def _tell(session: Session, incident: Incident, actor: User, action: str, note: str, data: dict) -> None:
    said = {"by": actor.username, **({"note": note[:NOTICE_NOTE]} if note else {})}
    if action == "resolve":   # awaits verification by the area's leader (the town's administrators without one)
        notify.notify(session, incident, "to_verify", deadlines.holders(session, incident, level=1), said,
                      actor=actor)
    elif action in NOTICES:
        if action == "extend":
            said.update(due_at=incident.due_at.isoformat(), hours=data["hours"])
        notify.notify(session, incident, NOTICES[action], [incident.assignee], said, actor=actor)


def _apply(session, incident: Incident, actor: User, action: str, *, assignee, hours, at, scope,
           duplicate_of) -> dict:
    if action == "resolve":
        incident.resolved_at = at
    elif action == "close":
        incident.closed_at = at
    elif action == "reopen":  # 返工: back to the handler with a fresh deadline
        if incident.status == "closed":   # only an unsatisfied 回访, by the leader, once
            _check_unreviewed(incident, scope, "reopen")
            incident.review, incident.reviewed_at, incident.closed_at = "reopened", at, None
        incident.reopen_count += 1
        incident.resolved_at = None
        return {**deadlines.fresh_deadline(incident, at, force=True), **deadlines.de_escalate(incident)}
    elif action == "confirm":
        _check_unreviewed(incident, scope, "confirm")
        incident.review, incident.reviewed_at = "confirmed", at
    elif action == "register":   # 立案: dispatched now (to the routed worker or the one named), deadline starts
        named = (text_or_none(assignee, "assignee_invalid", "assignee (a username)") or "").strip().lower()
        routed = incident.assignee.username if incident.assignee else None
        data = _reassign(session, incident, named, at) if named and named != routed else {}
        if incident.assignee_id is None:
            raise GridsysError("assignee_required", "no worker was routed to this report: name who handles it",
                               status=422)
        incident.registered_at = incident.dispatched_at = at
        return {**data, **deadlines.fresh_deadline(incident, at, force=True), **deadlines.de_escalate(incident)}
    elif action == "decline":
        incident.cancel_reason = "declined"
        return deadlines.de_escalate(incident)
    elif action == "merge":
        original = _original(session, scope, incident, duplicate_of)
        incident.cancel_reason, incident.duplicate_of_id = "duplicate", original.id
        return {"duplicate_of": original.code, **deadlines.de_escalate(incident)}
    elif action == "cancel":
        incident.cancel_reason = "other"
    elif action == "reassign":
        return {**_reassign(session, incident, assignee, at), **deadlines.hand_down(incident, at)}
    elif action == "extend":
        return {**deadlines.extend(incident, hours), **deadlines.de_escalate(incident)}
    elif action == "escalate":
        return escalate(session, incident, at, trigger="manual", actor=actor, record_event=False)
    elif action == "take":
        previous = incident.assignee.username if incident.assignee else None
        incident.assignee_id, incident.assignee, incident.assigned_as = actor.id, actor, "taken"
        return {"from": previous, "to": actor.username, **deadlines.hand_down(incident, at)}
    elif action == "send_down":
        if incident.escalation_level == 0:
            raise Conflict("not_escalated", "only an escalated incident can be sent back down")
        return deadlines.hand_down(incident, at)
    return {}


def _check_unreviewed(incident: Incident, scope: access.Scope, action: str) -> None:
    if incident.rating != "unsatisfied" or incident.review is not None:
        raise Conflict("review_not_open", f"only a closure the resident rated unsatisfied, not yet decided, can be "
                                          f"{'reopened' if action == 'reopen' else 'confirmed'}")
    if not scoping.manages_incident(scope, incident):
        raise Forbidden("actor_not_allowed", "the area's leader decides on an unsatisfied rating")


def _original(session: Session, scope: access.Scope, incident: Incident, code) -> Incident:
    """The incident a duplicate is merged into: one the person can see, not itself, not cancelled."""
    code = (text_or_none(code, "duplicate_of_invalid", "duplicate_of (an incident code)") or "").strip()[:40]
    original = session.scalar(select(Incident).where(Incident.code == code, scoping.incidents_where(scope)))
    if original is None or original.id == incident.id or original.status == "cancelled":
        raise GridsysError("duplicate_of_unknown", f"no open or closed incident {code!r} you can see to merge into",
                           duplicate_of=code)
    return original


def _reassign(session, incident: Incident, username, at) -> dict:
    username = text_or_none(username, "assignee_invalid", "assignee (a username)")
    target = session.scalar(select(User).where(User.username == (username or "").strip().lower()))
    if target is None or not target.active:
        raise GridsysError("assignee_unknown", f"no active person named {username!r}", assignee=username)
    if not scoping.covers_incident(access.scope_for(session, target), incident):
        raise GridsysError("assignee_out_of_scope", f"{target.username} does not serve this incident's "
                                                    "grid or area: choose someone who does",
                           assignee=target.username)
    if target.id == incident.assignee_id:
        raise GridsysError("assignee_unchanged", f"{target.username} already handles this incident",
                           assignee=target.username)
    previous = incident.assignee.username if incident.assignee else None
    incident.assignee_id = target.id
    incident.assignee = target
    incident.assigned_as = "reassigned"
    incident.dispatched_at = at
    return {"from": previous, "to": target.username}


def escalate(session: Session, incident: Incident, at: datetime, *, trigger: str,
             actor: User | None = None, note: str = "", record_event: bool = True) -> dict:
    """Move a locked incident one level up, notify the new holders (inbox and town webhooks) and
    return the event data (``record_event=False``: ``transition`` records it)."""
    if incident.escalation_level >= MAX_LEVEL:
        raise Conflict("already_at_top", "this incident is already with the town administrators")
    incident.escalation_level += 1
    incident.escalated_at = at
    incident.escalation_trigger = trigger
    deadlines.schedule(incident)
    people = deadlines.holders(session, incident)
    data = {"level": incident.escalation_level, "trigger": trigger, "holders": [u.username for u in people]}
    if record_event:
        record(session, incident, actor, "escalate", incident.status, incident.status, note=note, data=data, at=at,
               flush=False)
    notify.notify(session, incident, "escalated", people, data, actor=actor)
    log_escalation(incident.id, incident.code, data, actor)
    return data


def log_escalation(incident_id: int, code: str, data: dict, actor: User | None) -> None:
    applog.event("escalated", incident=incident_id, code=code, to_level=data["level"], trigger=data["trigger"],
                 holders=data["holders"], **({"user": actor.username} if actor else {}))


def rate(session: Session, incident: Incident, rating: str, comment: str = "", *, via: str = "web",
         actor: User | None = None, at: datetime | None = None) -> None:
    """The resident's 回访 of a closed report: 满意 / 基本满意 / 不满意, once, within the town's
    rating days (``via``: web by the resident, or phone when staff record a call). 不满意 puts it
    in the area leader's ``unsatisfied`` queue, and tells them."""
    session.refresh(incident, with_for_update={"of": Incident})
    at = at or now()
    if rating not in RATINGS:
        raise GridsysError("rating_unknown", f"rating is one of {', '.join(RATINGS)}", status=422)
    comment = (text_or_none(comment, "comment_invalid", "comment") or "").strip()
    if len(comment) > MAX_COMMENT:
        raise GridsysError("comment_too_long", f"a comment has at most {MAX_COMMENT} characters",
                           max_length=MAX_COMMENT)
    if incident.channel == "staff" or incident.status != "closed":
        raise Conflict("rating_not_open", "only a resident's report, once closed, is rated")
    if incident.rating is not None:
        raise Conflict("already_rated", "this report has been rated already")
    days = settings.of(session).rating_days
    if incident.closed_at is None or at > incident.closed_at + timedelta(days=days):
        raise Conflict("rating_closed", f"a report can be rated within {days} days of being closed", days=days)
    incident.rating, incident.rating_comment, incident.rated_at, incident.rated_via = rating, comment or None, at, via
    incident.version += 1
    record(session, incident, actor, "rate", incident.status, incident.status, note=comment,
           data={"rating": rating, "via": via}, at=at)
    if rating == "unsatisfied":
        notify.notify(session, incident, "unsatisfied", deadlines.holders(session, incident, level=1),
                      {"note": comment[:NOTICE_NOTE]} if comment else {}, actor=actor)
    applog.event("rated", incident=incident.id, code=incident.code, rating=rating, via=via,
                 **({"user": actor.username} if actor else {}))
