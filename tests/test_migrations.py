"""Migrations: frozen (no gridsys imports), reversible step by step, and driven by `flask db`.

Each database test gets its own throwaway database of the private cluster, dropped at the end.
"""
from __future__ import annotations

import ast
import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, pool, text

import gridsys.incidents.models  # noqa: F401  (registers tables, as migrations/env.py does)
import gridsys.people.models  # noqa: F401
import gridsys.zones.models  # noqa: F401
import gridsys.residents.models  # noqa: F401
import gridsys.evaluation.models  # noqa: F401
from gridsys import create_app
from gridsys.cli import REPO, alembic_config, upgrade_database
from gridsys.db import Base

VERSIONS = REPO / "migrations" / "versions"
SCRATCH_DB = f"gridsys_migrations_{os.getpid()}"


def gridsys_imports(source: str) -> list[str]:
    """Every import of gridsys (or of a module inside it) anywhere in a file, functions included."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.split(".")[0] == "gridsys"]
        elif isinstance(node, ast.ImportFrom):
            if node.level or (node.module or "").split(".")[0] == "gridsys":
                found.append("." * node.level + (node.module or ""))
    return found


def test_the_import_check_sees_every_form_of_gridsys_import():
    source = ("import gridsys\nimport os, gridsys.geo as g\nfrom gridsys.geo import STORAGE_SRID\n"
              "from . import models\ndef upgrade():\n    from gridsys import db\n"
              "import geoalchemy2\nfrom gridsys_other import x\n")
    assert gridsys_imports(source) == ["gridsys", "gridsys.geo", "gridsys.geo", ".", "gridsys"]


def test_migrations_are_frozen_records_without_gridsys_imports():
    files = sorted(VERSIONS.glob("*.py"))
    assert files, f"no migration found in {VERSIONS}"
    offenders = {f.name: imports for f in files if (imports := gridsys_imports(f.read_text()))}
    assert offenders == {}, "a migration must copy the values it needs, not import the app"


def revisions_oldest_first() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config("postgresql://unused"))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


@pytest.fixture
def flask_db(scratch_url):
    """Run `flask --app gridsys db ARGS...` against the throwaway database."""
    app = create_app({"TESTING": True, "DATABASE_URL": scratch_url, "SECRET_KEY": "test-secret"})
    runner = app.test_cli_runner()

    def run(*args):
        return runner.invoke(args=["db", *args])
    yield run
    app.extensions["gridsys.engine"].dispose()  # `is-empty` used the app's own pool


# What a migration can create in the public schema; objects of extensions (PostGIS's
# functions, spatial_ref_sys) and alembic's own bookkeeping table are left out.
OWN_RELATION = ("n.nspname = 'public' AND t.relname <> 'alembic_version' AND NOT EXISTS ("
                "SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass AND e.objid = t.oid "
                "AND e.deptype = 'e')")
SCHEMA_QUERIES = {
    "relations": f"""SELECT t.relname, t.relkind::text FROM pg_class t
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE {OWN_RELATION} AND t.relkind IN ('r', 'p', 'v', 'm', 'S')""",
    "columns": f"""SELECT t.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
            pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid JOIN pg_namespace n ON n.oid = t.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE {OWN_RELATION} AND t.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped""",
    "indexes": f"""SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
        JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE {OWN_RELATION}""",
    "constraints": f"""SELECT t.relname, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c
        JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE {OWN_RELATION}""",
    "triggers": f"""SELECT pg_get_triggerdef(g.oid) FROM pg_trigger g
        JOIN pg_class t ON t.oid = g.tgrelid JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE NOT g.tgisinternal AND {OWN_RELATION}""",
    "functions": """SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid) FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.prokind = 'f' AND NOT EXISTS (
            SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid
            AND e.deptype = 'e')""",
    "types": """SELECT t.typname, t.typtype::text FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd') AND NOT EXISTS (
            SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_type'::regclass AND e.objid = t.oid
            AND e.deptype = 'e')""",
}


def schema_of(url: str) -> dict[str, list[tuple]]:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return {kind: sorted(tuple(row) for row in conn.execute(text(sql)))
                    for kind, sql in SCHEMA_QUERIES.items()}
    finally:
        engine.dispose()


def has_column(url: str, table: str, column: str) -> bool:
    return any(row[:2] == (table, column) for row in schema_of(url)["columns"])


def test_upgrade_then_current_shows_head_and_history_lists_every_revision(flask_db, scratch_url):
    revisions = revisions_oldest_first()
    assert flask_db("current").output == "base (no migration applied)\n"

    result = flask_db("upgrade")
    assert result.exit_code == 0, result.output
    assert result.output == "database is at the latest migration\n"
    assert flask_db("current").output == f"{revisions[-1]} (head)\n"
    assert flask_db("is-empty").exit_code == 0  # `make demo` loads the demo into this database

    history = flask_db("history")
    assert history.exit_code == 0, history.output
    listed = [line.split(",")[0] for line in history.output.splitlines() if " -> " in line]
    assert [entry.split(" -> ")[1].split(" ")[0] for entry in listed] == revisions[::-1]
    assert listed[0].endswith("(head) (current)")


def test_downgrade_one_step_and_upgrade_again_round_trips(flask_db, scratch_url):
    revisions = revisions_oldest_first()
    assert flask_db("upgrade").exit_code == 0
    at_head = schema_of(scratch_url)

    result = flask_db("downgrade")
    assert result.exit_code == 0, result.output
    assert result.output == f"database is at {revisions[-2]}\n"
    assert flask_db("current").output == f"{revisions[-2]}\n"
    assert schema_of(scratch_url) != at_head

    result = flask_db("upgrade")
    assert result.exit_code == 0, result.output
    assert schema_of(scratch_url) == at_head


def test_downgrade_to_a_named_revision_drops_its_columns_and_upgrade_restores_them(flask_db, scratch_url):
    assert flask_db("upgrade").exit_code == 0
    assert has_column(scratch_url, "incidents", "observed_at")

    result = flask_db("downgrade", "0006_incident_seq")
    assert result.exit_code == 0, result.output
    assert not has_column(scratch_url, "incidents", "observed_at")
    assert not has_column(scratch_url, "incident_photos", "client_uuid")

    result = flask_db("upgrade", "0007_observed_photo_uuid")
    assert result.exit_code == 0, result.output
    assert result.output == "database is at 0007_observed_photo_uuid\n"
    assert has_column(scratch_url, "incidents", "observed_at")
    assert has_column(scratch_url, "incident_photos", "client_uuid")


@pytest.mark.parametrize("args", [("downgrade", "no_such_revision"), ("upgrade", "no_such_revision"),
                                  ("downgrade", "-99")])
def test_a_bad_revision_is_refused_with_an_error_code_and_changes_nothing(flask_db, scratch_url, args):
    assert flask_db("upgrade").exit_code == 0
    head = flask_db("current").output
    result = flask_db(*args)
    assert result.exit_code == 1
    assert result.stderr.startswith("error revision_refused: ")
    assert flask_db("current").output == head


def test_downgrade_below_base_is_refused(flask_db):
    result = flask_db("downgrade")
    assert result.exit_code == 1
    assert result.stderr.startswith("error revision_refused: ")


def test_every_downgrade_restores_the_schema_its_upgrade_found(flask_db, scratch_url):
    """Step up one migration at a time, then down one at a time: each downgrade must leave exactly
    the schema that was there before its upgrade (no table, index, function or trigger left)."""
    revisions = revisions_oldest_first()
    before = {"base": schema_of(scratch_url)}
    previous = "base"
    for revision in revisions:
        result = flask_db("upgrade", revision)
        assert result.exit_code == 0, (revision, result.output)
        before[revision] = schema_of(scratch_url)
        assert before[revision] != before[previous], f"{revision} changed nothing"
        previous = revision

    for revision, parent in zip(revisions[::-1], (revisions[-2::-1] + ["base"])):
        result = flask_db("downgrade", "-1")
        assert result.exit_code == 0, (revision, result.output)
        assert schema_of(scratch_url) == before[parent], f"downgrade of {revision} left its schema behind"
    assert flask_db("current").output == "base (no migration applied)\n"

    assert flask_db("upgrade").exit_code == 0
    assert schema_of(scratch_url) == before[revisions[-1]]


def test_the_models_declare_what_the_migrations_build(scratch_url):
    """A model change without its migration shows up here (what autogenerate would write)."""
    upgrade_database(scratch_url)
    engine = create_engine(scratch_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "include_object": alembic_helpers.include_object, "compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
