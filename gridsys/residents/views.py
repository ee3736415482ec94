"""The resident's own pages, without an account: a grid's report page (the target of its QR code),
the private tracking page with its 回访 form, the recovery of a lost link, and the grid's QR code
and printable poster for the administrators and the area's leader.

A report and a recovery pass the proof of work and the limits of ``guard`` first; a refusal
re-renders the page with what was typed and writes nothing (a recovery attempt excepted: it is
counted either way, so a code and phone number cannot be guessed at leisure). A rating needs
neither: it takes the report's private token and CSRF token, and is accepted once.
"""
from __future__ import annotations

import io
import ipaddress
import re
import secrets
from datetime import timedelta

import folium
import segno
from flask import (Blueprint, Response, current_app, flash, make_response, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from sqlalchemy import select

from .. import db, geo, settings
from ..errors import GridsysError, NotFound
from ..folium_maps import base_map, embed
from ..i18n import label, locale
from ..people import access, auth
from ..refusals import refusal_text
from ..zones.models import Area, Grid
from ..incidents import photos, privacy, services as incidents
from ..incidents.models import Incident, IncidentEvent, IncidentPhoto
from ..incidents.wording import RATING_NAMES, RESIDENT_STATUS
from ..wording import N_
from . import guard, services

bp = Blueprint("residents", __name__, template_folder="templates")

GRID_CODE = re.compile(r"^[0-9]{15}$")
DEVICE_COOKIE = "gridsys_device"
DEVICE_ID = re.compile(r"^[A-Za-z0-9_-]{22,43}$")
MAX_PHOTOS = 3
# What a public reply answers, in the resident's words (events whose note the handler made public).
REPLY_NAMES = {"resolve": N_("What was done"), "decline": N_("Why it is not taken up"),
               "confirm": N_("Reply after your rating"), "reopen": N_("Taken up again"),
               "register": N_("Registered"), "comment": N_("Reply")}
REPLY = N_("Reply")


# --- who is asking: an address and a device, as the limits count them ---------------------------

def _address() -> str:
    """The client's address; an IPv6 one by its /64, which one household or phone may rotate within."""
    raw = request.remote_addr or "unknown"
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw[:64]
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _device() -> str | None:
    value = request.cookies.get(DEVICE_COOKIE, "")
    return value if DEVICE_ID.match(value) else None


def _subjects(prefix: str) -> list[str]:
    secret = current_app.config["SECRET_KEY"]
    found = [guard.subject(secret, f"{prefix}addr", _address())]
    if _device():
        found.append(guard.subject(secret, f"{prefix}dev", _device()))
    return found


def _with_device(response):
    """A long-lived, random device id for the per-device limit (nothing else is kept in it)."""
    if _device() is None:
        response.set_cookie(DEVICE_COOKIE, secrets.token_urlsafe(24), max_age=400 * 24 * 3600, httponly=True,
                            samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


def _private(response, status: int | None = None, error: GridsysError | None = None):
    """An anonymous page is never kept by a cache: it holds a one-time check (and maybe a token)."""
    response = make_response(response)
    if status:
        response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    if error is not None and error.details.get("retry_after"):
        response.headers["Retry-After"] = str(error.details["retry_after"])
    return _with_device(response)


def _proof():
    config = current_app.config
    return guard.check_proof(config["SECRET_KEY"], request.form.get("challenge"), request.form.get("counter"),
                             bits=config["RESIDENT_PROOF_BITS"])


def _challenge() -> dict:
    return {"challenge": guard.new_challenge(current_app.config["SECRET_KEY"]),
            "bits": current_app.config["RESIDENT_PROOF_BITS"]}


def _missing(code: str, status: int = 404):
    """The residents' own 'not found' page (an unknown grid, a wrong tracking link)."""
    error = NotFound(code, code)
    return _private(render_template("residents/missing.html", error=refusal_text(error), error_code=code), status)


# --- a grid's report page -------------------------------------------------------------------------

def _live_grid(session, code) -> Grid | None:
    if not isinstance(code, str) or not GRID_CODE.match(code):
        return None
    return session.scalar(select(Grid).where(Grid.code == code, Grid.retired_at.is_(None)))


def _grid_map(grid: Grid):
    shape = geo.from_db(grid.geom)
    centre = shape.representative_point()
    m = base_map(centre.y, centre.x, zoom=15)
    west, south, east, north = shape.bounds
    m.fit_bounds([[south, west], [north, east]])
    folium.GeoJson(geo.to_geojson(shape), style_function=lambda _f: {"color": "#1d4ed8", "weight": 2,
                                                                      "fillOpacity": 0.04},
                   interactive=False).add_to(m)
    return embed(m)


def _report_page(session, grid: Grid, *, form=None, error: GridsysError | None = None, photos_lost=False):
    form = form or {}
    page = render_template("residents/report.html", grid=grid, area=grid.area, town=grid.area.town,
                           notice=services.grid_notice(session, grid),
                           categories=services.resident_categories(session), locale=locale(),
                           map=_grid_map(grid), form=form, proof=_challenge(), max_photos=MAX_PHOTOS,
                           error=refusal_text(error) if error else None, error_code=error.code if error else None,
                           photos_lost=photos_lost,
                           retention_days=settings.of(session).contact_retention_days)
    return _private(page, error.status if error else None, error)


@bp.get("/r/<code>")
def report(code):
    session = db.session()
    grid = _live_grid(session, code)
    if grid is None:
        return _missing("grid_not_found")
    return _report_page(session, grid)


@bp.post("/r/<code>")
def submit(code):
    """A resident's report: proof, limits, then the same rules as any report (services.submit).
    The same client UUID again (a resend) leads to the report already stored."""
    session = db.session()
    grid = _live_grid(session, code)
    if grid is None:
        return _missing("grid_not_found")
    form, config = request.form, current_app.config
    secret = config["SECRET_KEY"]
    uploads = [f for f in request.files.getlist("photos") if f and f.filename]
    try:
        proof = _proof()
        if len(uploads) > MAX_PHOTOS:
            raise GridsysError("resident_photos_too_many", f"at most {MAX_PHOTOS} photos", max=MAX_PHOTOS)
        token = services.tracking_token(secret, incidents.parse_uuid(form.get("client_uuid")))
        if _stored(session, token):
            return redirect(url_for(".track", token=token), 303)
        subjects = _subjects("")
        guard.hold(session, subjects, limit=config["RESIDENT_REPORTS_PER_HOUR"], code="resident_reports_limited")
        guard.spend(session, proof)
        data = incidents.NewIncident(client_uuid=form.get("client_uuid"), lon=form.get("lon"), lat=form.get("lat"),
                                     category=form.get("category"), description=form.get("description"),
                                     address=form.get("address") or None)
        submitted = services.submit(session, data, secret=secret, channel="resident", phone=form.get("phone"))
        town = grid.area.town
        if submitted.incident.town_id != town.id:
            raise GridsysError("point_outside_grid_town", "the place is outside the town of this grid",
                               town=town.label(locale()))
        for upload in uploads:
            photos.add_photo(session, submitted.incident, None, upload.read())
        guard.count(session, subjects)
        guard.forget(session)
    except GridsysError as exc:
        session.rollback()
        return _report_page(session, grid, form=form, error=exc, photos_lost=bool(uploads))
    session.commit()
    flash(_("Sent: your report is %(code)s. Keep this page's link to follow it.", code=submitted.incident.code),
          "ok")
    return redirect(url_for(".track", token=submitted.token), 303)


def _stored(session, token: str) -> bool:
    return session.scalar(select(Incident.id).where(Incident.tracking_hash == services.token_hash(token))) \
        is not None


# --- following it ---------------------------------------------------------------------------------

def _tracked(session, token) -> Incident | None:
    try:
        return services.by_token(session, token)
    except NotFound:
        return None


def _replies(session, incident: Incident) -> list[dict]:
    """The handler's public replies only; phone-like numbers masked, no names."""
    events = session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident.id,
                                                         IncidentEvent.public.is_(True))
                             .order_by(IncidentEvent.at, IncidentEvent.id))
    return [{"at": e.at, "what": label(REPLY_NAMES, e.action, _(REPLY)),
             "text": privacy.reply_as_published(e.note, e.data, incident.contact_name)}
            for e in events if e.note]


