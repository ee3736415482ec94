"""The measures behind every indicator, as one SQL statement over the incidents' event log.

Each measure is a set of rows ``(name, incident_id, at, grid_id, area_id, num, hours, level, trig)``:
one row per incident (or per event, for escalations) that the indicator counts, with ``num`` true
when it is in the rate's numerator, ``hours`` for a duration, and the place (grid, area) where the
incident was when the row's event happened (events record it: a later boundary move does not
rewrite the past). Figures aggregate these rows; the drill-down lists exactly the incidents of the
same rows, so a figure and its incidents cannot disagree.

Nothing here loads incidents into Python. Every scope starts from an index: events by (grid, at)
or (area, at), a town's through its areas; a person's incidents by handler; a town's judged
deadlines from its incidents by (town, created_at).
"""
from __future__ import annotations

from ..incidents.deadlines import URGENT_DEADLINE_HOURS
from ..incidents.models import OPEN_STATUSES

OPEN = "(" + ", ".join(f"'{s}'" for s in OPEN_STATUSES) + ")"
# An incident's first hand-over to a handler: a staff report's dispatch, a resident report's 立案,
# or, for a report routing could not place, its first 改派/接手 or the boundary move that gave it a
# handler (reported -> assigned; a resident's report awaiting 立案 stays reported when moved).
DISPATCHING = "('dispatch', 'register', 'reassign', 'take')"
ACCEPTING = "('accept', 'take')"            # 受理: the handler starts work (in_progress)
RESPONDING = "('register', 'decline', 'merge')"
# What counts as a first action by staff (not the report itself, the system's routing or escalations,
# a boundary move or the resident's rating).
STAFF_ACTIONS = ("('register', 'decline', 'merge', 'accept', 'comment', 'resolve', 'close', 'reopen', 'cancel', "
                 "'reassign', 'extend', 'escalate', 'take', 'send_down', 'confirm')")
SATISFIED = "('satisfied', 'basically')"
LOOKBACK_DAYS = 366   # an incident dispatched longer before the period is not looked at for its deadline

# Where events happened, and which incidents are the subject's now.
_EVENTS_IN = {"grid": "e.grid_id = :sid", "area": "e.area_id = :sid",   # a town's: measures_cte, by its areas
              "person": "e.incident_id IN (SELECT id FROM incidents WHERE assignee_id = :sid)"}
_INCIDENTS_IN = {"grid": "i.grid_id = :sid", "area": "i.area_id = :sid", "town": "i.town_id = :sid",
                 "person": "i.assignee_id = :sid"}


def _dispatching(alias: str) -> str:
    """Event ``alias`` hands the incident to a handler (DISPATCHING, or a move dispatching it)."""
    return (f"({alias}.action IN {DISPATCHING} OR ({alias}.action = 'rehome' AND {alias}.from_status = 'reported' "
            f"AND {alias}.to_status = 'assigned'))")


def _first(alias: str, actions: str) -> str:
    """``alias`` is the incident's first event of ``actions`` (a list, or "dispatching"), by (at, id).
    A correlated subquery: one probe of the incident's few events per row, whatever the planner
    estimates (as NOT EXISTS it could choose to hash every event of the table)."""
    kind = _dispatching("p") if actions == "dispatching" else f"p.action IN {actions}"
    return (f"{alias}.id = (SELECT p.id FROM incident_events p WHERE p.incident_id = {alias}.incident_id "
            f"AND {kind} ORDER BY p.at, p.id LIMIT 1)")


def _row(name: str, num: str = "true", hours: str = "NULL::float8", level: str = "NULL::text",
         trig: str = "NULL::text", source: str = "ev") -> str:
    return (f"SELECT '{name}'::text AS name, {source}.incident_id, {source}.at, {source}.grid_id, {source}.area_id, "
            f"{num} AS num, {hours} AS hours, {level} AS level, {trig} AS trig")


def _hours(later: str, earlier: str) -> str:
    return f"extract(epoch FROM {later} - {earlier}) / 3600.0"


