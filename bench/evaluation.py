"""Evaluation (考核) dashboard queries over the city dataset (issue 16, target <= 200 ms each): for a
town over last month and for an area over the last twelve months, every query the dashboard runs
(the figures, the rankings by area, grid and person, the breakdowns by category and duty, the
six-month trend), and the drill-down of the late incidents.

Baseline in the same run: what a competent engineer writes without the shared measure rows, one
plain SQL statement per indicator over the raw tables (each reading the period's events again,
a round trip each). At demo scale the city generator builds a small city (GRIDSYS_BENCH_SCALE=city
for the full one: 1 000 towns, 2 000 000 incidents)."""
from __future__ import annotations

import os
import statistics
from datetime import timedelta

from sqlalchemy import text

from gridsys.clock import now
from gridsys.evaluation import indicators, measures, periods, subjects
from gridsys.people import access
from gridsys.settings import DEFAULTS

from . import city
from .common import engine_and_session, header, timed

EVERYTHING = access.Scope(None, True, frozenset(), frozenset(), frozenset())
DEMO_SCALE = 0.02
QUERIES = (("figures", None), ("by area", "area"), ("by grid", "grid"), ("by person", "person"),
           ("by category", "category"), ("by duty", "duty"))


def _dataset() -> tuple[str, str]:
    scale = 1.0 if os.environ.get("GRIDSYS_BENCH_SCALE") == "city" else DEMO_SCALE
    return city.ensure(scale), f"{'city' if scale == 1.0 else f'small city (scale {scale})'}"


def _typical(session, level: str) -> str:
    """A town or area with the median number of incidents (not the dense test area)."""
    column = "town_id" if level == "town" else "area_id"
    table = "towns" if level == "town" else "areas"
    return session.execute(text(f"""
        SELECT z.code FROM (SELECT {column} AS id, count(*) AS n FROM incidents GROUP BY {column}) c
        JOIN {table} z ON z.id = c.id ORDER BY c.n LIMIT 1 OFFSET (SELECT count(DISTINCT {column}) / 2 FROM incidents)
    """)).scalar_one()


def per_indicator(session, subject, period) -> dict:
    """The baseline: each indicator's own statement (the same definitions, no shared rows)."""
    params = {"sid": subject.id, "start": period.start, "end": period.end, "now": now(),
              "lookback": period.start - timedelta(days=measures.LOOKBACK_DAYS), "tz": DEFAULTS.timezone}
    found = {}
    for name in measures.NAMES:
        found[name] = session.execute(text(f"""{measures.measures_cte(subject.kind, (name,))}
            SELECT count(DISTINCT incident_id), count(DISTINCT incident_id) FILTER (WHERE num),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) FROM m"""), params).one()
    return found


def _row(label: str, ms: list[float], base: list[float] | None = None) -> str:
    """The first run apart (pages the query reads for the first time come from disk), then the others."""
    cold, warm = ms[0], ms[1:]
    p50, worst = statistics.median(warm), max(warm)
    line = (f"  {label:<26} first {cold:7.1f} ms, then p50 {p50:7.1f} max {worst:7.1f} ms  "
            f"{'ok' if worst <= 200 else 'OVER'} (<= 200 ms)")
    if base:
        line += f"   baseline (a statement per indicator) p50 {statistics.median(base[1:]):7.1f} ms"
    return line


def run() -> dict:
    url, what = _dataset()
    header(f"evaluation dashboard queries over the {what}")
    engine, session = engine_and_session(url)
    count = session.execute(text("SELECT count(*) FROM incidents")).scalar_one()
    events = session.execute(text("SELECT count(*) FROM incident_events")).scalar_one()
    print(f"{count:,} incidents, {events:,} events")
    today = now().astimezone(DEFAULTS.zone).date()
    month = periods.last_month(DEFAULTS.zone, today)
    year = periods.between(today.replace(day=1) - timedelta(days=365), today.replace(day=1) - timedelta(days=1),
                           DEFAULTS.zone)
    results = {}
    for level, period, label in (("town", month, f"town, {month.first:%Y-%m}"),
                                 ("area", year, f"area, {year.first} to {year.last}")):
        subject = subjects.resolve(session, EVERYTHING, level, _typical(session, level))
        print(f"{label}: {subject.code} {subject.name}")
        trend = periods.months_back(period, 6, DEFAULTS.zone)
        worst = []
        for name, by in (*QUERIES, ("trend by month", "month")):
            span = trend if by == "month" else period
            ms = timed(lambda: indicators.compute(session, subject, span, by), 6)
            session.rollback()
            base = timed(lambda: per_indicator(session, subject, span), 4) if by is None else None
            session.rollback()
            print(_row(name, ms, base))
            worst.append(max(ms))
            results[f"{level} {name}"] = statistics.median(ms)
        ms = timed(lambda: indicators.drill(session, subject, period, "on_time_closure_rate", "rest"), 6)
        session.rollback()
        print(_row("drill: late incidents", ms))
        figures = indicators.compute(session, subject, period)["indicators"]
        print(f"  reported {figures['reported']['value']}, on time {figures['on_time_closure_rate']['value']}, "
              f"satisfaction {figures['satisfaction_rate']['value']}; slowest query {max(worst):.1f} ms")
    session.close()   # its connection back to the pool, so the next benchmark can copy the city
    engine.dispose()
    return results


if __name__ == "__main__":
    run()
