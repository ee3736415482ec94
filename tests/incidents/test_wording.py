"""One vocabulary: every code people read has one name, a msgid of the message catalogue, with one
Chinese translation; pages, robots and routing reasons all take it from there."""
import pytest

from gridsys import wording
from gridsys.incidents import notify, queues, routing
from gridsys.incidents import wording as incidents_wording
from gridsys.incidents.models import STATUSES
from gridsys.vocabulary import ASSIGNABLE_DUTIES, ROLES
from gridsys.zones.models import LEVELS

TRIGGERS = ("overdue", "urgent", "manual", "stale")   # Incident.escalation_trigger
TABLES = {
    "duties": (wording.DUTY_NAMES, ASSIGNABLE_DUTIES),
    "roles": (wording.ROLE_NAMES, ROLES),
    "zone levels": (wording.ZONE_LEVEL_NAMES, LEVELS),
    "statuses": (incidents_wording.STATUS_NAMES, STATUSES),
    "queues": (incidents_wording.QUEUE_NAMES, queues.QUEUES),
    "queue hints": (incidents_wording.QUEUE_HINTS, queues.QUEUES),
    "triggers": (incidents_wording.TRIGGER_NAMES, TRIGGERS),
    "escalation levels": (incidents_wording.LEVEL_NAMES, (0, 1, 2)),
    "inbox notices": ({k: n.inbox for k, n in incidents_wording.NOTICES.items()}, notify.KINDS),
    "robot titles": ({k: n.title for k, n in incidents_wording.NOTICES.items()}, notify.KINDS),
}


@pytest.mark.parametrize("table", TABLES)
def test_every_code_has_one_name_in_each_language(table):
    names, codes = TABLES[table]
    assert set(names) == set(codes)
    chinese = {code: wording.name("zh", names, code) for code in codes}
    assert all(chinese[code] != names[code] for code in codes), chinese          # translated
    assert len(set(chinese.values())) == len(codes), chinese                      # no two codes read alike
    assert [wording.name("en", names, code) for code in codes] == [names[code] for code in codes]


def test_an_unknown_code_reads_as_itself_and_english_is_the_msgid():
    assert wording.name("zh", wording.DUTY_NAMES, "juggling") == "juggling"
    assert wording.name("zh", incidents_wording.TRIGGER_NAMES, None, "—") == "—"
    assert wording.text("en", "Level: %(n)s (%(holder)s)", n=1, holder="x") == "Level: 1 (x)"
    assert wording.text("zh", "Level: %(n)s (%(holder)s)", n=1, holder="包片领导") == "级别：1（包片领导）"


DECISIONS = [
    ({"rule": "duty_primary", "grid": "G1"}, "routed to w as Safety & order worker of grid G1",
     "派给 w：网格 G1 的平安综治网格员"),
    ({"rule": "duty_backup", "grid": "G1"}, "routed to w as backup Safety & order worker of grid G1 (no active primary)",
     "派给 w：网格 G1 的平安综治备岗网格员（无在岗主责）"),
    ({"rule": "general_primary", "grid": "G1"}, "routed to w as general worker of grid G1 (no Safety & order worker)",
     "派给 w：网格 G1 无平安综治网格员，由综合网格员处理"),
    ({"rule": "area_leader", "grid": "G1", "area": "A1"},
     "routed to w as leader of area A1 (no worker available on grid G1)",
     "派给 w：片区 A1 的包片领导（网格 G1 无可派网格员，属地兜底）"),
    ({"rule": "area_leader", "area": "A1"}, "routed to w as leader of area A1 (the point is in no grid)",
     "派给 w：片区 A1 的包片领导（该点不在任何网格内，属地兜底）"),
    ({"rule": "town_admin", "area": "A1", "town": "T"}, "routed to w as administrator of town T (the area has no leader)",
     "派给 w：镇 T 的管理员（片区无包片领导，属地兜底）"),
    ({"rule": "town_admin", "town": "T"}, "routed to w as administrator of town T (the point is in no area)",
     "派给 w：镇 T 的管理员（该点不在任何片区内，属地兜底）"),
    ({"rule": "unassigned", "town": "T", "assignee": None}, "not dispatched: town T has nobody to route to",
     "未能派遣：镇 T 没有可派的人员"),
]


@pytest.mark.parametrize("decision,english,chinese", DECISIONS)
def test_routing_reasons_come_from_the_catalogue_with_the_duty_by_its_one_name(decision, english, chinese):
    data = {"duty": "safety", "assignee": "w", "grid": None, "area": None, "town": "T", **decision}
    assert routing.reason_text(data, "en") == english
    assert routing.reason_text(data, "zh") == chinese


def test_every_routing_rule_has_a_reason():
    rules = {"duty_primary", "duty_backup", "general_primary", "general_backup", "area_leader", "town_admin",
             "unassigned"}
    assert rules <= set(routing.REASONS)
    for rule in rules:
        text = routing.reason_text({"rule": rule, "duty": "legal", "assignee": "w", "grid": "G", "area": "A",
                                    "town": "T"}, "zh")
        assert text.startswith(("派给 w：", "未能派遣")) and "routed" not in text