def _rating_open(session, incident: Incident) -> bool:
    if incident.status != "closed" or incident.rating is not None or incident.closed_at is None:
        return False
    return incidents.now() <= incident.closed_at + timedelta(days=settings.of(session).rating_days)


def _track_page(session, incident: Incident, token: str, *, form=None, error: GridsysError | None = None):
    public_photos = session.scalars(select(IncidentPhoto.id).where(IncidentPhoto.incident_id == incident.id,
                                                                   IncidentPhoto.public.is_(True))
                                    .order_by(IncidentPhoto.id)).all()
    page = render_template(
        "residents/track.html", incident=incident, token=token, category=incident.category.plain_name(locale()),
        status=label(RESIDENT_STATUS, incident.status), description=privacy.mask_numbers(incident.description),
        replies=_replies(session, incident), photo_ids=public_photos, rating_open=_rating_open(session, incident),
        rating=label(RATING_NAMES, incident.rating) if incident.rating else None,
        rating_comment=privacy.mask_numbers(incident.rating_comment) if incident.rating_comment else None,
        ratings=[(code, label(RATING_NAMES, code)) for code in RATING_NAMES],
        rating_days=settings.of(session).rating_days, form=form or {},
        error=refusal_text(error) if error else None, error_code=error.code if error else None)
    return _private(page, error.status if error else None, error)


