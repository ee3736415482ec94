"""Login, password change, and the administrators' people pages. Thin: parse, check, call, render."""
from __future__ import annotations

import logging

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from .. import applog, db, paging
from ..errors import GridsysError, NotFound
from ..geo import from_db, to_geojson
from ..inputs import whole_number
from ..refusals import refusal_text
from ..zones.models import Area, Grid, Town
from . import access, auth, gaps, services
from .access import require
from ..vocabulary import ASSIGNABLE_DUTIES, ROLES
from .models import AreaLeader, GridAssignment, TownAdmin, User

from ..apidoc import operation
from .schemas import GridDetail

bp = Blueprint("people", __name__, template_folder="templates")
admin_only = auth.login_required(roles=("admin",))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        if auth.current_user():
            return redirect(auth.landing_page(auth.current_user()))
        return render_template("people/login.html")
    session = db.session()
    try:
        user = services.authenticate(session, request.form.get("username", ""),
                                     request.form.get("password", ""), request.remote_addr)
    except GridsysError as exc:
        session.commit()  # keep the failure count
        applog.event("login_locked" if exc.code == "login_locked" else "login_failed", level=logging.WARNING,
                     user=None, username=request.form.get("username", "")[:40], address=request.remote_addr,
                     code=exc.code)
        wait = exc.details.get("retry_after")
        return render_template("people/login.html", error=refusal_text(exc), error_code=exc.code,
                               username=request.form.get("username", "")), exc.status, \
            {"Retry-After": str(wait)} if wait else {}
    session.commit()
    auth.login(user)
    applog.event("login", user=user.username, address=request.remote_addr)
    if user.must_change_password:
        return redirect(url_for("people.change_password"))
    return redirect(auth.safe_next(request.args.get("next"), auth.landing_page(user)))


