"""The city's towns, areas and grids, tiling a region around Chongqing without gaps or overlaps.

One jittered lattice of shared vertices covers the city (cells of 0.008° x 0.007°, about 775 m);
each lattice edge is densified once, with a seeded wobble keyed by the edge, so the two cells on
either side of it get the very same vertices. A cell is a grid (four edges of 25 segments: about
100 vertices); 10 x 10 cells are a town, split into 5 areas of 20 grids by a fixed map turned or
mirrored per town; 8 x 5 towns are a county, and the 25 counties are laid out from the centre
outwards, so a small build stays around 106.5°E 29.5°N.
"""
from __future__ import annotations

import math

from gridsys.geo import STORAGE_SRID

from .city_sql import SCRATCH, Params, run, u

CELL_X, CELL_Y = 0.008, 0.007     # degrees: about 775 m either way at 29.5°N
CENTRE = (106.5, 29.5)
TOWN_CELLS = 10                   # a town is 10 x 10 grids
COUNTY_TOWNS = (8, 5)             # a county is 8 x 5 towns
COUNTY_BLOCKS = 5                 # 5 x 5 counties
JITTER = 0.18                     # of a cell, for each lattice vertex
WOBBLE = 0.05                     # of a cell, for the densified edges
SEGMENTS = 25                     # per edge: 4 x 25 = 100 vertices a grid
# County codes (GB/T 2260, Chongqing), the central districts first.
COUNTIES = ["500106", "500103", "500105", "500108", "500107", "500104", "500112", "500109", "500113",
            "500120", "500117", "500115", "500116", "500110", "500111", "500118", "500119", "500151",
            "500152", "500153", "500102", "500114", "500101", "500154", "500155"]
# The town's five areas, north up (A..E = areas 001..005): each 20 connected cells.
AREA_MAP = ("AAAAABBBBB", "AAAAABBBBB", "AAAACCBBBB", "AAACCCCBBB", "AAACCCCBBB",
            "DDDCCCCEEE", "DDDCCCCEEE", "DDDDCCEEEE", "DDDDDEEEEE", "DDDDDEEEEE")
SYLLABLES_1 = [("青", "qing"), ("歌", "ge"), ("井", "jing"), ("童", "tong"), ("磁", "ci"), ("石", "shi"),
               ("覃", "qin"), ("土", "tu"), ("中", "zhong"), ("回", "hui"), ("凤", "feng"), ("西", "xi"),
               ("曾", "zeng"), ("虎", "hu"), ("陈", "chen"), ("丰", "feng"), ("双", "shuang"), ("天", "tian"),
               ("联", "lian"), ("詹", "zhan"), ("白", "bai"), ("龙", "long"), ("金", "jin"), ("新", "xin"),
               ("桃", "tao"), ("柏", "bai"), ("清", "qing"), ("大", "da"), ("红", "hong"), ("梨", "li"),
               ("莲", "lian"), ("凉", "liang"), ("黄", "huang"), ("竹", "zhu"), ("高", "gao"), ("长", "chang"),
               ("铜", "tong"), ("玉", "yu"), ("安", "an"), ("永", "yong")]
SYLLABLES_2 = [("木", "mu"), ("乐", "le"), ("口", "kou"), ("家", "jia"), ("器", "qi"), ("坡", "po"),
               ("岗", "gang"), ("主", "zhu"), ("梁", "liang"), ("坝", "ba"), ("凰", "huang"), ("永", "yong"),
               ("溪", "xi"), ("桥", "qiao"), ("文", "wen"), ("碑", "bei"), ("星", "xing"), ("芳", "fang"),
               ("湾", "wan"), ("鹤", "he"), ("泉", "quan"), ("山", "shan"), ("街", "jie"), ("源", "yuan"),
               ("林", "lin"), ("河", "he"), ("水", "shui"), ("石", "shi"), ("岩", "yan"), ("树", "shu"),
               ("花", "hua"), ("塘", "tang"), ("桷", "jue"), ("田", "tian"), ("峰", "feng"), ("岭", "ling"),
               ("滩", "tan"), ("场", "chang"), ("坪", "ping"), ("寺", "si")]
