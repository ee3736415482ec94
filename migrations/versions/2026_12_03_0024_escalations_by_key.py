"""incident_escalations' triggers find its rows by key only, whatever the planner thinks of its size.

The former function skipped unchanged rows with NOT EXISTS (a join to incident_escalations) and
removed closed ones with DELETE … USING (another join). Planned once per connection and kept (a
statement without parameters keeps its first plan until the table's statistics change), the join
was planned while the table looked empty: a scan of every row. As the table grew, each report cost
more: 0.7 ms an INSERT at 500 open incidents, 1.1 ms at 5 000, until autovacuum next analysed it
(measured: bench/create_http.py at demo scale, whose report rate halved over a run).

Now nothing joins it: the upsert's conflict is found by the primary key (ON CONFLICT's arbiter
index, never planned), an unchanged row is not rewritten (DO UPDATE … WHERE distinct: only locked,
as the incident's own row is by the same statement), and closed
ones are deleted by ``incident_id = ANY(array)`` with sequential scans off for the function, so
the only plan is the primary key.

Revision ID: 0024_escalations_by_key
Revises: 0023_escalations_ordered
Create Date: 2026-12-03
"""
from alembic import op

revision = "0024_escalations_by_key"
down_revision = "0023_escalations_ordered"
branch_labels = None
depends_on = None

OPEN = "('reported', 'assigned', 'in_progress', 'reopened')"
KEEP = f"""
        CREATE OR REPLACE FUNCTION incident_escalations_keep() RETURNS trigger LANGUAGE plpgsql
        SET enable_seqscan = off AS $$
        BEGIN
            INSERT INTO incident_escalations AS e (incident_id, town_id, area_id, grid_id, assignee_id, level,
                                                   escalated_at, next_at, due_at, urgent)
            SELECT id, town_id, area_id, grid_id, assignee_id, escalation_level, escalated_at, next_escalation_at,
                   due_at, priority = 'urgent'
              FROM changed WHERE status IN {OPEN}
            ON CONFLICT (incident_id) DO UPDATE
               SET town_id = excluded.town_id, area_id = excluded.area_id, grid_id = excluded.grid_id,
                   assignee_id = excluded.assignee_id, level = excluded.level,
                   escalated_at = excluded.escalated_at, next_at = excluded.next_at,
                   due_at = excluded.due_at, urgent = excluded.urgent
             WHERE (e.town_id, e.area_id, e.grid_id, e.assignee_id, e.level, e.escalated_at, e.next_at,
                    e.due_at, e.urgent)
                   IS DISTINCT FROM (excluded.town_id, excluded.area_id, excluded.grid_id, excluded.assignee_id,
                                     excluded.level, excluded.escalated_at, excluded.next_at,
                                     excluded.due_at, excluded.urgent);
            IF TG_OP = 'UPDATE' THEN
                DELETE FROM incident_escalations
                 WHERE incident_id = ANY (ARRAY(SELECT id FROM changed WHERE status NOT IN {OPEN}));
            END IF;
            RETURN NULL;
        END $$"""
FORGET = """
        CREATE OR REPLACE FUNCTION incident_escalations_forget() RETURNS trigger LANGUAGE plpgsql
        SET enable_seqscan = off AS $$
        BEGIN
            IF TG_OP = 'TRUNCATE' THEN
                TRUNCATE incident_escalations;
            ELSE
                DELETE FROM incident_escalations WHERE incident_id = ANY (ARRAY(SELECT id FROM gone));
            END IF;
            RETURN NULL;
        END $$"""
# 0023's functions as they were, put back by a downgrade word for word
FORMER_KEEP = f"""
        CREATE OR REPLACE FUNCTION incident_escalations_keep() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO incident_escalations AS e (incident_id, town_id, area_id, grid_id, assignee_id, level, escalated_at, next_at, due_at, urgent)
            SELECT id, town_id, area_id, grid_id, assignee_id, escalation_level, escalated_at, next_escalation_at, c.due_at, c.priority = 'urgent' FROM changed c
             WHERE c.status IN {OPEN}
               AND NOT EXISTS (SELECT FROM incident_escalations k WHERE k.incident_id = c.id
                                  AND (k.town_id, k.area_id, k.grid_id, k.assignee_id, k.level, k.escalated_at, k.next_at,
                                       k.due_at, k.urgent)
                                      IS NOT DISTINCT FROM (c.town_id, c.area_id, c.grid_id, c.assignee_id,
                                                            c.escalation_level, c.escalated_at, c.next_escalation_at,
                                                            c.due_at, c.priority = 'urgent'))
            ON CONFLICT (incident_id) DO UPDATE
               SET town_id = excluded.town_id, area_id = excluded.area_id, grid_id = excluded.grid_id,
                   assignee_id = excluded.assignee_id, level = excluded.level,
                   escalated_at = excluded.escalated_at, next_at = excluded.next_at,
                   due_at = excluded.due_at, urgent = excluded.urgent;
            IF TG_OP = 'UPDATE' THEN
                DELETE FROM incident_escalations e USING changed c
                 WHERE e.incident_id = c.id AND c.status NOT IN {OPEN};
            END IF;
            RETURN NULL;
        END $$"""
FORMER_FORGET = """
        CREATE OR REPLACE FUNCTION incident_escalations_forget() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'TRUNCATE' THEN
                TRUNCATE incident_escalations;
            ELSE
                DELETE FROM incident_escalations e USING gone g WHERE e.incident_id = g.id;
            END IF;
            RETURN NULL;
        END $$"""


def upgrade() -> None:
    op.execute(KEEP)
    op.execute(FORGET)


def downgrade() -> None:
    op.execute(FORMER_KEEP)    # (CREATE OR REPLACE drops the SET clause too)
    op.execute(FORMER_FORGET)
