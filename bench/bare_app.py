"""The app served for bench.create_http: gridsys itself plus one bare endpoint that does a
single INSERT and commits — on the same server, through the same middleware (sessions, CSRF
exemption by bearer token, compression), so the comparison isolates what logging an incident
costs: routing, numbering, events, escalation scheduling."""
from __future__ import annotations

from flask import jsonify, request
from sqlalchemy import text

from gridsys import create_app as create_gridsys_app
from gridsys import db
from gridsys.people import auth


def create_app():
    app = create_gridsys_app()

    @auth.login_required
    def bare():
        body = request.get_json()
        session = db.session()
        new_id = session.execute(text("INSERT INTO bench_bare (payload) VALUES (:p) RETURNING id"),
                                 {"p": body.get("description", "")}).scalar_one()
        session.commit()
        return jsonify(id=new_id), 201

    def bare_anonymous():   # the same INSERT without a credential: the difference is authentication
        body = request.get_json()
        session = db.session()
        new_id = session.execute(text("INSERT INTO bench_bare (payload) VALUES (:p) RETURNING id"),
                                 {"p": body.get("description", "")}).scalar_one()
        session.commit()
        return jsonify(id=new_id), 201

    app.add_url_rule("/bench/bare", "bench_bare", bare, methods=["POST"])
    app.add_url_rule("/api/bench/bare-anonymous", "bench_bare_anonymous", bare_anonymous, methods=["POST"])
    return app