def _on_time(kind: str) -> str:
    """按期结案: the incidents whose judged deadline falls in the period. The judged deadline is the
    first dispatch plus the category's time (urgent: at most URGENT_DEADLINE_HOURS) plus every
    explicit extension (延期); a take, reassignment or reopen that resets the live deadline does not
    move it. On time: closed by then and not reopened since. Cancelled incidents are left out, and so
    are those whose deadline is still to come (at ``:now``): neither on time nor late yet. The place
    is where the incident was at its deadline."""
    if kind in ("grid", "area"):
        candidates = ("SELECT DISTINCT e.incident_id FROM incident_events e "
                      f"WHERE {_EVENTS_IN[kind]} AND e.at >= :lookback AND e.at < :end")
        place = f"AND pl.{kind}_id = :sid"
    else:
        candidates = f"SELECT i.id AS incident_id FROM incidents i WHERE {_INCIDENTS_IN[kind]} " \
                     "AND i.created_at >= :lookback AND i.created_at < :end"
        place = ""
    return f"""
        SELECT 'on_time_closure_rate'::text AS name, j.incident_id, j.deadline AS at, pl.grid_id, pl.area_id,
               EXISTS (SELECT 1 FROM incident_events c WHERE c.incident_id = j.incident_id AND c.action = 'close'
                       AND c.at <= j.deadline
                       AND NOT EXISTS (SELECT 1 FROM incident_events r WHERE r.incident_id = j.incident_id
                                       AND r.action = 'reopen' AND r.at > c.at)) AS num,
               NULL::float8 AS hours, NULL::text AS level, NULL::text AS trig
        FROM (
            SELECT cand.incident_id,
                   x.at + make_interval(hours => CASE WHEN i.priority = 'urgent'
                                                       THEN least(c.deadline_hours, {URGENT_DEADLINE_HOURS})
                                                       ELSE c.deadline_hours END + coalesce(x.hours, 0)::int) AS deadline
            FROM ({candidates}) cand
            JOIN incidents i ON i.id = cand.incident_id
            JOIN categories c ON c.code = i.category_code
            CROSS JOIN LATERAL (   -- one pass over the incident's own events: first dispatch, extensions
                SELECT min(p.at) FILTER (WHERE {_dispatching('p')}) AS at,
                       sum((p.data ->> 'hours')::int) FILTER (WHERE p.action = 'extend') AS hours
                FROM incident_events p WHERE p.incident_id = cand.incident_id) x
            WHERE i.status <> 'cancelled' AND x.at IS NOT NULL
        ) j
        JOIN LATERAL (SELECT p.grid_id, p.area_id FROM incident_events p WHERE p.incident_id = j.incident_id
                      AND p.at <= j.deadline ORDER BY p.at DESC, p.id DESC LIMIT 1) pl ON true
        WHERE j.deadline >= :start AND j.deadline < :end AND j.deadline < :now {place}"""


def branches(kind: str) -> dict[str, str]:
    """Measure name -> the SELECT of its rows (``ev``: the subject's events in the period)."""
    now_rows = (f"SELECT i.id AS incident_id, NULL::timestamptz AS at, i.grid_id, i.area_id, i.due_at FROM incidents i "
                f"WHERE {_INCIDENTS_IN[kind]} AND i.status IN {OPEN}")
    satisfied = f"(ev.data ->> 'rating') IN {SATISFIED}"
    dispatched = f"FROM ev WHERE {_dispatching('ev')} AND {_first('ev', 'dispatching')}"
    return {
        "reported": f"{_row('reported')} FROM ev WHERE ev.action = 'report'",
        "registered": f"{_row('registered')} FROM ev WHERE ev.action = 'register'",
        "declined": f"{_row('declined')} FROM ev WHERE ev.action = 'decline'",
        "dispatched": f"{_row('dispatched')} {dispatched}",
        "resolved": f"{_row('resolved')} FROM ev WHERE ev.action = 'resolve'",
        "closed": f"{_row('closed')} FROM ev WHERE ev.action = 'close'",
        "cancelled": f"{_row('cancelled')} FROM ev WHERE ev.to_status = 'cancelled'",
        "open_now": f"{_row('open_now', source='o')} FROM ({now_rows}) o",
        "overdue_now": f"{_row('overdue_now', source='o')} FROM ({now_rows}) o WHERE o.due_at < :now",
        "response_rate": f"""{_row('response_rate', num=f'''(i.channel = 'staff' OR EXISTS (
                SELECT 1 FROM incident_events r WHERE r.incident_id = ev.incident_id AND r.action IN {RESPONDING}
                AND r.at <= ev.at + make_interval(hours => c.response_hours)))''')}
            FROM ev JOIN incidents i ON i.id = ev.incident_id JOIN categories c ON c.code = i.category_code
            WHERE ev.action = 'report'""",
        "on_time_closure_rate": _on_time(kind),
        "resolution_rate": f"""{_row('resolution_rate', num="i.status IN ('resolved', 'closed')")}
            {dispatched.replace('FROM ev', 'FROM ev JOIN incidents i ON i.id = ev.incident_id')}""",
        "reopen_rate": f"""{_row('reopen_rate', num='''EXISTS (SELECT 1 FROM incident_events r
                WHERE r.incident_id = ev.incident_id AND r.action = 'reopen' AND r.at > ev.at)''')}
            FROM ev WHERE ev.action = 'resolve'""",
        "satisfaction_rate": f"{_row('satisfaction_rate', num=satisfied)} FROM ev WHERE ev.action = 'rate'",
        "time_to_register": f"""{_row('time_to_register', hours=_hours('ev.at', 'i.created_at'))}
            FROM ev JOIN incidents i ON i.id = ev.incident_id WHERE ev.action = 'register'""",
        "time_to_accept": f"""{_row('time_to_accept', hours=_hours('ev.at', 'fd.at'))}
            FROM ev JOIN LATERAL (SELECT p.at FROM incident_events p WHERE p.incident_id = ev.incident_id
                                  AND {_dispatching('p')} ORDER BY p.at, p.id LIMIT 1) fd ON true
            WHERE ev.action IN {ACCEPTING} AND {_first('ev', ACCEPTING)}""",
        "time_to_first_action": f"""{_row('time_to_first_action', hours=_hours('ev.at', 'i.created_at'))}
            FROM ev JOIN incidents i ON i.id = ev.incident_id
            WHERE ev.actor_id IS NOT NULL AND ev.action IN {STAFF_ACTIONS}
              AND NOT EXISTS (SELECT 1 FROM incident_events p WHERE p.incident_id = ev.incident_id
                              AND p.actor_id IS NOT NULL AND p.action IN {STAFF_ACTIONS}
                              AND (p.at, p.id) < (ev.at, ev.id))""",
        "time_to_resolve": f"""{_row('time_to_resolve', hours=_hours('ev.at', 'i.created_at'))}
            FROM ev JOIN incidents i ON i.id = ev.incident_id
            WHERE ev.action = 'resolve' AND {_first('ev', "('resolve')")}""",
        "escalations": f"""{_row('escalations', level="ev.data ->> 'level'", trig="ev.data ->> 'trigger'")}
            FROM ev WHERE ev.action = 'escalate'""",
    }