@bp.get("/t/<token>")
def track(token):
    session = db.session()
    incident = _tracked(session, token)
    if incident is None:
        return _missing("tracking_not_found")
    return _track_page(session, incident, token)


@bp.post("/t/<token>/rate")
def rate(token):
    """回访: the resident's rating of a closed report, once."""
    session = db.session()
    incident = _tracked(session, token)
    if incident is None:
        return _missing("tracking_not_found")
    try:
        services.rate(session, incident, request.form.get("rating", ""), request.form.get("comment", ""))
    except GridsysError as exc:
        session.rollback()
        return _track_page(session, incident, token, form=request.form, error=exc)
    session.commit()
    flash(_("Thank you: your rating was recorded."), "ok")
    return redirect(url_for(".track", token=token), 303)


@bp.get("/t/<token>/photos/<int:photo_id>")
@bp.get("/t/<token>/photos/<int:photo_id>/<size>")
def photo(token, photo_id, size="full"):
    """A photo the handler made public, of this tracking link's report only (never the staff route)."""
    session = db.session()
    incident = _tracked(session, token)
    if incident is None or size not in ("full", "thumb") or not 0 < photo_id < 2**31:
        raise NotFound("photo_not_found", "no such photo")
    column = IncidentPhoto.thumbnail if size == "thumb" else IncidentPhoto.data
    blob = session.scalar(select(column).where(IncidentPhoto.id == photo_id, IncidentPhoto.incident_id == incident.id,
                                               IncidentPhoto.public.is_(True)))
    if blob is None:
        raise NotFound("photo_not_found", "no such photo")
    return Response(blob, mimetype="image/jpeg", headers={"Cache-Control": "private, max-age=3600",
                                                          "X-Robots-Tag": "noindex"})


