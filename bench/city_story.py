"""Each incident's story, decided in SQL from seeded draws: where (a point in a grid, busy grids and
towns busier), what (the catalogue's mix), who (the routed worker, the reporter), and when each
step happened: dispatch or registration (立案), acceptance, an extension, a comment, a manual
escalation, resolution, verification or 返工, a resident's 回访 and the leader's review, a
cancellation. Escalations follow the sweep's rules (overdue after the deadline, stale after the
category's second deadline, urgent staff reports at once); a step at or after the dataset's "now"
has not happened, so recent incidents are open in whatever status they reached.

Tables (in the scratch schema): ``loads`` (incidents per grid), ``base`` (one row and point per
incident), ``story`` (the planned times), ``final`` (what happened by now: the incident's columns).
"""
from __future__ import annotations

from gridsys.incidents.deadlines import URGENT_DEADLINE_HOURS

from .city_people import WORKERS
from .city_sql import SCRATCH, Params, hours, normal, pick, run, u

# How often each category is reported (per mille of reports; a category missing here counts 10).
# Sanitation and street order dominate; ≈ 10 % come from urgent categories, and staff mark
# about one in nine normal reports urgent, so that ≈ 18 % are urgent overall.
WEIGHTS = {"0101": 140, "0102": 120, "0103": 90, "0104": 80, "0105": 60, "0106": 80, "0107": 70,
           "0201": 30, "0202": 40, "0203": 40, "0204": 30, "0205": 15, "0206": 20, "0207": 10,
           "0301": 20, "0302": 20, "0303": 10, "0304": 10, "0305": 10, "0401": 15, "0402": 10, "0403": 20,
           "0501": 20, "0502": 8, "0503": 7, "0601": 12, "0602": 4, "0603": 8}
URGENT_BY_STAFF = 0.11
CHANNELS = (("resident", 0.08), ("phone", 0.12), ("open311", 0.15))   # cumulative; the rest staff
STUCK, UNVERIFIED, DECLINED, CANCELLED, RETURNED = 0.004, 0.003, 0.07, 0.02, 0.06
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")


def category_buckets(categories: list[dict]) -> tuple[list[int], list[str]]:
    """1 000 buckets, each naming a category, in proportion to WEIGHTS (active categories only)."""
    active = [c["code"] for c in categories if c["active"]]
    weights = [WEIGHTS.get(code, 10) for code in active]
    total, buckets, acc = sum(weights), [], 0
    for code, weight in zip(active, weights):
        low, acc = round(1000 * acc / total), acc + weight
        buckets += [code] * (round(1000 * acc / total) - low)
    return list(range(len(buckets))), buckets


def build(conn, p: Params, dense_area: str, categories: list[dict], timings: dict) -> None:
    s, seed = SCRATCH, p.seed
    numbers, codes = category_buckets(categories)
    run(conn, "story", f"""
        CREATE UNLOGGED TABLE {s}.buckets AS
        SELECT b, c.code, c.duty, c.deadline_hours, c.escalate_after_hours AS eah, c.response_hours AS rh,
               c.priority AS cat_priority, c.resident_choice, c.name_zh AS cat_name
        FROM unnest(%(b)s::int[], %(code)s::text[]) AS x(b, code) JOIN categories c ON c.code = x.code
    """, {"b": numbers, "code": codes}, timings)
    regular = p.incidents - p.dense_total
    weight = f"exp(0.9 * {normal('a.town_id', 20, seed)} + 0.6 * {normal('g.id', 22, seed)})"
    run(conn, "story", f"""
        CREATE UNLOGGED TABLE {s}.loads AS
        WITH w AS (
            SELECT g.id AS grid_id, g.area_id, a.town_id, a.code = %(dense)s AS dense, g.geom, {weight} AS w
            FROM grids g JOIN areas a ON a.id = g.area_id
        ), c AS (
            SELECT *, sum(w) OVER (PARTITION BY dense ORDER BY grid_id) AS cum FROM w
        ), h AS (
            SELECT *, floor(CASE WHEN dense THEN {p.dense_total} ELSE {regular} END
                            * (cum / max(cum) OVER (PARTITION BY dense)))::int AS hi FROM c
        )
        SELECT grid_id, area_id, town_id, dense, geom,
               hi - lag(hi, 1, 0) OVER (PARTITION BY dense ORDER BY grid_id) AS cnt,
               lag(hi, 1, 0) OVER (PARTITION BY dense ORDER BY grid_id) + CASE WHEN dense THEN {regular} ELSE 0 END
                   AS first
        FROM h
    """, {"dense": dense_area}, timings)
    run(conn, "story", f"""
        CREATE UNLOGGED TABLE {s}.base AS
        SELECT l.first + d.path[1] - 1 AS n, l.grid_id, l.area_id, l.town_id, l.dense,
               l.dense AND l.first + d.path[1] - 1 - {regular} < {p.dense_open} AS open_part, d.geom
        FROM {s}.loads l CROSS JOIN LATERAL ST_Dump(ST_GeneratePoints(l.geom, l.cnt, {seed * 100_000} + l.grid_id)) d
        WHERE l.cnt > 0
    """, None, timings)
    run(conn, "story", _story_sql(p), _story_params(p), timings)


