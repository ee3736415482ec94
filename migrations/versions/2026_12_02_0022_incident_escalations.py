"""Escalation's indexes move off ``incidents``, so that the sweep's update is HOT.

The sweep changes four columns of each due incident (level, escalated_at, trigger, next look).
Four indexes on ``incidents`` named them, so each such update wrote a new entry into every one
of the table's twenty-odd indexes, on random leaves: at city scale 10 000 escalations took
1.7 s, most of it in those index writes. Now:

- ``incident_escalations`` holds, for each open incident, what those indexes need (its level,
  escalated_at and next look, and its town, area, grid and handler for scoping), with the four
  indexes that served the sweep, the escalation inbox and the escalated queues (and one more per
  part of a scope: grid, town, handler, as ``incidents``' lists have);
- triggers on ``incidents`` keep it (statement-level, set-based, over each statement's rows: a row
  appears when an incident is reported, follows it while it is open, goes when it closes), so every
  writer (the app, the CLI, a bulk load, psql) keeps it right without knowing it exists;
- ``incidents`` leaves 15 % of each new page free (fillfactor 85), room for the updated version of
  its rows, which a HOT update needs. Existing pages are full: on an existing database, run
  ``VACUUM FULL incidents`` (or pg_repack) once, in a quiet hour, to give them that room.

Revision ID: 0022_incident_escalations
Revises: 0021_tracking_hash_partial
Create Date: 2026-12-02
"""
from alembic import op

revision = "0022_incident_escalations"
down_revision = "0021_tracking_hash_partial"
branch_labels = None
depends_on = None

OPEN = "('reported', 'assigned', 'in_progress', 'reopened')"
COLUMNS = "incident_id, town_id, area_id, grid_id, assignee_id, level, escalated_at, next_at"
FROM_INCIDENTS = "id, town_id, area_id, grid_id, assignee_id, escalation_level, escalated_at, next_escalation_at"
OLD_INDEXES = {
    "ix_incidents_escalated_listed": "(escalation_level DESC, escalated_at, id) WHERE escalation_level > 0 AND status IN {open}",
    "ix_incidents_area_escalated_listed": "(area_id, escalation_level DESC, escalated_at, id) "
                                          "WHERE escalation_level > 0 AND status IN {open}",
    "ix_incidents_next_escalation": "(next_escalation_at) WHERE status IN {open} AND next_escalation_at IS NOT NULL",
    "ix_incidents_escalated_open": "(escalation_level, area_id) WHERE escalation_level > 0 AND status IN {open}",
}


def upgrade() -> None:
    op.execute("""
        CREATE TABLE incident_escalations (
            incident_id integer PRIMARY KEY,
            town_id integer NOT NULL,
            area_id integer,
            grid_id integer,
            assignee_id integer,
            level smallint NOT NULL,
            escalated_at timestamptz,
            next_at timestamptz
        )""")
    # One function for inserts and updates: the statement's rows (``changed``) that are open are
    # written where they are missing or differ (an update that changes nothing here, a description
    # edited, writes and locks nothing), the others removed. Statement-level, so the sweep's 2 000
    # rows are one INSERT here, not 2 000.
    op.execute(f"""
        CREATE FUNCTION incident_escalations_keep() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO incident_escalations AS e ({COLUMNS})
            SELECT {FROM_INCIDENTS} FROM changed c
             WHERE c.status IN {OPEN}
               AND NOT EXISTS (SELECT FROM incident_escalations k WHERE k.incident_id = c.id
                                  AND (k.town_id, k.area_id, k.grid_id, k.assignee_id, k.level, k.escalated_at, k.next_at)
                                      IS NOT DISTINCT FROM (c.town_id, c.area_id, c.grid_id, c.assignee_id,
                                                            c.escalation_level, c.escalated_at, c.next_escalation_at))
            ON CONFLICT (incident_id) DO UPDATE
               SET town_id = excluded.town_id, area_id = excluded.area_id, grid_id = excluded.grid_id,
                   assignee_id = excluded.assignee_id, level = excluded.level,
                   escalated_at = excluded.escalated_at, next_at = excluded.next_at;
            IF TG_OP = 'UPDATE' THEN
                DELETE FROM incident_escalations e USING changed c
                 WHERE e.incident_id = c.id AND c.status NOT IN {OPEN};
            END IF;
            RETURN NULL;
        END $$""")
    op.execute("""
        CREATE FUNCTION incident_escalations_forget() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'TRUNCATE' THEN
                TRUNCATE incident_escalations;
            ELSE
                DELETE FROM incident_escalations e USING gone g WHERE e.incident_id = g.id;
            END IF;
            RETURN NULL;
        END $$""")
    op.execute("CREATE TRIGGER incident_escalations_inserted AFTER INSERT ON incidents REFERENCING NEW TABLE AS changed "
               "FOR EACH STATEMENT EXECUTE FUNCTION incident_escalations_keep()")
    op.execute("CREATE TRIGGER incident_escalations_updated AFTER UPDATE ON incidents REFERENCING NEW TABLE AS changed "
               "FOR EACH STATEMENT EXECUTE FUNCTION incident_escalations_keep()")
    op.execute("CREATE TRIGGER incident_escalations_deleted AFTER DELETE ON incidents REFERENCING OLD TABLE AS gone "
               "FOR EACH STATEMENT EXECUTE FUNCTION incident_escalations_forget()")
    op.execute("CREATE TRIGGER incident_escalations_truncated AFTER TRUNCATE ON incidents "
               "FOR EACH STATEMENT EXECUTE FUNCTION incident_escalations_forget()")
    op.execute(f"INSERT INTO incident_escalations ({COLUMNS}) SELECT {FROM_INCIDENTS} FROM incidents "
               f"WHERE status IN {OPEN}")
    op.execute("CREATE INDEX ix_incident_escalations_listed ON incident_escalations "
               "(level DESC, escalated_at, incident_id) WHERE level > 0")
    for part in ("area", "grid", "town", "assignee"):   # the parts of a scope (services.scope_parts)
        op.execute(f"CREATE INDEX ix_incident_escalations_{part}_listed ON incident_escalations "
                   f"({part}_id, level DESC, escalated_at, incident_id) WHERE level > 0")
    op.execute("CREATE INDEX ix_incident_escalations_next ON incident_escalations (next_at) WHERE next_at IS NOT NULL")
    op.execute("CREATE INDEX ix_incident_escalations_level_area ON incident_escalations (level, area_id) "
               "WHERE level > 0")
    op.execute("ANALYZE incident_escalations")
    for name in OLD_INDEXES:
        op.drop_index(name, table_name="incidents")
    op.execute("ALTER TABLE incidents SET (fillfactor = 85)")


def downgrade() -> None:
    op.execute("ALTER TABLE incidents RESET (fillfactor)")
    for name, definition in OLD_INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON incidents {definition.format(open=OPEN)}")
    for trigger in ("inserted", "updated", "deleted", "truncated"):
        op.execute(f"DROP TRIGGER incident_escalations_{trigger} ON incidents")
    op.execute("DROP FUNCTION incident_escalations_keep()")
    op.execute("DROP FUNCTION incident_escalations_forget()")
    op.drop_table("incident_escalations")
