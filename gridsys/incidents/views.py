"""Incident pages: report from a phone, a resident's call entered by staff, my queue, one incident
with its timeline and actions (立案, replies to the resident, public photos, a telephone 回访)."""
from __future__ import annotations

import uuid
from collections import OrderedDict
from urllib.parse import urlencode

from datetime import timedelta

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from .. import db, geo, paging, settings
from ..errors import GridsysError
from ..i18n import label, locale
from ..refusals import refusal_text, refusal_texts
from ..folium_maps import base_map, embed
from ..inputs import whole_number
from ..people import access, auth
from ..vocabulary import DUTIES
from ..zones.models import Grid
from . import deadlines, lifecycle, notify, permissions, photos, privacy, queues, reporting_aids, scoping, services
from .models import RATINGS, STATUSES, Category
from .routing import reason_text
from .wording import (ACTION_NAMES, CANCEL_REASON_NAMES, CHANNEL_NAMES, NOTE, NOTE_PROMPTS, NOTICES, QUEUE_HINTS,
                      QUEUE_NAMES, RATING_NAMES, REVIEW_NAMES, STATUS_NAMES, TRIGGER_NAMES)

bp = Blueprint("incidents", __name__, template_folder="templates")

FILTER_NAMES = ("status", "category", "duty", "grid", "overdue", "escalated", "since", "mine", "queue")
CENTER = (29.62, 106.33)


@bp.app_context_processor
def labels():
    return {"status_label": lambda s: label(STATUS_NAMES, s), "action_label": lambda a: label(ACTION_NAMES, a),
            "note_label": lambda a: label(NOTE_PROMPTS, a, _(NOTE)),
            "notice_label": lambda k: _(NOTICES[k].inbox) if k in NOTICES else k,
            "trigger_label": lambda t: label(TRIGGER_NAMES, t),
            "channel_label": lambda c: label(CHANNEL_NAMES, c), "rating_label": lambda r: label(RATING_NAMES, r),
            "cancel_reason_label": lambda r: label(CANCEL_REASON_NAMES, r),
            "review_label": lambda r: label(REVIEW_NAMES, r),
            "routing_text": lambda data: reason_text(data or {}, locale())}


def _categories_by_duty(session, first=()):
    """The active categories grouped by duty, less ``first`` (the person's favourites, in order)."""
    groups = OrderedDict((d, []) for d in DUTIES)
    favourites = {code: None for code in first}
    for c in session.scalars(select(Category).where(Category.active).order_by(Category.code)):
        if c.code in favourites:
            favourites[c.code] = c
        else:
            groups[c.duty].append(c)
    return [c for c in favourites.values() if c is not None], groups


def _report_map():
    m = base_map(*CENTER, zoom=13)
    return embed(m)


def _report_page(session, *, form, client_uuid, shell=False, error=None):
    # The personal page lists the person's favourites first; the shell (the same for everyone)
    # leaves that to report.js, from what /api/v1/me said.
    first = () if shell else reporting_aids.favourite_categories(session, auth.current_user())
    favourites, groups = _categories_by_duty(session, first)
    return render_template("incidents/report.html", favourites=favourites, groups=groups, form=form,
                           client_uuid=client_uuid, map=_report_map(), shell=shell,
                           error=refusal_text(error) if error else None, error_code=error.code if error else None,
                           error_texts=refusal_texts(),
                           work_labels={**{q: _(name) for q, name in QUEUE_NAMES.items()},
                                        "unread": _("New messages")},
                           idb_url=url_for("web.vendor", filename="idb/build/umd.js"))


def render_shell() -> str:
    """The report page with nothing personal in it: the app shell the phone keeps offline."""
    return _report_page(db.session(), form={}, client_uuid="", shell=True)