def _story_params(p: Params) -> dict:
    return {"midnight": p.local_midnight, "tz": p.timezone, "now": p.built_at}


def _story_sql(p: Params) -> str:
    s, seed = SCRATCH, p.seed

    def r(salt: int) -> str:
        return u("b.n", salt, seed)
    a_duties = ", ".join(f"'{d}'" for d in WORKERS["a"])    # the rest of the duties: b's, else c's (else a's)
    b_duties = ", ".join(f"'{d}'" for d in WORKERS["b"])
    resident, phone, open311 = (limit for _, limit in CHANNELS)
    lag1, lag2 = (f"make_interval(secs => 5 + 55 * {r(salt)})" for salt in (27, 28))   # the sweep runs each minute
    # Each step is a LATERAL subquery kept apart by OFFSET 0: inlined, every later reference would
    # copy the earlier steps' expressions, and the plan grows exponentially with the steps.
    return f"""
    CREATE UNLOGGED TABLE {s}.story AS
    SELECT b.n, b.grid_id, b.area_id, b.town_id, b.geom, b.dense, b.open_part, cr.grid_code, cr.area_code,
           cr.town_code, cr.area_name, cr.a_name, cr.leader_id, cr.leader_name, cr.admin_id, cr.admin_name,
           k.code AS category_code, k.duty, k.eah, k.rh, k.cat_name,
           w1.channel, w2.priority, w2.due_h, w3.handler, w3.assignee_id, w3.assignee_name, w3.assigned_as, w3.rule,
           w4.reporter_id, w4.reporter_name, w5.c, w5.observed_at, w6.stuck, w6.declined, w6.cancelled,
           w6.by_leader, w7.reg_at, w7.decline_at, w7.d0, w8.ext_h, w8.ext_at, w8.cancel_at, w8.canceller_id,
           w9.acc_at, w9.res1, w9.man_at, w9.comment_at, w9.commenter_id, w10.e1, w10.trig1, w10.e2, w10.p1, w10.p2,
           w11.returned, w11.close1, w11.rw1, w12.rating, w12.rate_at, w12.via, w12.review, w12.rv_at,
           w13.rework_at, w13.res2, w13.close2, w13.e3, w13.e4,
           CASE WHEN w1.channel <> 'staff' THEN
               '1' || {pick(['3', '5', '8'], 'b.n', 70, seed)} || lpad(floor({r(71)} * 1e9)::bigint::text, 9, '0')
           END AS contact_phone,
           CASE WHEN w1.channel <> 'staff' AND {r(72)} < 0.6 THEN
               {pick(SURNAMES, 'b.n', 73, seed)} || {pick(['先生', '女士'], 'b.n', 74, seed)} END AS contact_name
    FROM {s}.base b
    JOIN {s}.crew cr ON cr.grid_id = b.grid_id
    JOIN {s}.buckets k ON k.b = floor({r(1)} * 1000)::int
    CROSS JOIN LATERAL (SELECT CASE
        WHEN {r(2)} < {resident} AND k.resident_choice THEN 'resident'
        WHEN {r(2)} >= {resident} AND {r(2)} < {phone} THEN 'phone'
        WHEN {r(2)} >= {phone} AND {r(2)} < {open311} AND k.resident_choice THEN 'open311'
        ELSE 'staff' END AS channel OFFSET 0) w1
    CROSS JOIN LATERAL (SELECT pr AS priority,
        CASE WHEN pr = 'urgent' THEN least(k.deadline_hours, {URGENT_DEADLINE_HOURS}) ELSE k.deadline_hours END AS due_h
        FROM (SELECT CASE WHEN k.cat_priority = 'urgent' OR (w1.channel = 'staff' AND {r(3)} < {URGENT_BY_STAFF})
                          THEN 'urgent' ELSE 'normal' END AS pr OFFSET 0) x OFFSET 0) w2
    CROSS JOIN LATERAL (SELECT h AS handler,
        CASE h WHEN 'a' THEN cr.a_id WHEN 'b' THEN cr.b_id ELSE cr.c_id END AS assignee_id,
        CASE h WHEN 'a' THEN cr.a_name WHEN 'b' THEN cr.b_name ELSE cr.c_name END AS assignee_name,
        CASE WHEN h = 'a' AND k.duty NOT IN ({a_duties}) THEN 'general' ELSE k.duty END AS assigned_as,
        CASE WHEN h = 'a' AND k.duty NOT IN ({a_duties}) THEN 'general_primary' ELSE 'duty_primary' END AS rule
        FROM (SELECT CASE WHEN k.duty IN ({a_duties}) THEN 'a' WHEN k.duty IN ({b_duties}) THEN 'b'
                          WHEN cr.c_id IS NOT NULL THEN 'c' ELSE 'a' END AS h OFFSET 0) x OFFSET 0) w3
    CROSS JOIN LATERAL (SELECT
        CASE w1.channel WHEN 'staff' THEN CASE WHEN {r(4)} < 0.72 THEN w3.assignee_id
                                               WHEN {r(4)} < 0.95 THEN CASE WHEN w3.handler = 'a' THEN cr.b_id ELSE cr.a_id END
                                               ELSE cr.leader_id END
                        WHEN 'phone' THEN cr.a_id END AS reporter_id,
        CASE w1.channel WHEN 'staff' THEN CASE WHEN {r(4)} < 0.72 THEN w3.assignee_name
                                               WHEN {r(4)} < 0.95 THEN CASE WHEN w3.handler = 'a' THEN cr.b_name ELSE cr.a_name END
                                               ELSE cr.leader_name END
                        WHEN 'phone' THEN cr.a_name END AS reporter_name OFFSET 0) w4
    CROSS JOIN LATERAL (SELECT c,
        CASE WHEN w1.channel <> 'staff' THEN c WHEN {r(8)} < 0.02 THEN c - {hours(f'6 * {r(9)}')}
             ELSE c - make_interval(secs => 600 * power({r(9)}, 3)) END AS observed_at
        FROM (SELECT CASE WHEN c0 > %(now)s::timestamptz - interval '5 minutes' THEN c0 - interval '1 day' ELSE c0 END AS c
              FROM (SELECT (%(midnight)s::timestamp
                            - make_interval(days => CASE WHEN b.open_part THEN 25 + floor(125 * {r(5)})
                                                         WHEN b.dense THEN 35 + floor(330 * {r(5)})
                                                         ELSE floor(365 * {r(5)}) END::int)
                            + make_interval(secs => CASE WHEN {r(6)} < 0.40 THEN 30600 + 12600 * {r(7)}
                                                         WHEN {r(6)} < 0.45 THEN 43200 + 7200 * {r(7)}
                                                         WHEN {r(6)} < 0.83 THEN 50400 + 14400 * {r(7)}
                                                         WHEN {r(6)} < 0.96 THEN 64800 + 14400 * {r(7)}
                                                         ELSE 79200 + 37800 * {r(7)} END)) AT TIME ZONE %(tz)s AS c0 OFFSET 0) y OFFSET 0) x OFFSET 0) w5
    CROSS JOIN LATERAL (SELECT st AS stuck,
        CASE WHEN NOT st THEN NULL WHEN w1.channel <> 'staff' AND {r(11)} < 0.3 THEN 'register'
             WHEN {r(11)} < 0.45 THEN 'rework' ELSE 'work' END AS stuck_mode,
        NOT st AND {r(12)} < {UNVERIFIED} AS unverified,
        w1.channel <> 'staff' AND NOT st AND {r(13)} < {DECLINED} AS declined,
        w1.channel = 'staff' AND NOT st AND {r(13)} < {CANCELLED} AS cancelled,
        {r(15)} < 0.4 AS by_leader
        FROM (SELECT b.open_part OR (NOT b.dense AND {r(10)} < {STUCK}) AS st OFFSET 0) x OFFSET 0) w6
    CROSS JOIN LATERAL (SELECT reg_at, decline_at, CASE WHEN w1.channel = 'staff' THEN w5.c ELSE reg_at END AS d0
        FROM (SELECT
            CASE WHEN w1.channel = 'staff' OR w6.declined OR w6.stuck_mode = 'register' THEN NULL
                 ELSE w5.c + {hours(f"k.rh * CASE WHEN {r(14)} < 0.12 THEN 1.05 + 2 * {r(16)} ELSE 0.05 + 0.9 * {r(16)} END")}
            END AS reg_at,
            CASE WHEN w6.declined THEN w5.c + {hours(f'k.rh * 0.8 * {r(16)}')} END AS decline_at OFFSET 0) x OFFSET 0) w7
    CROSS JOIN LATERAL (SELECT ext_h, CASE WHEN ext_h > 0 THEN w7.d0 + {hours('0.7 * w2.due_h')} END AS ext_at,
        CASE WHEN w6.cancelled THEN w7.d0 + make_interval(secs => 120 + 720 * w2.due_h * {r(23)}) END AS cancel_at,
        CASE WHEN w6.cancelled THEN CASE WHEN {r(20)} < 0.3 THEN w4.reporter_id ELSE cr.leader_id END END AS canceller_id
        FROM (SELECT CASE WHEN w7.d0 IS NULL OR w2.priority = 'urgent' OR w6.cancelled THEN 0
                          WHEN w6.stuck_mode = 'rework' THEN 0   -- its 返工 happens before now: it stays open
                          WHEN b.open_part AND {r(17)} < 0.3 THEN 24 * (20 + floor(40 * {r(18)}))
                          WHEN NOT b.open_part AND {r(17)} < 0.04 THEN 24 * (1 + floor(3 * {r(18)}))
                          ELSE 0 END::int AS ext_h OFFSET 0) x OFFSET 0) w8
    CROSS JOIN LATERAL (SELECT acc_at, res1,
        CASE WHEN manual THEN w7.d0 + 0.3 * least(coalesce(res1 - w7.d0, {hours('w2.due_h')}), {hours('w2.due_h')})
                              + interval '1 minute' END AS man_at,
        CASE WHEN w7.d0 IS NOT NULL AND {r(25)} < 0.10 THEN
            w7.d0 + (least(coalesce(w8.cancel_at, res1, 'infinity'), w7.d0 + {hours('w2.due_h')}) - w7.d0) * 0.5 END
            AS comment_at,
        CASE WHEN {r(26)} < 0.3 THEN cr.leader_id ELSE w3.assignee_id END AS commenter_id
        FROM (SELECT acc_at,
                CASE WHEN w7.d0 IS NULL OR w6.cancelled OR w6.stuck_mode IN ('work', 'register') THEN NULL
                     ELSE greatest(w7.d0 + {hours(f"(w2.due_h + w8.ext_h) * least(4, greatest(0.03, exp(ln(0.45) + 0.6 * {normal('b.n', 30, seed)})))")},
                                   acc_at + interval '5 minutes', w8.ext_at + interval '10 minutes') END AS res1,
                w2.priority = 'normal' AND w7.d0 IS NOT NULL AND NOT w6.cancelled AND w8.ext_h = 0
                    AND {r(24)} < 0.03 AS manual
              FROM (SELECT CASE WHEN w7.d0 IS NULL OR {r(21)} >= 0.85 OR (w6.cancelled AND {r(20)} < 0.3) THEN NULL
                                ELSE w7.d0 + make_interval(secs => 60 + 1080 * w2.due_h * power({r(22)}, 2)) END AS a OFFSET 0) y
              CROSS JOIN LATERAL (SELECT CASE WHEN y.a < w8.cancel_at THEN y.a WHEN w8.cancel_at IS NULL THEN y.a END
                                         AS acc_at OFFSET 0) z OFFSET 0) x OFFSET 0) w9
    CROSS JOIN LATERAL (SELECT e1, trig1,
        CASE WHEN e1 + {hours('k.eah')} + lag2 < least(end1, %(now)s) THEN e1 + {hours('k.eah')} + lag2 END AS e2,
        p1, CASE WHEN p1 + {hours('k.eah')} + lag2 < least(end0, %(now)s) THEN p1 + {hours('k.eah')} + lag2 END AS p2
        FROM (SELECT end1, end0, lag2,
                CASE WHEN w7.d0 IS NULL THEN NULL WHEN w1.channel = 'staff' AND w2.priority = 'urgent' THEN w5.c
                     WHEN w9.man_at IS NOT NULL THEN w9.man_at
                     WHEN w7.d0 + {hours('w2.due_h + w8.ext_h')} + lag1 < least(end1, %(now)s)
                         THEN w7.d0 + {hours('w2.due_h + w8.ext_h')} + lag1 END AS e1,
                CASE WHEN w7.d0 IS NULL THEN NULL WHEN w1.channel = 'staff' AND w2.priority = 'urgent' THEN 'urgent'
                     WHEN w9.man_at IS NOT NULL THEN 'manual' ELSE 'overdue' END AS trig1,
                CASE WHEN w1.channel <> 'staff' AND w5.c + {hours('k.rh')} + lag1 < least(end0, %(now)s)
                     THEN w5.c + {hours('k.rh')} + lag1 END AS p1
              FROM (SELECT coalesce(w8.cancel_at, w9.res1, 'infinity') AS end1,
                           coalesce(w7.decline_at, w7.reg_at, 'infinity') AS end0,
                           {lag1} AS lag1,
                           {lag2} AS lag2 OFFSET 0) y OFFSET 0) x OFFSET 0) w10
    CROSS JOIN LATERAL (SELECT returned,
        CASE WHEN w9.res1 IS NOT NULL AND NOT w6.unverified AND NOT returned THEN v_at END AS close1,
        CASE WHEN returned THEN v_at END AS rw1
        FROM (SELECT w9.res1 + make_interval(secs => 3600 * (0.3 + 30 * power({r(29)}, 3))) AS v_at,
                     w9.res1 IS NOT NULL AND NOT w6.unverified
                         AND (w6.stuck_mode IS NOT DISTINCT FROM 'rework' OR (NOT w6.stuck AND {r(31)} < {RETURNED})) AS returned OFFSET 0) x OFFSET 0) w11
    CROSS JOIN LATERAL (SELECT rating, rate_at, via,
        CASE WHEN rating = 'unsatisfied' THEN CASE WHEN NOT w11.returned AND {r(37)} < 0.4 THEN 'reopened'
                                                   WHEN {r(37)} < 0.8 THEN 'confirmed' END END AS review,
        rate_at + make_interval(secs => 3600 * (2 + 100 * {r(38)})) AS rv_at
        FROM (SELECT CASE WHEN {r(35)} < 0.72 THEN 'satisfied' WHEN {r(35)} < 0.91 THEN 'basically'
                          ELSE 'unsatisfied' END AS rating,
                     CASE WHEN {r(36)} < 0.3 THEN 'phone' ELSE 'web' END AS via,
                     CASE WHEN w1.channel <> 'staff' AND {r(33)} < 0.65 THEN
                         coalesce(CASE WHEN w11.returned AND NOT w6.stuck THEN w11.rw1 + {hours(f'w2.due_h * (0.2 + 0.6 * {r(39)})')}
                                       + make_interval(secs => 3600 * (0.3 + 30 * power({r(40)}, 3))) END, w11.close1)
                         + make_interval(secs => 3600 * (0.5 + 100 * {r(34)})) END AS rate_at OFFSET 0) x OFFSET 0) w12
    CROSS JOIN LATERAL (SELECT rework_at, res2, res2 + make_interval(secs => 3600 * (0.3 + 30 * power({r(40)}, 3))) AS close2,
        e3, CASE WHEN e3 + {hours('k.eah')} + {lag2} < least(coalesce(res2, 'infinity'), %(now)s)
                 THEN e3 + {hours('k.eah')} + {lag2} END AS e4
        FROM (SELECT rework_at, res2,
                CASE WHEN rework_at + {hours('w2.due_h')} + {lag1} < least(coalesce(res2, 'infinity'), %(now)s)
                     THEN rework_at + {hours('w2.due_h')} + {lag1} END AS e3
              FROM (SELECT rework_at, CASE WHEN NOT w6.stuck THEN rework_at + {hours(f'w2.due_h * (0.2 + 0.6 * {r(39)})')} END AS res2
                    FROM (SELECT coalesce(w11.rw1, CASE WHEN w12.review = 'reopened' THEN w12.rv_at END) AS rework_at
                          OFFSET 0) y OFFSET 0) x OFFSET 0) z OFFSET 0) w13
    """