@bp.route("/t/recover", methods=["GET", "POST"])
def recover():
    """A lost tracking link, for the report's code and the phone number left with it. Each attempt
    that passed the proof counts against the limits, refused or not."""
    session = db.session()
    form = request.form if request.method == "POST" else {}
    if request.method == "GET":
        return _recover_page()
    try:
        proof = _proof()
        code, phone = (form.get("code") or "").strip(), (form.get("phone") or "").strip()
        if not code or len(code) > 40:
            raise GridsysError("tracking_code_invalid", "give the report's code, as shown when it was sent")
        if not phone:
            raise GridsysError("phone_invalid", "give the phone number left with the report")
        subjects = _subjects("recover-")
        guard.hold(session, subjects, limit=current_app.config["RESIDENT_RECOVERIES_PER_HOUR"],
                   code="recoveries_limited")
        guard.spend(session, proof)
        guard.count(session, subjects)
    except GridsysError as exc:
        session.rollback()
        return _recover_page(form, exc)
    try:
        token = services.recover(session, code, phone, secret=current_app.config["SECRET_KEY"])
    except GridsysError as exc:
        session.commit()   # the attempt is counted
        return _recover_page(form, exc)
    session.commit()
    return redirect(url_for(".track", token=token), 303)


def _recover_page(form=None, error: GridsysError | None = None):
    page = render_template("residents/recover.html", form=form or {}, proof=_challenge(),
                           error=refusal_text(error) if error else None, error_code=error.code if error else None)
    return _private(page, error.status if error else None, error)


# --- the grid's QR code and poster -----------------------------------------------------------------

def report_link(code: str) -> str:
    """The absolute short link of a grid's report page (GRIDSYS_BASE_URL), as printed and encoded."""
    return f"{settings.of(db.session()).base_url}{url_for('residents.report', code=code)}"


def qr_svg(link: str, scale: int = 8) -> bytes:
    out = io.BytesIO()
    segno.make_qr(link, error="m").save(out, kind="svg", scale=scale, border=4, xmldecl=False,
                                        title=link, dark="#000", light="#fff")
    return out.getvalue()


@bp.get("/r/<code>/qr.svg")
def qr(code):
    grid = _live_grid(db.session(), code)
    if grid is None:
        raise NotFound("grid_not_found", f"no grid with code {code}", zone_code=code[:15])
    return Response(qr_svg(report_link(grid.code)), mimetype="image/svg+xml",
                    headers={"Cache-Control": "public, max-age=3600"})


def _area_in_scope(scope: access.Scope, area: Area) -> bool:
    """Administrators, and the leader of the area (a leader's worker grids elsewhere do not count)."""
    return scope.everything or area.id in scope.area_ids or area.town_id in scope.town_ids


@bp.get("/admin/grids/<code>/poster")
@auth.login_required(roles=("admin", "area_leader"))
def poster(code):
    """A printable poster for the grid's 公示牌: its name, QR code, short link and public notice."""
    session = db.session()
    grid = _live_grid(session, code)
    if grid is None or not _area_in_scope(auth.current_scope(), grid.area):
        raise NotFound("grid_not_found", f"no grid with code {code}", zone_code=code[:15])
    return render_template("residents/poster.html", grid=grid, area=grid.area, town=grid.area.town,
                           link=report_link(grid.code), notice=services.grid_notice(session, grid))


@bp.get("/admin/areas/<code>/posters")
@auth.login_required(roles=("admin", "area_leader"))
def area_posters(code):
    """The posters of an area's grids, one link each (from the zones page)."""
    session = db.session()
    area = session.scalar(select(Area).where(Area.code == code)) if re.fullmatch(r"[0-9]{12}", code) else None
    if area is None or not _area_in_scope(auth.current_scope(), area):
        raise NotFound("area_not_found", f"no area with code {code}", zone_code=code[:12])
    grids = session.scalars(select(Grid).where(Grid.area_id == area.id, Grid.retired_at.is_(None))
                            .order_by(Grid.code)).all()
    return render_template("residents/area_posters.html", area=area, grids=grids,
                           links={g.code: report_link(g.code) for g in grids})