NAMES = tuple(branches("grid"))

# The key a row is grouped by (``by``), as text: zone codes, a username, a category or duty, a local month.
# Keys of the incident (category, duty, handler) join it by primary key; the others need only the rows.
_INCIDENT = "JOIN incidents i ON i.id = m.incident_id"
KEYS = {
    "grid": ("g.code", "LEFT JOIN grids g ON g.id = m.grid_id"),
    "area": ("a.code", "LEFT JOIN areas a ON a.id = m.area_id"),
    "duty": ("c.duty", f"{_INCIDENT} JOIN categories c ON c.code = i.category_code"),
    "category": ("i.category_code", _INCIDENT),
    "person": ("u.username", f"{_INCIDENT} LEFT JOIN users u ON u.id = i.assignee_id"),
    "month": ("to_char(m.at AT TIME ZONE :tz, 'YYYY-MM')", ""),
}


def measures_cte(kind: str, names=NAMES) -> str:
    """``WITH ev …, m …``: the subject's events in the period, and the rows of ``names``."""
    chosen = branches(kind)
    union = "\n        UNION ALL\n        ".join(chosen[name] for name in names)
    columns = "e.id, e.incident_id, e.at, e.action, e.from_status, e.to_status, e.data, e.grid_id, e.area_id, e.actor_id"
    if kind == "town":   # by its areas' index (area, time), and the few events outside every area
        events = f"""SELECT {columns} FROM incident_events e
            WHERE e.area_id IN (SELECT id FROM areas WHERE town_id = :sid) AND e.at >= :start AND e.at < :end
            UNION ALL
            SELECT {columns} FROM incident_events e
            WHERE e.area_id IS NULL AND e.at >= :start AND e.at < :end
              AND e.incident_id IN (SELECT id FROM incidents WHERE town_id = :sid)"""
    else:
        events = f"SELECT {columns} FROM incident_events e WHERE {_EVENTS_IN[kind]} AND e.at >= :start AND e.at < :end"
    return f"""WITH ev AS MATERIALIZED (
            {events}
        ), m AS (
        {union}
        )"""


def figures_sql(kind: str, by: str | None) -> str:
    """One row per (name) total, per (name, level) and (name, trigger) for escalations, and per
    (name, key) when ``by`` is given (``g`` tells the grouping apart: GROUPING(key, level, trig))."""
    key, join = KEYS[by] if by else ("NULL::text", "")
    sets = "(m.name), (m.name, m.level), (m.name, m.trig)" + (f", (m.name, {key})" if by else "")
    grouping = f"GROUPING({key}, m.level, m.trig)" if by else "4 + GROUPING(m.level, m.trig)"
    return f"""{measures_cte(kind)}
        SELECT m.name, {key} AS key, m.level, m.trig, {grouping} AS g,
               count(*) AS n,
               count(DISTINCT m.incident_id) AS den,
               count(DISTINCT m.incident_id) FILTER (WHERE m.num) AS num,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY m.hours) AS p50,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY m.hours) AS p90
        FROM m {join}
        GROUP BY GROUPING SETS ({sets})"""


PARTS = {"numerator": "bool_or(m.num)", "denominator": "true", "rest": "NOT bool_or(m.num)"}


def drill_sql(kind: str, name: str, part: str, by: str | None) -> str:
    """The incidents behind one figure: ``part`` of measure ``name`` (optionally one ``by`` key),
    by code, one page; with each incident's longest measured time, if the measure is a duration."""
    key, join = KEYS[by] if by else ("NULL::text", "")
    key_filter = f"AND {key} IS NOT DISTINCT FROM :key" if by else ""
    return f"""{measures_cte(kind, (name,))}
        SELECT m.incident_id, max(m.hours) AS hours
        FROM m {join}
        WHERE true {key_filter}
        GROUP BY m.incident_id HAVING {PARTS[part]}
        ORDER BY m.incident_id LIMIT :limit OFFSET :offset"""
