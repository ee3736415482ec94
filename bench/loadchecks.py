"""What `make load` checks in the database after each phase (bench/load.py): every acknowledged
report stored exactly once under the id it was answered with, nothing stored that no phone
sent, and every incident's event log in step with the incident (creation events first, each
event starting where the previous one ended, the latest one ending where the incident is, the
escalation level and the version following the events). Read-only SQL over the whole database."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text

from gridsys.incidents.lifecycle import ACTIONS

from .loadclients import Recorder

EXAMPLES = 5


@dataclass
class Check:
    name: str
    failures: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failures == 0

    def line(self) -> str:
        found = "" if self.ok else f": {self.failures} found, e.g. " + "; ".join(self.examples)
        return f"  {'PASS' if self.ok else 'FAIL'}  {self.name}{found}"


def _check(name: str, rows) -> Check:
    """``rows``: one per fault found, its first column saying what it is."""
    rows = list(rows)
    return Check(name, len(rows), [str(row[0]) for row in rows[:EXAMPLES]])


# Each query returns one row per fault found, saying what it is.
CREATION_EVENTS = """
    WITH e AS (SELECT incident_id, action, from_status, to_status,
                      row_number() OVER (PARTITION BY incident_id ORDER BY id) AS n,
                      count(*) FILTER (WHERE action = 'report') OVER (PARTITION BY incident_id) AS reports
               FROM incident_events)
    SELECT format('incident %s (%s) begins with %s, %s', i.id, i.code, coalesce(e1.action, 'nothing'),
                  coalesce(e2.action, 'nothing'))
    FROM incidents i
    LEFT JOIN e e1 ON e1.incident_id = i.id AND e1.n = 1
    LEFT JOIN e e2 ON e2.incident_id = i.id AND e2.n = 2
    WHERE e1.action IS DISTINCT FROM 'report' OR e1.from_status IS NOT NULL OR e1.to_status <> 'reported'
       OR e1.reports <> 1 OR e2.action IS NULL OR e2.action NOT IN ('dispatch', 'unrouted')
       OR e2.from_status <> 'reported'
    ORDER BY i.id"""
CHAIN = """
    SELECT format('event %s (%s) of incident %s starts from %s after an event ending in %s', id, action,
                  incident_id, from_status, prev_to) FROM (
        SELECT id, incident_id, action, from_status,
               lag(to_status) OVER (PARTITION BY incident_id ORDER BY id) AS prev_to,
               row_number() OVER (PARTITION BY incident_id ORDER BY id) AS n
        FROM incident_events) e
    WHERE n > 1 AND from_status IS DISTINCT FROM prev_to ORDER BY id"""
LATEST_STATUS = """
    SELECT format('incident %s (%s) is %s, its latest event says %s', i.id, i.code, i.status, last.to_status)
    FROM incidents i
    LEFT JOIN (SELECT DISTINCT ON (incident_id) incident_id, to_status FROM incident_events
               ORDER BY incident_id, id DESC) last ON last.incident_id = i.id
    WHERE last.to_status IS DISTINCT FROM i.status ORDER BY i.id"""
# Level changes: an escalation says its new level; a leader acting on it says from_level (back to 0).
LEVELS = """
    WITH steps AS (
        SELECT incident_id, id, action, level,
               coalesce(lag(level) OVER (PARTITION BY incident_id ORDER BY id), 0) AS before
        FROM (SELECT incident_id, id, action,
                     CASE WHEN action = 'escalate' THEN (data->>'level')::int
                          WHEN data ? 'from_level' THEN 0 END AS level
              FROM incident_events) e
        WHERE level IS NOT NULL)
    SELECT format('event %s (%s) of incident %s goes to level %s from %s', id, action, incident_id, level, before)
    FROM steps
    WHERE action = 'escalate' AND level <> before + 1
    UNION ALL
    SELECT format('incident %s (%s) is at level %s, its events say %s', i.id, i.code, i.escalation_level,
                  coalesce(s.level, 0))
    FROM incidents i
    LEFT JOIN (SELECT DISTINCT ON (incident_id) incident_id, level FROM steps ORDER BY incident_id, id DESC) s
           ON s.incident_id = i.id
    WHERE i.escalation_level <> coalesce(s.level, 0)"""
# Every act through lifecycle.transition adds one to the version; the sweep and creation do not
# (their escalations have no actor), a boundary move (rehome) does.
VERSIONS = """
    SELECT format('incident %s (%s) has version %s after %s acts', i.id, i.code, i.version, coalesce(c.acts, 0))
    FROM incidents i
    LEFT JOIN (SELECT incident_id, count(*) FILTER (
                   WHERE (action = ANY(:acts) AND (action <> 'escalate' OR actor_id IS NOT NULL))
                      OR action = 'rehome') AS acts
               FROM incident_events GROUP BY incident_id) c ON c.incident_id = i.id
    WHERE i.version <> 1 + coalesce(c.acts, 0) ORDER BY i.id"""


def check_phase(engine, rec: Recorder, sent_ever: dict[str, str], refused_ever: dict[str, str]) -> list[Check]:
    """The checks after one phase: ``rec`` is the phase's clients; ``sent_ever`` and
    ``refused_ever`` every report of the run so far (earlier phases' incidents are in the database too)."""
    answered_twice = [(f"{u} answered with ids {sorted(a.ids)}",) for u, a in rec.acks.items() if len(a.ids) != 1]
    created_twice = [(f"{u} answered 201 Created {a.created} times",) for u, a in rec.acks.items() if a.created > 1]
    pending = [(f"{u} of {who} never acknowledged",) for u, who in rec.sent.items()
               if u not in rec.acks and u not in rec.refused]
    checks = [_check("each acknowledged report answered with one id, and created (201) at most once",
                     answered_twice + created_twice)]
    with engine.begin() as conn:
        conn.execute(text("CREATE TEMP TABLE load_acked (client_uuid uuid PRIMARY KEY, id int, reporter text) "
                          "ON COMMIT DROP"))
        conn.execute(text("CREATE TEMP TABLE load_sent (client_uuid uuid PRIMARY KEY, refused text) ON COMMIT DROP"))
        if rec.acks:
            conn.execute(text("INSERT INTO load_acked VALUES (:u, :id, :who)"),
                         [{"u": u, "id": min(a.ids), "who": a.reporter} for u, a in rec.acks.items()])
        if sent_ever:
            conn.execute(text("INSERT INTO load_sent VALUES (:u, :refused)"),
                         [{"u": u, "refused": refused_ever.get(u)} for u in sent_ever])
        checks.append(_check("each acknowledged report stored exactly once (count by client UUID = 1), "
                             "under its id, as its reporter's", conn.execute(text("""
            SELECT format('%s acknowledged as incident %s of %s: stored %s times (ids %s, reporter %s)',
                          a.client_uuid, a.id, a.reporter, count(i.id), string_agg(i.id::text, ','),
                          min(u.username))
            FROM load_acked a LEFT JOIN incidents i ON i.client_uuid = a.client_uuid
            LEFT JOIN users u ON u.id = i.reporter_id
            GROUP BY a.client_uuid, a.id, a.reporter
            HAVING count(i.id) <> 1 OR min(i.id) <> a.id OR min(u.username) <> a.reporter"""))))
        checks.append(_check("nothing stored that no phone sent, nor a refused report", conn.execute(text("""
            SELECT format('incident %s (%s, %s): %s', i.id, i.code, i.client_uuid,
                          coalesce('refused ' || s.refused, 'never sent'))
            FROM incidents i LEFT JOIN load_sent s ON s.client_uuid = i.client_uuid
            WHERE s.client_uuid IS NULL OR s.refused IS NOT NULL ORDER BY i.id"""))))
        checks.append(_check("every report acknowledged before the phase ended (the outboxes drained)", pending))
        checks.append(_check("every incident has its creation events, first (report, then dispatch/unrouted)",
                             conn.execute(text(CREATION_EVENTS))))
        checks.append(_check("each event starts where the previous one ended", conn.execute(text(CHAIN))))
        checks.append(_check("the latest event's status is the incident's status", conn.execute(text(LATEST_STATUS))))
        checks.append(_check("escalation level follows the events (one level per escalation, none twice)",
                             conn.execute(text(LEVELS))))
        checks.append(_check("version counts the acts on the incident",
                             conn.execute(text(VERSIONS), {"acts": list(ACTIONS)})))
    return checks