@bp.route("/report", methods=["GET", "POST"])
@auth.login_required
def report():
    """Without JavaScript the form posts here; with it, report.js queues the report on the phone
    and sends it through the JSON API (the same service, the same client UUID)."""
    session = db.session()
    if request.method == "POST":
        form = request.form
        data = services.NewIncident(client_uuid=form.get("client_uuid"), lon=form.get("lon"), lat=form.get("lat"),
                                    category=form.get("category"), description=form.get("description"),
                                    priority="urgent" if form.get("urgent") else None,
                                    address=form.get("address"), observed_at=form.get("observed_at"),
                                    coords=form.get("coords"))
        try:
            incident, created = services.create_incident(session, auth.current_user(), data)
            if created:
                for upload in request.files.getlist("photos"):
                    if upload and upload.filename:
                        photos.add_photo(session, incident, auth.current_user(), upload.read())
        except GridsysError as exc:
            session.rollback()
            return _report_page(session, form=form, client_uuid=form.get("client_uuid"), error=exc), exc.status
        session.commit()
        if created:
            flash(_("Sent: %(code)s", code=incident.code), "ok")
        return redirect(url_for("incidents.show", incident_id=incident.id), 303)
    form = {}
    try:  # "log an incident here" from the map
        lon, lat = float(request.args["lon"]), float(request.args["lat"])
        geo.check_lon_lat(lon, lat)
        form = {"lon": f"{lon:.7f}", "lat": f"{lat:.7f}"}
    except (KeyError, ValueError, GridsysError):
        pass
    return _report_page(session, form=form, client_uuid=str(uuid.uuid4()))


@bp.get("/incidents")
@auth.login_required
def queue():
    session = db.session()
    args = request.args.to_dict()
    if not request.args:  # a worker starts from what they handle; a leader from everything open in scope
        user = auth.current_user()
        args = {"status": "open"} if user.has_role("admin", "area_leader") else {"status": "open", "mine": "1"}
    filters = services.parse_filters(args, settings.of(db.session()))
    scope = auth.current_scope()
    page = services.list_page(session, scope, filters, auth.current_user())
    grids = session.scalars(select(Grid).where(access.where(scope, Grid)).order_by(Grid.code).limit(500)).all()
    # Links carry the list's own filters, as a query string: never request.args into url_for
    # (endpoint=, _external=, _method= there would build another URL, or fail).
    kept = {name: value for name, value in args.items() if name in FILTER_NAMES and value}
    return render_template("incidents/queue.html", page=page, rows=page.items, filters=filters, statuses=STATUSES,
                           filter_query="?" + urlencode(kept) if kept else "",
                           next_query="?" + urlencode({**kept, "page": filters.page + 1}),
                           queue_hint=next((q["hint"] for q in work_queues() if q["name"] == filters.queue), None),
                           categories=session.scalars(select(Category).order_by(Category.code)).all(),
                           grids=grids, now=services.now(),
                           review_time=timedelta(days=settings.of(session).review_days))


@bp.get("/incidents/<int:incident_id>")
@auth.login_required
def show(incident_id):
    session = db.session()
    scope = auth.current_scope()
    incident = scoping.require_incident(session, scope, incident_id)
    point = geo.from_db(incident.geom)
    m = base_map(point.y, point.x, zoom=16)
    import folium
    folium.CircleMarker([point.y, point.x], radius=9, color="#b3261e", fill=True, fill_opacity=0.8).add_to(m)
    user = auth.current_user()
    actions = permissions.allowed_actions(user, scope, incident)
    primary = permissions.primary_actions(user, scope, incident, actions)
    rules = settings.of(session)
    at = services.now()
    if notify.mark_read(session, user, incident_id=incident.id):   # what it was about is now seen
        session.commit()
    return render_template("incidents/show.html", incident=incident, map=embed(m), actions=actions,
                           primary=primary, others=[a for a in actions if a not in primary],
                           candidates=permissions.reassign_candidates(session, incident)
                           if {"reassign", "register"} & set(actions) else [],
                           reason=reason_text(incident.routing, locale()), now=at,
                           holders=deadlines.holders(session, incident) if incident.escalation_level else [],
                           contact=privacy.contact_for(user, scope, incident),
                           may_publish=photos.may_publish(user, scope, incident),
                           callback=permissions.may_record_callback(user, scope, incident)
                           and incident.closed_at is not None
                           and at <= incident.closed_at + timedelta(days=rules.rating_days),
                           ratings=RATINGS, review_due=incident.rated_at + timedelta(days=rules.review_days)
                           if incident.rating == "unsatisfied" and incident.review is None and incident.rated_at
                           else None)


