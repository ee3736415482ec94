"""`zones export` of four towns of 5 000 grids (20 000 in all), of about 100 vertices: wall time and peak memory of
the streamed export (the real `flask zones export --out` in a child process), beside the former
export (every feature built as shapely, then one json.dumps of the whole), in the same run.
Target (issue 12): constant memory, <= 200 MB for 100 000 grids.

At GRIDSYS_BENCH_SCALE=city both exports read the city of bench/city.py (1 000 towns, 5 000 areas,
100 000 grids of ~100 vertices) as they are: an export only reads, so the dataset is not copied.

Each export runs in its own child process; its peak RSS is that child's own high-water mark (VmHWM).
GRIDSYS_BENCH_EXPORT_GRIDS sets the number of grids (a multiple of 5 000)."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gridsys import geo
from gridsys.zones import services
from gridsys.zones.models import LEVELS, MODELS

from .common import bench_database, city_database, engine_and_session, header, scale
from .seed import CELL, TOWN, seed_town

REPO = Path(__file__).resolve().parent.parent
GRIDS_PER_TOWN = 5_000
SEGMENTS = 25  # per cell edge: 4 x 25 + 1 = 101 positions per grid ring
TARGET_MB = 200


def export_before_streaming(session: Session, level: str | None = None, town_code: str | None = None,
                            visible=None) -> dict:
    """The export as it was before it streamed (the baseline, and the reference of the tests)."""
    features = []
    for lvl in LEVELS:
        if level and lvl != level:
            continue
        model = MODELS[lvl]
        query = select(model).order_by(model.code)
        if town_code:
            query = query.where(model.code.startswith(town_code))
        if model is MODELS["grid"]:
            query = query.where(model.retired_at.is_(None))
        if visible is not None:
            query = query.where(visible(model))
        for zone in session.scalars(query):
            features.append({
                "type": "Feature",
                "id": zone.code,
                "properties": {"level": lvl, "code": zone.code, "name": zone.name,
                               "name_en": zone.name_en,
                               "parent_code": services.parent_code(lvl, zone.code)},
                "geometry": geo.to_geojson(geo.from_db(zone.geom)),
            })
    return {"type": "FeatureCollection", "features": features}


def _baseline_child(out: str) -> None:
    """What `zones export --out FILE` did before it streamed, in the app as the CLI runs it."""
    from gridsys import create_app, db
    with create_app().app_context():
        data = export_before_streaming(db.session())
        Path(out).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def measured(argv: list[str], env: dict) -> dict:
    """Run a child; its wall time, its own peak RSS and its stderr lines. The peak is the child's
    VmHWM (/proc), read every 20 ms while it runs: its rusage ru_maxrss would also count the memory
    of this process when the child was started (the kernel carries it across exec), which after
    the map benchmarks in the same run is gigabytes the export never used."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err)
        peak_kb = 0
        while proc.poll() is None:
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text()
                peak_kb = max(peak_kb, int(status.split("VmHWM:")[1].split()[0]))
            except (OSError, IndexError, ValueError):   # between exec and its first page, or gone
                pass
            time.sleep(0.02)
        wall = time.perf_counter() - start
        err.seek(0)
        lines = err.read().decode("utf-8", "replace").splitlines()
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[2:]} exited {proc.returncode}: {lines[-5:]}")
    return {"s": wall, "rss_mb": peak_kb / 1024, "stderr": lines}


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def seed_towns(session: Session, n: int) -> None:
    """n grids in towns of up to 5 000 (a lattice town's codes stop below 20 000): seed_town's
    lattice, densified, then copied eastwards town after town (ST_Translate)."""
    per_town = min(n, GRIDS_PER_TOWN)
    seed_town(session, per_town)
    # Lattice cells are 5-point clockwise boxes: densified (shared edges stay shared), still
    # clockwise, so every ring is re-oriented on the way out as a real file's might be.
    session.execute(text("UPDATE grids SET geom = ST_Segmentize(geom, :step)"), {"step": CELL / SEGMENTS})
    for k in range(1, n // per_town):
        p = {"base": TOWN, "code": str(int(TOWN) + k), "dx": k * 100 * CELL, "k": str(k + 1)}
        session.execute(text("INSERT INTO towns (code, name, geom) SELECT :code, name || :k, "
                             "ST_Translate(geom, :dx, 0) FROM towns WHERE code = :base"), p)
        session.execute(text("""
            INSERT INTO areas (code, name, town_id, geom)
            SELECT :code || substr(a.code, 10), a.name, (SELECT id FROM towns WHERE code = :code),
                   ST_Translate(a.geom, :dx, 0)
            FROM areas a JOIN towns t ON t.id = a.town_id WHERE t.code = :base"""), p)
        session.execute(text("""
            INSERT INTO grids (code, name, area_id, geom)
            SELECT :code || substr(g.code, 10), g.name, copy.id, ST_Translate(g.geom, :dx, 0)
            FROM grids g JOIN areas a ON a.id = g.area_id JOIN towns t ON t.id = a.town_id
            JOIN areas copy ON copy.code = :code || substr(a.code, 10)
            WHERE t.code = :base"""), p)
    session.execute(text("ANALYZE towns; ANALYZE areas; ANALYZE grids"))


def run() -> dict:
    start = time.perf_counter()
    if scale() == "city":
        header("zones export: the city (100 000 grids)")
        url = city_database()
        engine, session = engine_and_session(url)
    else:
        n = int(os.environ.get("GRIDSYS_BENCH_EXPORT_GRIDS", "20000"))
        header(f"zones export: {n:,} grids of ~{4 * SEGMENTS} vertices")
        url = bench_database("gridsys_bench_export")
        engine, session = engine_and_session(url)
        seed_towns(session, n)
        session.commit()
    grids = session.scalar(select(func.count()).select_from(MODELS["grid"]))
    features = sum(session.scalar(select(func.count()).select_from(MODELS[lvl])) for lvl in LEVELS)
    points = session.scalar(text("SELECT avg(ST_NPoints(geom)) FROM grids"))
    session.close()
    engine.dispose()
    print(f"{grids:,} grids ({points:.0f} points each), ready in {time.perf_counter() - start:.1f} s")

    env = {**os.environ, "DATABASE_URL": url}
    with tempfile.TemporaryDirectory() as tmp:
        streamed_path, baseline_path = Path(tmp, "streamed.geojson"), Path(tmp, "baseline.geojson")
        streamed_argv = [sys.executable, "-m", "flask", "--app", "gridsys", "zones", "export",
                         "--out", str(streamed_path), "--every", "5000"]
        baseline_argv = [sys.executable, "-m", "bench.export", "--baseline", str(baseline_path)]
        runs = {"streamed": [], "baseline": []}
        for name, argv in (("streamed", streamed_argv), ("baseline", baseline_argv), ("streamed", streamed_argv)):
            runs[name].append(measured(argv, env))
        size_mb = streamed_path.stat().st_size / 1e6
        same = digest(streamed_path) == digest(baseline_path)
    progress = [line for line in runs["streamed"][-1]["stderr"] if "%)" in line]
    for name, label in (("streamed", "streamed (server-side cursor, ST_AsGeoJSON)"),
                        ("baseline", "baseline: former export (shapely, one dumps)")):
        for r in runs[name]:
            verdict = f"  target <= 200 MB: {'met' if r['rss_mb'] <= TARGET_MB else 'MISSED'}" if name == "streamed" else ""
            print(f"{label:<48} {r['s']:7.2f} s  peak RSS {r['rss_mb']:7.1f} MB{verdict}")
    print(f"{features:,} features, {size_mb:.1f} MB of GeoJSON; files byte-identical: {same}; "
          f"progress lines on stderr: {len(progress)} (last: {progress[-1] if progress else '-'})")
    best = min(runs["streamed"], key=lambda r: r["s"])
    return {"grids": grids, "streamed_s": best["s"], "streamed_rss_mb": max(r["rss_mb"] for r in runs["streamed"]),
            "baseline_s": runs["baseline"][0]["s"], "baseline_rss_mb": runs["baseline"][0]["rss_mb"],
            "identical": same}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--baseline"]:
        _baseline_child(sys.argv[2])
    else:
        run()
