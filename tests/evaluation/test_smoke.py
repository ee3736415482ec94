from datetime import datetime, timedelta, timezone

from gridsys.evaluation import indicators, periods, subjects
from gridsys.people import access
from gridsys.settings import DEFAULTS
from tests.incidents.helpers import act, report

T0 = datetime(2026, 10, 5, 1, 0, tzinfo=timezone.utc)


def test_runs(session, world):
    i = report(session, world.safety1, "g11", "0201", at=T0)
    act(session, i, world.safety1, "accept", at=T0 + timedelta(hours=2))
    act(session, i, world.safety1, "resolve", note="done", at=T0 + timedelta(hours=5))
    act(session, i, world.leader1, "close", at=T0 + timedelta(hours=6))
    scope = access.scope_for(session, world.admin)
    subject = subjects.resolve(session, scope, "town", world.town.code)
    period = periods.between(datetime(2026, 10, 1).date(), datetime(2026, 10, 31).date(), DEFAULTS.zone)
    for by in (None, "grid", "area", "duty", "category", "person", "month"):
        out = indicators.compute(session, subject, period, by)
    print(out)
    assert out["indicators"]["reported"]["value"] == 1
    for kind, code in (("area", world.a1.code), ("grid", world.g11.code), ("person", "safety1")):
        s = subjects.resolve(session, scope, kind, code)
        out = indicators.compute(session, s, period, "grid")
        assert out["indicators"]["closed"]["value"] == 1, out
        ids, hours, more = indicators.drill(session, s, period, "on_time_closure_rate", "numerator")
        assert ids == [i.id]