def _back_to(incident_id):
    return redirect(url_for("incidents.show", incident_id=incident_id), 303)


@bp.post("/incidents/<int:incident_id>/act")
@auth.login_required
def act(incident_id):
    session = db.session()
    scope = auth.current_scope()
    incident = scoping.require_incident(session, scope, incident_id)
    form = request.form
    try:
        event = lifecycle.transition(session, incident, auth.current_user(), form.get("action", ""),
                                     note=form.get("note", ""), expected_version=form.get("version") or None,
                                     assignee=form.get("assignee") or None, hours=form.get("hours"), scope=scope,
                                     public=form.get("public") == "1", duplicate_of=form.get("duplicate_of"))
        for upload in request.files.getlist("photos"):
            if upload and upload.filename:
                photos.add_photo(session, incident, auth.current_user(), upload.read(), event=event)
    except (GridsysError, ValueError) as exc:
        session.rollback()
        flash(refusal_text(exc), "error")
        return _back_to(incident_id)
    session.commit()
    flash(_("Saved."), "ok")
    return _back_to(incident_id)


@bp.post("/incidents/<int:incident_id>/photos/<int:photo_id>/public")
@auth.login_required
def photo_public(incident_id, photo_id):
    """Show a photo to the resident and on the public results (an "after" photo), or stop showing it."""
    session = db.session()
    scope = auth.current_scope()
    incident = scoping.require_incident(session, scope, incident_id)
    try:
        photo = photos.set_public(session, incident, auth.current_user(), scope, photo_id,
                                  request.form.get("public") == "1")
    except GridsysError as exc:
        session.rollback()
        flash(refusal_text(exc), "error")
        return _back_to(incident_id)
    session.commit()
    flash(_("The photo is public now.") if photo.public else _("The photo is no longer public."), "ok")
    return _back_to(incident_id)


@bp.post("/incidents/<int:incident_id>/rating")
@auth.login_required
def callback(incident_id):
    """A telephone 回访: the handler or a leader called the resident and records their rating."""
    session = db.session()
    scope = auth.current_scope()
    incident = scoping.require_incident(session, scope, incident_id)
    user = auth.current_user()
    try:
        permissions.require_callback(user, scope, incident)
        lifecycle.rate(session, incident, request.form.get("rating", ""), request.form.get("comment", ""),
                       via="phone", actor=user)
    except GridsysError as exc:
        session.rollback()
        flash(refusal_text(exc), "error")
        return _back_to(incident_id)
    session.commit()
    flash(_("The telephone follow-up is recorded."), "ok")
    return _back_to(incident_id)


# --- a resident's call, entered by staff (channel phone) -----------------------------------------

def _phone_page(session, *, form, client_uuid, error=None):
    _favourites, groups = _categories_by_duty(session)
    return render_template("incidents/phone_report.html", groups=groups, form=form, client_uuid=client_uuid,
                           map=_report_map(), error=refusal_text(error) if error else None,
                           error_code=error.code if error else None,
                           retention_days=settings.of(session).contact_retention_days)


