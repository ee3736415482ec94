"""The demo's months of history: made through the real services, seeded, figures in every month."""
from datetime import date, datetime, timezone

from sqlalchemy import func, select

from gridsys.cli import DATA, DEMO_TOWN
from gridsys.evaluation import indicators, periods, subjects
from gridsys.evaluation.demo_history import load_history
from gridsys.incidents.catalogue import load_catalogue
from gridsys.incidents.models import Incident, IncidentEvent
from gridsys.people import access
from gridsys.people.demo import load_demo_people
from gridsys.settings import DEFAULTS
from gridsys.zones.transfer import import_zones, load_json

TODAY = datetime(2026, 12, 2, 6, 0, tzinfo=timezone.utc)


def test_two_months_of_history_fill_the_indicators(session):
    import_zones(session, load_json((DATA / "demo_town.geojson").read_bytes()), actor="t")
    load_catalogue(session, (DATA / "categories.json").read_bytes())
    load_demo_people(session, DEMO_TOWN)
    made = load_history(session, DEMO_TOWN, 1, today=TODAY)
    assert made == session.scalar(select(func.count(Incident.id)))
    assert 60 <= made <= 200       # 2 to 6 a day over November and 1 December
    assert load_history(session, DEMO_TOWN, 1, today=TODAY) == 0, "a town with incidents gets no more"
    # every incident has its report event, in the grid it was reported in
    assert session.scalar(select(func.count(IncidentEvent.id)).where(IncidentEvent.action == "report")) == made
    statuses = set(session.scalars(select(Incident.status).distinct()))
    assert {"closed", "cancelled"} <= statuses and statuses & {"assigned", "in_progress", "reported"}
    everything = access.Scope(None, True, frozenset(), frozenset(), frozenset())
    town = subjects.resolve(session, everything, "town", DEMO_TOWN)
    november = periods.between(date(2026, 11, 1), date(2026, 11, 30), DEFAULTS.zone)
    figures = indicators.compute(session, town, november, "grid", as_of=TODAY)
    shown = figures["indicators"]
    for name in ("reported", "closed", "registered", "escalations"):
        assert shown[name]["value"] > 0, name
    for name in ("on_time_closure_rate", "response_rate", "satisfaction_rate"):
        assert 0 < shown[name]["value"] <= 1, name
    on_time = [r["indicators"]["on_time_closure_rate"]["value"] for r in figures["rows"]]
    assert min(v for v in on_time if v is not None) < 1, "some grid is late: the ranking has a worst grid"
