"""Two connections adding grids to the same area at once: the second refresh of the area's stored
coverage waits for the first to commit and then counts both grids (computed from a snapshot taken
after the wait, not from one taken before the first grid existed).

Committed data on two real connections (the usual rolled-back transaction would hide one from the
other): a town of its own, 500106913, removed again at the end.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from gridsys.zones import services
from gridsys.zones.models import Area
from tests.committed import Racer, backend_pid, clean_up, wait_until_blocked
from tests.factories import cell, make_area, make_grid, make_town

TOWN = "500106913"
AREA = TOWN + "001"


def test_concurrent_grids_of_one_area_are_both_counted(engine):
    clean_up(engine, TOWN, ())
    try:
        with Session(engine) as s:
            area = make_area(s, make_town(s, TOWN, cell(150, 100, 160, 110), name="覆盖并发测试镇"), 1,
                             cell(150, 100, 160, 110))
            s.commit()
            area_id = area.id
        with Session(engine) as first, Session(engine) as second:
            make_grid(first, first.get(Area, area_id), 1, cell(150, 100, 155, 110))   # holds the area's row
            pid = backend_pid(second)
            racer = Racer(lambda: (make_grid(second, second.get(Area, area_id), 2, cell(155, 100, 160, 110)),
                                   second.commit()))
            wait_until_blocked(engine, pid, racer)
            first.commit()
            racer.join()
            assert racer.error is None, racer.error
        with Session(engine) as s:
            (stored,) = services.stored_coverage(s, [AREA])
            (live,) = services.coverage(s, codes=[AREA])
            assert stored.children == live.children == 2
            assert stored.covered_m2 == live.covered_m2 and stored.coverage_pct > 99.99
    finally:
        clean_up(engine, TOWN, ())