@bp.route("/report/phone", methods=["GET", "POST"])
@auth.login_required(roles=("grid_worker", "area_leader", "admin"))
def phone_report():
    """A resident phoned: staff enter the report for them. It is the resident's report (channel
    phone): it waits in 待立案 like one sent from the residents' page, the caller is told its code,
    and with the code and the number they gave they can find it on the residents' page."""
    session = db.session()
    if request.method == "POST":
        form = request.form
        data = services.NewIncident(client_uuid=form.get("client_uuid"), lon=form.get("lon"), lat=form.get("lat"),
                                    category=form.get("category"), description=form.get("description"),
                                    address=form.get("address"))
        try:
            contact = privacy.check_contact(form.get("phone"), form.get("name"))
            tracked = privacy.tracking_hash(current_app.config["SECRET_KEY"], services.parse_uuid(data.client_uuid))
            incident, created = services.create_incident(session, auth.current_user(), data, channel="phone",
                                                         contact=contact, tracking_hash=tracked)
        except GridsysError as exc:
            session.rollback()
            return _phone_page(session, form=form, client_uuid=form.get("client_uuid"), error=exc), exc.status
        session.commit()
        if created:
            flash(_("Entered: read the code %(code)s out to the caller. With it and the phone number they gave, "
                    "they can follow the report on the residents' page.", code=incident.code), "ok")
        return redirect(url_for("incidents.show", incident_id=incident.id), 303)
    form = {}
    try:
        lon, lat = float(request.args["lon"]), float(request.args["lat"])
        geo.check_lon_lat(lon, lat)
        form = {"lon": f"{lon:.7f}", "lat": f"{lat:.7f}"}
    except (KeyError, ValueError, GridsysError):
        pass
    return _phone_page(session, form=form, client_uuid=str(uuid.uuid4()))


@bp.app_context_processor
def inbox_badge():
    user = auth.current_user()
    return {"unread_count": unread_count if user else (lambda: 0),
            "work_queues": work_queues, "queue_label": lambda q: label(QUEUE_NAMES, q),
            # newest first (all are unread): read from the person's (user_id, id) index and stopped
            # at n, where "unread first" sorted all of them (195 000 unread: 0.3 s on the landing page)
            "unread_notices": (lambda n=5: notify.inbox(db.session(), user, n, unread_only=True, unread_first=False,
                                                        scope=auth.current_scope())) if user
            else (lambda n=5: [])}


def unread_count() -> int:
    """This person's unread notices, counted once per request (the nav and the landing strip both show it)."""
    if "unread_count" not in g:
        g.unread_count = notify.unread_count(db.session(), auth.current_user(), auth.current_scope())
    return g.unread_count


def work_queues() -> list[dict]:
    """This person's queues with their counts (one query, once per request), for the nav and the
    landing page."""
    user = auth.current_user()
    if user is None:
        return []
    if "work_queues" not in g:
        counts = queues.counts(db.session(), user, auth.current_scope())
        due_soon_hours = settings.of(db.session()).due_soon_hours
        g.work_queues = [{"name": name, "label": _(QUEUE_NAMES[name]), "count": n,
                          "hint": _(QUEUE_HINTS[name], h=due_soon_hours) if name == "due_soon"
                          else _(QUEUE_HINTS[name]),
                          "url": url_for("incidents.queue", queue=name)} for name, n in counts.items()]
    return g.work_queues


@bp.get("/inbox")
@auth.login_required
def inbox():
    items = notify.inbox(db.session(), auth.current_user(), scope=auth.current_scope())
    return render_template("incidents/inbox.html", items=items)


@bp.post("/inbox/read")
@auth.login_required
def inbox_read():
    session = db.session()
    raw = request.form.get("id")
    notification_id = whole_number(raw, "notification_invalid", "id (a notification)", 1) if raw else None
    notify.mark_read(session, auth.current_user(), [notification_id] if notification_id else None)
    session.commit()
    target = request.form.get("next")
    return redirect(auth.safe_next(target, url_for("incidents.inbox")), 303)


@bp.get("/escalations")
@auth.login_required
def escalations():
    """The leader's escalation inbox: what came up, why, how late; one tap to the incident."""
    page = services.escalations_page(db.session(), auth.current_scope(), paging.page_number(request.args))
    return render_template("incidents/escalations.html", page=page, rows=page.items, now=services.now())
