"""Publishing a town's evaluation, and the public pages and CSV of what was published."""
from __future__ import annotations

import csv
import io
from urllib.parse import urlencode

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import db, settings
from ..errors import GridsysError, NotFound
from ..i18n import locale as request_locale
from ..inputs import csv_cell
from ..people import auth
from ..refusals import refusal_text
from ..zones.services import require_zone
from . import periods, publications

bp = Blueprint("evaluation_public", __name__, template_folder="templates")
admin_only = auth.login_required(roles=("admin",))


@bp.post("/evaluation/publish")
@admin_only
def publish():
    """Publish the period's results of a town (the dashboard's form); a refusal is flashed on the
    dashboard the form was sent from, a town the administrator may not publish is a 404."""
    session = db.session()
    form = request.form
    try:
        period = periods.parse(form, settings.of(session).zone)
        publication = publications.publish(session, auth.current_user(), form.get("town"), period,
                                           form.get("note"))
    except NotFound:
        raise
    except GridsysError as exc:
        session.rollback()
        flash(refusal_text(exc), "error")
        return redirect(_dashboard(form), 303)
    town_code = publication.figures["town"]["code"]
    session.commit()
    if publication.supersedes_id:
        flash(_("Published as a correction: both publications stay public, each with its date."), "ok")
    else:
        flash(_("Published: the results of %(first)s to %(last)s are public.", first=period.first.isoformat(),
                last=period.last.isoformat()), "ok")
    return redirect(url_for(".page", town_code=town_code, pub_id=publication.id), 303)


def _dashboard(form) -> str:
    """The dashboard's view of the town and period the form was sent from."""
    args = {"scope": "town", "code": _short(form.get("town")), "from": _short(form.get("from")),
            "to": _short(form.get("to"))}
    return f"{request.script_root}/evaluation?{urlencode({k: v for k, v in args.items() if v})}"


def _short(value) -> str:
    return value.strip()[:40] if isinstance(value, str) else ""


@bp.app_template_global("evaluation_publish_state")
def publish_state(subject, period) -> publications.PublishState:
    """For the dashboard's publish form: the publications of its town and period so far."""
    return publications.publish_state(db.session(), subject.id, period)


# --- the public pages (no login) -------------------------------------------------------------

def _locale() -> str:
    return "en" if request_locale() == "en" else "zh"


@bp.get("/public/<town_code>/evaluations")
def town_list(town_code):
    """The town's published evaluations, newest first, corrections beside what they correct."""
    session = db.session()
    town = require_zone(session, "town", town_code)
    listed = publications.list_for(session, town)
    return render_template("evaluation/public_list.html", town=town, publications=listed,
                           corrected_by=publications.corrections(listed), by_id={p.id: p for p in listed})


@bp.get("/public/<town_code>/evaluations/<int:pub_id>")
def page(town_code, pub_id):
    """One publication's figures, as published."""
    session = db.session()
    publication = publications.get(session, town_code, pub_id)
    return render_template("evaluation/public_page.html", publication=publication, figures=publication.figures,
                           related=publications.related(session, publication), loc=_locale())


@bp.get("/public/<town_code>/evaluations/<int:pub_id>.csv")
def page_csv(town_code, pub_id):
    """The same figures as CSV: UTF-8 with a BOM (so spreadsheets read the Chinese), no cell a
    spreadsheet would take for a formula."""
    publication = publications.get(db.session(), town_code, pub_id)
    figures = publication.figures
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(publications.csv_header(figures))
    for row in publications.csv_rows(figures, _locale()):
        writer.writerow([csv_cell(cell) for cell in row])
    name = f"evaluation-{figures['town']['code']}-{figures['period']['from']}-{figures['period']['to']}-" \
           f"{publication.id}.csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}"})
