"""The words of the city's incidents: descriptions, addresses, notes and residents' comments, each
picked by a seeded draw keyed by the incident, so an event and the notice about it say the same."""
from __future__ import annotations

from .city_sql import pick, u

PLACES = ["小区门口", "菜市场旁", "学校附近", "公交站旁", "河堤步道", "老街", "村委会附近", "停车场", "广场",
          "桥下", "超市门口", "卫生院旁", "农贸市场", "背街小巷", "居民楼下", "加油站旁", "幼儿园门口", "健身步道"]
DETAILS = ["，请尽快处理", "，群众反映多次", "，已拍照取证", "，影响居民出行", "，存在安全隐患", "，需协调相关部门",
           "", "，已现场劝导", "，持续多日", "，夜间尤其严重", "，周边商户反映"]
ROADS = ["建设路", "人民路", "解放路", "新华路", "中山路", "滨江路", "学府大道", "团结路", "和平路", "兴隆街", "正街",
         "工业园路", "体育路", "文化街", "朝阳路", "幸福路"]
NOTES = {
    "resolve": ["已清理完毕", "已协调处理", "已现场处置并拍照", "已联系责任单位处理完毕", "已劝导整改", "已维修恢复",
                "已调解，双方达成一致", "已上门走访并落实帮扶"],
    "comment": ["已联系相关部门，等待回复", "现场查看，需进一步协调", "已电话联系当事人", "正在处理中", "请网格员跟进"],
    "extend": ["需协调相关部门，申请延期", "涉及多方，需要更多时间", "等待施工队进场", "材料采购中，申请延期"],
    "escalate": ["超出网格处置能力，请求支援", "需要多部门联动", "当事人情绪激动，请领导协调"],
    "cancel": ["重复上报", "报告有误", "非本辖区事项", "已由其他部门处理"],
    "decline": ["经核实不属于受理范围，已告知相关部门", "该事项属于民事纠纷，建议通过法律途径解决",
                "经现场核实，情况不属实"],
    "rework": ["处理不彻底，请返工", "现场仍有问题，请重新处理", "群众不满意，请再次处置"],
    "confirm": ["已回访核实，处理结果符合规定", "经核查已按标准处置，已向您说明情况"],
}
THANKS = ["处理及时，谢谢", "很满意", "网格员态度很好", "速度快"]
OKAY = ["基本解决了", "处理有点慢", "还可以"]
COMPLAINTS = ["问题没有解决", "处理太慢了", "没人联系我", "又出现了"]


def note(kind: str, key: str, seed: int, salt: int = 0) -> str:
    """SQL for the note of a ``kind`` of action on the incident ``key``."""
    return pick(NOTES[kind], key, 100 + 10 * list(NOTES).index(kind) + salt, seed)


def description(f: str, seed: int) -> str:
    return (f"{f}.cat_name || '：' || {pick(PLACES, f + '.n', 200, seed)} || "
            f"{pick(DETAILS, f + '.n', 201, seed)}")


def address(f: str, seed: int) -> str:
    return (f"CASE WHEN {u(f + '.n', 202, seed)} < 0.6 THEN replace({f}.area_name, '片区', '') || "
            f"{pick(ROADS, f + '.n', 203, seed)} || (1 + floor({u(f + '.n', 204, seed)} * 300))::int || '号' END")


def rating_comment(f: str, seed: int) -> str:
    """SQL for a resident's comment with a rating (NULL for none; always one when unsatisfied)."""
    draw = u(f + ".n", 205, seed)
    return (f"CASE {f}.rating WHEN 'satisfied' THEN CASE WHEN {draw} < 0.4 THEN {pick(THANKS, f + '.n', 206, seed)} END "
            f"WHEN 'basically' THEN CASE WHEN {draw} < 0.5 THEN {pick(OKAY, f + '.n', 207, seed)} END "
            f"WHEN 'unsatisfied' THEN {pick(COMPLAINTS, f + '.n', 208, seed)} END")
