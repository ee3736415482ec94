"""flask --app gridsys zones import|export|coverage|locate."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from .. import db
from ..commands import transactional
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
def zones_export(level, town_code, out):
    """Write RFC 7946 GeoJSON (readable by GDAL/QGIS)."""
    data = transfer.export_zones(db.session(), level=level, town_code=town_code)
    text = json.dumps(data, ensure_ascii=False)
    if out:
        Path(out).write_text(text, encoding="utf-8")
        click.echo(f"{len(data['features'])} features written to {out}", err=True)
    else:
        click.echo(text)


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
