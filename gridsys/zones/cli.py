"""flask --app gridsys zones import|export|coverage|locate."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from .. import db
from ..commands import read_only, transactional
from ..errors import GridsysError
from . import services, transfer
from .models import LEVELS

zones_cli = AppGroup("zones", help="Towns, areas and grids: import, export, coverage.")


@zones_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--reason", default="", help="Why, kept in each revision (none by default: the revision "
                                           "already says it is an import).")
@click.option("--actor", default="cli", help="Who, kept in each revision.")
@transactional
def zones_import(path, reason, actor):
    """Import a GeoJSON FeatureCollection (features carry level, code, name). All or nothing."""
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise GridsysError("file_unreadable", f"cannot read {path}: {exc.strerror}")
    counts = transfer.import_zones(db.session(), transfer.load_json(raw), actor=actor, reason=reason)
    for level, c in counts.items():
        click.echo(f"{level}: {c['created']} created, {c['updated']} updated, {c['unchanged']} unchanged")


@zones_cli.command("export")
@click.option("--level", type=click.Choice(LEVELS), help="Only this level.")
@click.option("--town", "town_code", help="Only this town (9-digit code).")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="File (default: stdout).")
@click.option("--quiet", is_flag=True, help="Nothing on stderr but errors (progress is written with --out only).")
@click.option("--every", type=click.IntRange(min=1), default=5000, show_default=True,
              help="Progress every N features.")
@read_only
def zones_export(level, town_code, out, quiet, every):
    """Write RFC 7946 GeoJSON (readable by GDAL/QGIS), streamed feature by feature."""
    session = db.session()
    features = transfer.iter_features(session, level=level, town_code=town_code)
    if not out:
        transfer.write_collection(features, lambda chunk: click.echo(chunk, nl=False))
        click.echo()
        return
    progress = None
    if not quiet:
        total = transfer.count_zones(session, level=level, town_code=town_code)
        progress = lambda n: click.echo(f"{n}/{total} features ({100 * n // max(total, 1)} %)", err=True)
    target = Path(out)
    # A regular file is written beside and renamed at the end: a failed export leaves it as it was.
    direct = target.exists() and not target.is_file()
    part = target if direct else target.with_name(target.name + ".part")
    try:
        with part.open("w", encoding="utf-8") as fh:
            count = transfer.write_collection(features, fh.write, progress=progress, every=every)
        if not direct:
            os.replace(part, target)
    except OSError as exc:
        raise GridsysError("file_unwritable", f"cannot write {out}: {exc.strerror}")
    finally:
        if not direct:
            part.unlink(missing_ok=True)
    if not quiet:
        click.echo(f"{count} features written to {out}", err=True)


@zones_cli.command("coverage")
@click.option("--town", "town_code", help="Only this town (9-digit code).")
def zones_coverage(town_code):
    """Coverage, gaps and overlaps per town (by areas) and per area (by grids)."""
    rows = services.coverage(db.session(), town_code)
    click.echo(f"{'level':<6} {'code':<15} {'children':>8} {'coverage':>9} {'gap m²':>12} "
               f"{'overlap m²':>11}  name")
    for r in rows:
        click.echo(f"{r.level:<6} {r.code:<15} {r.children:>8} {r.coverage_pct:>8.2f}% "
                   f"{r.gap_m2:>12.0f} {r.overlap_m2:>11.0f}  {r.name}")


@zones_cli.command("locate")
@click.argument("lon", type=float)
@click.argument("lat", type=float)
def zones_locate(lon, lat):
    """Which grid, area and town cover a point (longitude latitude)."""
    try:
        where = services.locate(db.session(), lon, lat)
    except GridsysError as exc:
        click.echo(f"error {exc.code}: {exc.message}", err=True)
        sys.exit(1)
    click.echo(f"town {where.town.code} {where.town.name}")
    if where.area:
        click.echo(f"area {where.area.code} {where.area.name}")
    if where.grid:
        click.echo(f"grid {where.grid.code} {where.grid.name}")
    else:
        click.echo(f"no grid here: falls back to the {where.level} (属地兜底)")
