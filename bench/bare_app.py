"""The baseline for bench.create_http: a Flask endpoint that does one INSERT and commits,
served by the same gunicorn settings against the same database."""
from __future__ import annotations

import os

from flask import Flask, jsonify, request
from sqlalchemy import text

from gridsys.db import make_engine


def create_app() -> Flask:
    app = Flask(__name__)
    engine = make_engine(os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1))

    @app.post("/bare")
    def bare():
        body = request.get_json()
        with engine.begin() as conn:
            new_id = conn.execute(text("INSERT INTO bench_bare (payload) VALUES (:p) RETURNING id"),
                                  {"p": body.get("description", "")}).scalar_one()
        return jsonify(id=new_id), 201

    return app
