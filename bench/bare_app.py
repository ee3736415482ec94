"""The app served for bench.create_http: gridsys itself plus bare endpoints on the same server,
through the same middleware (sessions, CSRF exemption by bearer token, compression), so the
comparison isolates what logging an incident costs beyond storing it: routing, numbering, events,
notices, escalation.

- ``/bench/bare``: the bare insert, ONE INSERT of the report's incident row into ``incidents``
  itself (the 2 000 000-row table with every index it has at city scale), in the report's town,
  and a commit: the target's baseline (issue 12: "on the 2M-row table");
- ``/api/bench/bare-anonymous``: the same without a credential (the difference is authentication);
- ``/bench/bare-table``: one INSERT into a one-column table without indexes (``bench_bare``), the
  floor of any write on this server, printed for reference."""
from __future__ import annotations

import os

from flask import jsonify, request
from sqlalchemy import text

from gridsys import create_app as create_gridsys_app
from gridsys import db
from gridsys.geo import STORAGE_SRID
from gridsys.people import auth

TOWN_ID = int(os.environ.get("GRIDSYS_BENCH_TOWN_ID", "0"))   # where the bare rows are stored (no routing)
INSERT_INCIDENT = text(f"""
    INSERT INTO incidents (code, client_uuid, geom, category_code, description, priority, status, town_id)
    VALUES ('BARE-' || replace(CAST(:client_uuid AS text), '-', ''), CAST(:client_uuid AS uuid),
            ST_SetSRID(ST_MakePoint(:lon, :lat), {STORAGE_SRID}), :category, :description, 'normal', 'reported',
            :town_id)
    RETURNING id""")


def _insert_incident():
    body = request.get_json()
    session = db.session()
    new_id = session.execute(INSERT_INCIDENT, {
        "client_uuid": body["client_uuid"], "lon": float(body["lon"]), "lat": float(body["lat"]),
        "category": body["category"], "description": body.get("description", ""), "town_id": TOWN_ID}).scalar_one()
    session.commit()
    return jsonify(id=new_id), 201


def create_app():
    app = create_gridsys_app()

    @auth.login_required
    def bare():
        return _insert_incident()

    def bare_anonymous():   # the same INSERT without a credential: the difference is authentication
        return _insert_incident()

    @auth.login_required
    def bare_table():
        body = request.get_json()
        session = db.session()
        new_id = session.execute(text("INSERT INTO bench_bare (payload) VALUES (:p) RETURNING id"),
                                 {"p": body.get("description", "")}).scalar_one()
        session.commit()
        return jsonify(id=new_id), 201

    app.add_url_rule("/bench/bare", "bench_bare", bare, methods=["POST"])
    app.add_url_rule("/api/bench/bare-anonymous", "bench_bare_anonymous", bare_anonymous, methods=["POST"])
    app.add_url_rule("/bench/bare-table", "bench_bare_table", bare_table, methods=["POST"])
    return app