AREA_NAMES = [("场镇", "Changzhen"), ("白鹤", "Baihe"), ("龙泉", "Longquan"), ("青杠", "Qinggang"),
              ("石院", "Shiyuan"), ("金凤", "Jinfeng"), ("新街", "Xinjie"), ("桃源", "Taoyuan"),
              ("柏林", "Bailin"), ("双河", "Shuanghe"), ("清水", "Qingshui"), ("大石", "Dashi"),
              ("红岩", "Hongyan"), ("梨树", "Lishu"), ("莲花", "Lianhua"), ("凉水", "Liangshui"),
              ("黄桷", "Huangjue"), ("竹林", "Zhulin"), ("高峰", "Gaofeng"), ("长岭", "Changling")]


def county_blocks() -> list[tuple[int, int]]:
    """The 5 x 5 county blocks, nearest the centre first (then anticlockwise from the east)."""
    mid = COUNTY_BLOCKS // 2
    blocks = [(c, r) for r in range(COUNTY_BLOCKS) for c in range(COUNTY_BLOCKS)]
    return sorted(blocks, key=lambda b: ((b[0] - mid) ** 2 + (b[1] - mid) ** 2,
                                         math.atan2(b[1] - mid, b[0] - mid) % (2 * math.pi)))


def town_rows(p: Params) -> list[dict]:
    """Code, names, lattice position and map orientation of each town (t = 0 … towns - 1)."""
    per_county = COUNTY_TOWNS[0] * COUNTY_TOWNS[1]
    blocks, rows = county_blocks(), []
    for t in range(p.towns):
        county, k = divmod(t, per_county)
        bc, br = blocks[county]
        street = k < 8        # the first 8 of a county are subdistricts (街道 001-008), the rest towns (镇 101-)
        township = k + 1 if street else 100 + k - 7
        s1, s2 = divmod((t * 577) % 1600, 40)
        (z1, p1), (z2, p2) = SYLLABLES_1[s1], SYLLABLES_2[s2]
        rows.append({"t": t, "code": f"{COUNTIES[county]}{township:03d}",
                     "name": z1 + z2 + ("街道" if street else "镇"),
                     "name_en": f"{p1.capitalize()}{p2} {'Subdistrict' if street else 'Town'}",
                     "tc": bc * COUNTY_TOWNS[0] + k % COUNTY_TOWNS[0],
                     "tr": br * COUNTY_TOWNS[1] + k // COUNTY_TOWNS[0], "sym": (t * 5 + p.seed) % 8})
    return rows


def origin() -> tuple[float, float]:
    """Lattice (0, 0) in degrees: the middle of the central county block sits on CENTRE."""
    half_x = COUNTY_BLOCKS * COUNTY_TOWNS[0] * TOWN_CELLS * CELL_X / 2
    half_y = COUNTY_BLOCKS * COUNTY_TOWNS[1] * TOWN_CELLS * CELL_Y / 2
    return CENTRE[0] - half_x, CENTRE[1] - half_y


def build(conn, p: Params, timings: dict) -> None:
    towns = town_rows(p)
    x0, y0 = origin()
    i0, i1 = min(t["tc"] for t in towns) * TOWN_CELLS, (max(t["tc"] for t in towns) + 1) * TOWN_CELLS
    j0, j1 = min(t["tr"] for t in towns) * TOWN_CELLS, (max(t["tr"] for t in towns) + 1) * TOWN_CELLS
    s, seed = SCRATCH, p.seed
    run(conn, "zones", f"""
        CREATE UNLOGGED TABLE {s}.towns_in AS
        SELECT * FROM unnest(%(t)s::int[], %(code)s::text[], %(name)s::text[], %(name_en)s::text[],
                             %(tc)s::int[], %(tr)s::int[], %(sym)s::int[]) AS x(t, code, name, name_en, tc, tr, sym)
    """, {key: [row[key] for row in towns] for key in towns[0]}, timings)
    key = "j::bigint * 100003 + i"
    run(conn, "zones", f"""
        CREATE UNLOGGED TABLE {s}.vertices AS
        SELECT i, j, i + {JITTER} * (2 * {u(key, 1, seed)} - 1) AS x, j + {JITTER} * (2 * {u(key, 2, seed)} - 1) AS y
        FROM generate_series({i0}, {i1}) i, generate_series({j0}, {j1}) j
    """, None, timings)
    # Each edge once, from its lower-left end: horizontal ones wobble in y, vertical ones in x, zero at
    # both ends, so a cell's four edges only meet at its corners.
    ekey = "(e.j::bigint * 100003 + e.i) * 2 + (e.kind = 'v')::int"
    wobble = (f"{WOBBLE} * sin(pi() * t) * (0.5 * sin(2 * pi() * t + 6.2832 * {u(ekey, 3, seed)})"
              f" + 0.3 * sin(5 * pi() * t + 6.2832 * {u(ekey, 4, seed)})"
              f" + 0.2 * sin(11 * pi() * t + 6.2832 * {u(ekey, 5, seed)}))")
    run(conn, "zones", f"""
        CREATE UNLOGGED TABLE {s}.edges AS
        SELECT e.kind, e.i, e.j,
               ST_MakeLine(array_agg(ST_MakePoint({x0} + px * {CELL_X}, {y0} + py * {CELL_Y}) ORDER BY k)) AS line
        FROM (SELECT 'h' AS kind, a.i, a.j, a.x AS ax, a.y AS ay, b.x AS bx, b.y AS by
              FROM {s}.vertices a JOIN {s}.vertices b ON b.i = a.i + 1 AND b.j = a.j
              UNION ALL
              SELECT 'v', a.i, a.j, a.x, a.y, b.x, b.y
              FROM {s}.vertices a JOIN {s}.vertices b ON b.i = a.i AND b.j = a.j + 1) e
        CROSS JOIN generate_series(0, {SEGMENTS}) k
        CROSS JOIN LATERAL (SELECT k::float8 / {SEGMENTS} AS t) tt
        CROSS JOIN LATERAL (SELECT CASE WHEN k IN (0, {SEGMENTS}) THEN 0 ELSE {wobble} END AS d) w
        CROSS JOIN LATERAL (SELECT CASE k WHEN 0 THEN e.ax WHEN {SEGMENTS} THEN e.bx
                                   ELSE e.ax + (e.bx - e.ax) * t + CASE WHEN e.kind = 'v' THEN d ELSE 0 END END AS px,
                                   CASE k WHEN 0 THEN e.ay WHEN {SEGMENTS} THEN e.by
                                   ELSE e.ay + (e.by - e.ay) * t + CASE WHEN e.kind = 'h' THEN d ELSE 0 END END AS py) q
        GROUP BY e.kind, e.i, e.j
    """, None, timings)
    run(conn, "zones", f"CREATE INDEX ON {s}.edges (kind, i, j)", None, timings)
    # A cell's ring, anticlockwise: bottom edge, right edge, the top and left edges reversed.
    # Its area: the town's map, mirrored (sym & 1: east-west, & 2: north-south) and turned (& 4).
    run(conn, "zones", f"""
        CREATE UNLOGGED TABLE {s}.cells AS
        SELECT t.t, c.i, c.j, ascii(substr(%(area_map)s, (9 - m.y) * 10 + m.x + 1, 1)) - 64 AS area_no,
               ST_MakePolygon(ST_MakeLine(ARRAY[b.line, r.line, ST_Reverse(tp.line), ST_Reverse(l.line)])) AS geom
        FROM {s}.towns_in t
        CROSS JOIN generate_series(0, 9) ci CROSS JOIN generate_series(0, 9) cj
        CROSS JOIN LATERAL (SELECT t.tc * 10 + ci AS i, t.tr * 10 + cj AS j) c
        CROSS JOIN LATERAL (SELECT CASE WHEN t.sym & 1 = 1 THEN 9 - ci ELSE ci END AS fx,
                                   CASE WHEN t.sym & 2 = 2 THEN 9 - cj ELSE cj END AS fy) f
        CROSS JOIN LATERAL (SELECT CASE WHEN t.sym & 4 = 4 THEN f.fy ELSE f.fx END AS x,
                                   CASE WHEN t.sym & 4 = 4 THEN f.fx ELSE f.fy END AS y) m
        JOIN {s}.edges b ON b.kind = 'h' AND b.i = c.i AND b.j = c.j
        JOIN {s}.edges r ON r.kind = 'v' AND r.i = c.i + 1 AND r.j = c.j
        JOIN {s}.edges tp ON tp.kind = 'h' AND tp.i = c.i AND tp.j = c.j + 1
        JOIN {s}.edges l ON l.kind = 'v' AND l.i = c.i AND l.j = c.j
    """, {"area_map": "".join(AREA_MAP)}, timings)
    run(conn, "zones", f"""
        CREATE UNLOGGED TABLE {s}.area_geoms AS
        SELECT t, area_no, ST_Multi(ST_Union(geom)) AS geom FROM {s}.cells GROUP BY t, area_no
    """, None, timings)
    _insert_zones(conn, p, timings)


def _insert_zones(conn, p: Params, timings: dict) -> None:
    s = SCRATCH
    names = ", ".join(f"'{zh}'" for zh, _ in AREA_NAMES)
    names_en = ", ".join(f"'{en}'" for _, en in AREA_NAMES)
    run(conn, "zones", f"""
        INSERT INTO towns (id, code, name, name_en, geom)
        SELECT t.t + 1, t.code, t.name, t.name_en, ST_SetSRID(ST_Multi(ST_Union(a.geom)), {STORAGE_SRID})
        FROM {s}.towns_in t JOIN {s}.area_geoms a ON a.t = t.t
        GROUP BY t.t, t.code, t.name, t.name_en ORDER BY t.t
    """, None, timings)
    run(conn, "zones", f"""
        INSERT INTO areas (id, code, name, name_en, town_id, geom)
        SELECT a.t * 5 + a.area_no, t.code || lpad(a.area_no::text, 3, '0'),
               (ARRAY[{names}])[1 + mod(a.t * 7 + a.area_no * 3, 20)] || '片区',
               (ARRAY[{names_en}])[1 + mod(a.t * 7 + a.area_no * 3, 20)] || ' Area',
               a.t + 1, ST_SetSRID(a.geom, {STORAGE_SRID})
        FROM {s}.area_geoms a JOIN {s}.towns_in t ON t.t = a.t ORDER BY 1
    """, None, timings)
    run(conn, "zones", f"""
        INSERT INTO grids (id, code, name, name_en, area_id, geom)
        SELECT row_number() OVER (ORDER BY c.t, c.area_no, c.seq), ar.code || lpad(c.seq::text, 3, '0'),
               replace(ar.name, '片区', '') || '第' || c.seq || '网格',
               replace(ar.name_en, ' Area', '') || ' Grid ' || c.seq, ar.id, ST_SetSRID(c.geom, {STORAGE_SRID})
        FROM (SELECT *, row_number() OVER (PARTITION BY t, area_no ORDER BY j DESC, i) AS seq FROM {s}.cells) c
        JOIN areas ar ON ar.id = c.t * 5 + c.area_no
        ORDER BY 1
    """, None, timings)
    for table in ("towns", "areas", "grids"):
        run(conn, "zones", f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))",
            None, timings)
