"""The city's people: an administrator per town (and one for the whole city, ``admin``), a leader
per area, and three workers per grid who between them hold every duty, as the demo town has them
(``a``: general, civilization, safety; ``b``: civil affairs, culture; ``c``: legal, counseling).
One grid in fifty has no ``c`` worker, so its legal and counseling reports go to its general
worker. Usernames carry the zone code: ``a<town>``, ``l<area>``, ``w<grid><a|b|c>``. Every
account has the same password (``city.PASSWORD``), hashed once."""
from __future__ import annotations

from .city_sql import SCRATCH, Params, pick, run, u

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余")
GIVEN = list("建国秀英志强桂兰海燕明军丽华春梅文杰德晓红永福玉珍庆淑芬俊平霞伟东")
WORKERS = {"a": ("general", "civilization", "safety"), "b": ("civil_affairs", "culture"), "c": ("legal", "counseling")}
NO_C_WORKER = 0.02


def build(conn, p: Params, timings: dict) -> None:
    s, seed, towns = SCRATCH, p.seed, p.towns
    name = (f"{pick(SURNAMES, 'id', 10, seed)} || {pick(GIVEN, 'id', 11, seed)} || "
            f"CASE WHEN {u('id', 12, seed)} < 0.7 THEN {pick(GIVEN, 'id', 13, seed)} ELSE '' END")
    letters = ", ".join(f"('{letter}', {n})" for n, letter in enumerate(WORKERS, start=1))
    run(conn, "people", f"""
        CREATE UNLOGGED TABLE {s}.people AS
        SELECT 1 AS id, 'admin' AS username, 'admin' AS role, NULL::int AS town_id, NULL::int AS area_id,
               NULL::int AS grid_id, NULL::text AS letter
        UNION ALL
        SELECT 1 + id, 'a' || code, 'admin', id, NULL, NULL, NULL FROM towns
        UNION ALL
        SELECT 1 + {towns} + id, 'l' || code, 'area_leader', NULL, id, NULL, NULL FROM areas
        UNION ALL
        SELECT 1 + {towns * 6} + (g.id - 1) * 3 + w.n, 'w' || g.code || w.letter, 'grid_worker', NULL, NULL, g.id,
               w.letter
        FROM grids g CROSS JOIN (VALUES {letters}) AS w(letter, n)
        WHERE w.letter <> 'c' OR {u('g.id', 14, seed)} >= {NO_C_WORKER}
    """, None, timings)
    run(conn, "people", f"""
        INSERT INTO users (id, username, display_name, phone, phone_public, password_hash, created_at)
        SELECT id, username,
               {name} || CASE role WHEN 'admin' THEN '（管理员）' WHEN 'area_leader' THEN '（包片领导）' ELSE '' END,
               '13' || lpad(mod(id::bigint * 7919, 1000000000)::text, 9, '0'),
               role = 'grid_worker' AND {u('id', 15, seed)} < 0.3, %(hash)s,
               %(since)s::timestamptz
        FROM {s}.people ORDER BY id
    """, {"hash": p.password_hash, "since": p.built_at.replace(microsecond=0) - (p.built_at - p.start) * 1.1},
        timings)
    run(conn, "people", f"INSERT INTO user_roles (user_id, role) SELECT id, role FROM {s}.people", None, timings)
    since = "(SELECT min(created_at) FROM users)"
    run(conn, "people", f"""
        INSERT INTO town_admins (user_id, town_id, valid_from) SELECT id, town_id, {since} FROM {s}.people
        WHERE town_id IS NOT NULL ORDER BY id
    """, None, timings)
    run(conn, "people", f"""
        INSERT INTO area_leaders (user_id, area_id, valid_from) SELECT id, area_id, {since} FROM {s}.people
        WHERE area_id IS NOT NULL ORDER BY id
    """, None, timings)
    duties = ", ".join(f"('{letter}', '{duty}')" for letter, held in WORKERS.items() for duty in held)
    run(conn, "people", f"""
        INSERT INTO grid_assignments (user_id, grid_id, duty, valid_from)
        SELECT p.id, p.grid_id, d.duty, {since} FROM {s}.people p JOIN (VALUES {duties}) AS d(letter, duty)
        ON d.letter = p.letter ORDER BY p.id, d.duty
    """, None, timings)
    for table in ("users", "town_admins", "area_leaders", "grid_assignments"):
        run(conn, "people", f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))",
            None, timings)
    # Who works each grid, as the incidents need them: ids and usernames side by side.
    run(conn, "people", f"""
        CREATE UNLOGGED TABLE {s}.crew AS
        SELECT g.id AS grid_id, g.area_id, ar.town_id, g.code AS grid_code, ar.code AS area_code,
               t.code AS town_code, ar.name AS area_name,
               wa.id AS a_id, wa.username AS a_name, wb.id AS b_id, wb.username AS b_name,
               wc.id AS c_id, wc.username AS c_name, l.id AS leader_id, l.username AS leader_name,
               ad.id AS admin_id, ad.username AS admin_name
        FROM grids g JOIN areas ar ON ar.id = g.area_id JOIN towns t ON t.id = ar.town_id
        JOIN {s}.people wa ON wa.grid_id = g.id AND wa.letter = 'a'
        JOIN {s}.people wb ON wb.grid_id = g.id AND wb.letter = 'b'
        LEFT JOIN {s}.people wc ON wc.grid_id = g.id AND wc.letter = 'c'
        JOIN {s}.people l ON l.area_id = g.area_id
        JOIN {s}.people ad ON ad.town_id = ar.town_id
    """, None, timings)
    run(conn, "people", f"CREATE UNIQUE INDEX ON {s}.crew (grid_id)", None, timings)