@bp.post("/logout")
def logout():
    applog.event("logout")
    auth.logout()
    return redirect(url_for("people.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@auth.login_required
def change_password():
    user = auth.current_user()
    if request.method == "POST":
        session = db.session()
        try:
            if request.form.get("new_password") != request.form.get("confirm"):
                raise GridsysError("password_mismatch", "the two new passwords differ")
            services.change_own_password(session, user, request.form.get("current_password", ""),
                                         request.form.get("new_password", ""))
        except GridsysError as exc:
            session.rollback()
            return render_template("people/password.html", error=refusal_text(exc),
                                   error_code=exc.code), exc.status
        session.commit()
        auth.login(user)  # the session version changed: renew this browser's session
        flash(_("Password changed."), "ok")
        return redirect(auth.landing_page(user))
    return render_template("people/password.html")


# --- administration -----------------------------------------------------------------

@bp.route("/admin/people", methods=["GET", "POST"])
@admin_only
def admin_people():
    session = db.session()
    if request.method == "POST":
        try:
            user, generated = services.create_user(
                session, request.form.get("username", ""), display_name=request.form.get("display_name"),
                phone=request.form.get("phone"), roles=request.form.getlist("roles"),
                password=request.form.get("password") or None)
        except GridsysError as exc:
            session.rollback()
            flash(refusal_text(exc), "error")
            return _people_page(session, form=request.form), exc.status
        session.commit()
        if generated:
            flash(_("Account %(u)s created. Its one-time password is %(p)s: hand it over; it must be "
                    "changed at first login.", u=user.username, p=generated), "ok")
        else:
            flash(_("Account %(u)s created.", u=user.username), "ok")
        return redirect(url_for("people.admin_person", username=user.username))
    return _people_page(session)


PEOPLE_PAGE_SIZE = 50


def people_query():
    """Everyone by username (its unique index): a page reads PEOPLE_PAGE_SIZE + 1 index entries;
    deactivated people keep their place and are greyed out."""
    return select(User).order_by(User.username)


def _people_page(session, form=None):
    people = paging.page_of(session, people_query(),
                            paging.page_number(request.args), PEOPLE_PAGE_SIZE, count=True)
    return render_template("people/admin_people.html", people=people, roles=ROLES, form=form or {})


@bp.get("/admin/people/<username>")
@admin_only
def admin_person(username):
    session = db.session()
    user = services.get_user(session, username)
    history = {
        "grid": session.scalars(select(GridAssignment).where(GridAssignment.user_id == user.id)
                                .order_by(GridAssignment.valid_to.is_not(None), GridAssignment.id)).all(),
        "area": session.scalars(select(AreaLeader).where(AreaLeader.user_id == user.id)
                                .order_by(AreaLeader.valid_to.is_not(None), AreaLeader.id)).all(),
        "town": session.scalars(select(TownAdmin).where(TownAdmin.user_id == user.id)
                                .order_by(TownAdmin.valid_to.is_not(None), TownAdmin.id)).all(),
    }
    return render_template("people/admin_person.html", person=user, history=history, roles=ROLES,
                           duties=ASSIGNABLE_DUTIES,
                           grids=session.scalars(select(Grid).where(Grid.retired_at.is_(None))
                                                 .order_by(Grid.code)).all(),
                           areas=session.scalars(select(Area).order_by(Area.code)).all(),
                           towns=session.scalars(select(Town).order_by(Town.code)).all())


@bp.post("/admin/people/<username>/<action>")
@admin_only
def admin_person_action(username, action):
    session = db.session()
    user = services.get_user(session, username)
    form = request.form
    try:
        if action == "roles":
            services.set_roles(session, user, form.getlist("roles"))
        elif action == "deactivate":
            if user.id == auth.current_user().id:
                raise GridsysError("cannot_deactivate_self", "you cannot deactivate your own account")
            services.set_active(session, user, False)
        elif action == "activate":
            services.set_active(session, user, True)
        elif action == "phone":
            services.set_phone(session, user, form.get("phone"), public=form.get("phone_public") == "1")
        elif action == "reset-password":
            generated = services.generate_password()
            services.set_password(session, user, generated, must_change=True)
            flash(_("New one-time password for %(u)s: %(p)s", u=user.username, p=generated), "ok")
        elif action == "assign-grid":
            services.assign_grid(session, user, form.get("grid", ""), form.get("duty", ""),
                                 backup=bool(form.get("backup")), replace=bool(form.get("replace")))
        elif action == "lead-area":
            services.set_area_leader(session, user, form.get("area", ""))
        elif action == "administer-town":
            services.add_town_admin(session, user, form.get("town", ""))
        elif action == "end-assignment":
            services.end_assignment(session, form.get("kind", ""),
                                    whole_number(form.get("id") or 0, "assignment_not_found", "id (an assignment)"))
        else:
            raise NotFound("action_unknown", f"no action {action}")
    except (GridsysError, ValueError) as exc:
        session.rollback()
        flash(refusal_text(exc), "error")
        return redirect(url_for("people.admin_person", username=user.username)), 303
    session.commit()
    flash(_("Saved."), "ok")
    return redirect(url_for("people.admin_person", username=user.username)), 303


@bp.get("/admin/gaps")
@admin_only
def admin_gaps():
    lacking = gaps.duty_gaps_page(db.session(), visible=access.where(auth.current_scope(), Grid),
                                  **gaps.page_args(request.args))
    return render_template("people/admin_gaps.html", gaps=lacking)


# --- API -----------------------------------------------------------------------------

@bp.get("/api/v1/grids/<code>")
@operation("getGrid", "zones", GridDetail, errors={404: ("grid_not_found",)})
@auth.login_required
def api_grid(code):
    """A grid in scope with its geometry and current workers by duty."""
    session = db.session()
    grid = require(session, auth.current_scope(), Grid, code)
    workers = session.scalars(select(GridAssignment).where(GridAssignment.grid_id == grid.id,
                                                           GridAssignment.valid_to.is_(None))
                              .order_by(GridAssignment.duty, GridAssignment.backup)).all()
    return jsonify(code=grid.code, name=grid.name, area=grid.area.code, geometry=to_geojson(from_db(grid.geom)),
                   workers=[{"username": a.user.username, "display_name": a.user.display_name,
                             "duty": a.duty, "backup": a.backup} for a in workers])
