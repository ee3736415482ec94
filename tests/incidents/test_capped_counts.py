"""The header's counts stop at a cap (issue 12: a leader with 195 000 unread paid a second for the
exact number on every page): up to the cap they are exact, past it they are the cap, shown 99+."""
from gridsys.incidents import notify, queues
from gridsys.people import access
from tests.incidents.helpers import login, report


def test_unread_and_queue_counts_are_exact_below_the_cap_and_stop_at_it(session, world):
    for _ in range(3):
        report(session, world.worker12, "g12", "0101")   # their own reports wait for them to accept
    scope = access.scope_for(session, world.worker12)
    leader_scope = access.scope_for(session, world.leader1)
    assert notify.unread_count(session, world.leader1, leader_scope) == \
        notify.unread_count(session, world.leader1, leader_scope, cap=100)
    mine = queues.counts(session, world.worker12, scope)
    assert mine["to_accept"] == 3
    assert queues.counts(session, world.worker12, scope, cap=2)["to_accept"] == 2


def test_the_cap_applies_to_the_unread_count(session, world):
    for _ in range(3):
        report(session, world.safety1, "g12", "0101")     # reported by someone else: worker12 is told
    scope = access.scope_for(session, world.worker12)
    assert notify.unread_count(session, world.worker12, scope) == 3
    assert notify.unread_count(session, world.worker12, scope, cap=2) == 2


def test_the_header_shows_99_plus_at_the_cap(client, session, world, monkeypatch):
    report(session, world.safety1, "g12", "0101")
    monkeypatch.setattr(notify, "unread_count", lambda *a, **k: 100)
    login(client, "worker12")
    page = client.get("/incidents").get_data(as_text=True)
    assert 'data-unread="100">99+</span>' in page


def test_every_count_on_a_page_shows_99_plus_at_the_cap(client, session, world, monkeypatch):
    """The phone menu's badge, the nav's queues, the cards and the tabs read the same 99+ as the inbox link."""
    report(session, world.safety1, "g12", "0101")
    monkeypatch.setattr(notify, "unread_count", lambda *a, **k: 100)
    real = queues.counts
    monkeypatch.setattr(queues, "counts", lambda *a, **k: {name: 100 for name in real(*a, **k)})
    login(client, "worker12")
    for path in ("/incidents", "/"):
        page = client.get(path).get_data(as_text=True)
        assert 'menu-count" aria-label' in page and ">100<" not in page, path
        assert page.count("99+") >= 3, path
