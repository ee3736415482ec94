"""HTML pages of the residents' channel: the public results of a town, area or grid (no login), the
photos handlers marked public, and the administrators' Open311 keys. Thin: parse, check, call, render."""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from .. import db
from ..errors import GridsysError
from ..i18n import locale as request_locale
from ..incidents.wording import RESIDENT_STATUS
from ..inputs import whole_number
from ..people import auth
from ..refusals import refusal_text
from ..wording import N_
from ..zones.models import Area, Grid
from . import keys, public, services as residents

bp = Blueprint("public", __name__, template_folder="templates")
admin_only = auth.login_required(roles=("admin",))
PAGE_SIZE = 20
# How the public page words a request that was not taken up (the incident's status is "cancelled").
CANCELLED_WORDS = {"declined": N_("Not taken up"), "duplicate": N_("Merged with an earlier report")}


@bp.get("/public/<code>")
def zone_page(code):
    """What was reported and done in the zone in the last 90 days, de-identified."""
    session = db.session()
    zone = public.zone_of(session, code)
    page = whole_number(request.args.get("page") or 1, "page_invalid", "page", 1, 100_000)
    since, until = public.last_days()
    listing = public.requests(session, public.Criteria(zone=zone, since=since, until=until, page=page,
                                                       page_size=PAGE_SIZE))
    counts = public.counts(session, zone, since, until)
    children = []
    if zone.level == "town":
        children = session.scalars(select(Area).where(Area.town_id == zone.row.id).order_by(Area.code)).all()
    elif zone.level == "area":
        children = session.scalars(select(Grid).where(Grid.area_id == zone.row.id, Grid.retired_at.is_(None))
                                   .order_by(Grid.code)).all()
    notice = residents.grid_notice(session, zone.row) if zone.level == "grid" else None
    return render_template("public/zone.html", zone=zone, listing=listing, counts=counts, page=page,
                           total=sum(c.total for c in counts), done=sum(c.done for c in counts),
                           children=children, notice=notice, locale=request_locale(), status_words=status_words,
                           days=public.WINDOW_DAYS)


def status_words(item: public.PublicRequest) -> str:
    if item.status == "cancelled":
        return _(CANCELLED_WORDS.get(item.cancel_reason, RESIDENT_STATUS["cancelled"]))
    return _(RESIDENT_STATUS[item.status])


@bp.get("/public/photos/<int:photo_id>.jpg")
def photo(photo_id):
    """A photo the handler marked public (an "after" photo) of a published request."""
    return _jpeg(public.photo(db.session(), photo_id))


@bp.get("/public/photos/<int:photo_id>/thumb.jpg")
def photo_thumbnail(photo_id):
    return _jpeg(public.photo(db.session(), photo_id, thumbnail=True))


def _jpeg(blob: bytes) -> Response:
    return Response(blob, mimetype="image/jpeg", headers={"Cache-Control": "public, max-age=300",
                                                          "X-Content-Type-Options": "nosniff"})


# --- the administrators' Open311 keys ------------------------------------------------------------

@bp.get("/admin/open311-keys")
@admin_only
def keys_page():
    return _keys_page()


def _keys_page(status: int = 200, *, created=None, error: GridsysError | None = None, name: str = ""):
    return render_template("admin/open311_keys.html", keys=keys.listing(db.session()), created=created,
                           error=refusal_text(error) if error else None, error_code=error.code if error else None,
                           name=name), status


@bp.post("/admin/open311-keys")
@admin_only
def keys_create():
    """Issue a key to a client application; the page shows it this once (only its hash is kept)."""
    session = db.session()
    try:
        row, key = keys.create(session, request.form.get("name"))
    except GridsysError as exc:
        session.rollback()
        return _keys_page(exc.status, error=exc, name=str(request.form.get("name") or "")[:keys.MAX_NAME])
    session.commit()
    return _keys_page(created=(row, key))


@bp.post("/admin/open311-keys/<int:key_id>/revoke")
@admin_only
def keys_revoke(key_id):
    session = db.session()
    try:
        row = keys.revoke(session, key_id)
    except GridsysError as exc:
        session.rollback()
        return _keys_page(exc.status, error=exc)
    session.commit()
    flash(_("The key of %(name)s is revoked: that client can no longer post.", name=row.name), "ok")
    return redirect(url_for("public.keys_page"), 303)
