"""GeoJSON (RFC 7946) import and export of towns, areas and grids.

Import is all or nothing: every feature is parsed and validated first (structure, code,
geometry, parent present), then all are written inside one savepoint level by level and
checked against the database; the first refusal names the feature and undoes everything.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from .. import geo
from ..inputs import has_visible, parse_json
from ..errors import GridsysError
from . import services
from .models import LEVELS, MODELS


@dataclass
class ZoneFeature:
    index: int
    level: str
    code: str
    name: str
    name_en: str | None
    geom: object


class ImportRefused(GridsysError):
    """A feature of an import file was refused; ``feature_index`` and ``feature_code`` say which."""


def _refuse(index: int, code, exc: GridsysError) -> ImportRefused:
    label = f"feature #{index}" + (f" (code {code})" if code else "")
    details = {k: v for k, v in exc.details.items()}
    return ImportRefused(exc.code, f"{label}: {exc.message}; nothing was imported",
                         feature_index=index, feature_code=code, **details)


def load_json(text: str | bytes) -> dict:
    """A GeoJSON file, read and checked like any JSON input (nesting, NUL, broken characters)."""
    return parse_json(text, "file_not_json", "the file", status=422)


def parse_features(session: Session, data) -> list[ZoneFeature]:
    """Validate a whole FeatureCollection without writing; return features parents-first."""
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise GridsysError("not_feature_collection", "expected a GeoJSON FeatureCollection")
    geo.check_crs(data)
    raw = data.get("features")
    if not isinstance(raw, list) or not raw:
        raise GridsysError("no_features", "the FeatureCollection has no features")
    features: list[ZoneFeature] = []
    seen: dict[str, int] = {}
    for index, feat in enumerate(raw):
        props = feat.get("properties") if isinstance(feat, dict) else None
        code = props.get("code") if isinstance(props, dict) else None
        try:
            if not isinstance(feat, dict) or feat.get("type") != "Feature" or not isinstance(props, dict):
                raise GridsysError("feature_malformed", "each feature needs \"type\": \"Feature\" and "
                                                        "a properties object")
            level = props.get("level")
            if level not in LEVELS:
                raise GridsysError("level_unknown", f"properties.level must be one of "
                                                    f"{', '.join(LEVELS)}; got {level!r}")
            services.check_code(level, code)
            if code in seen:
                raise GridsysError("duplicate_code", f"code {code} already appears in feature #{seen[code]}")
            name = props.get("name")
            if not isinstance(name, str) or not has_visible(name) or len(name.strip()) > 100:
                raise GridsysError("name_invalid", "properties.name must be 1 to 100 characters")
            name_en = props.get("name_en")
            if name_en is not None and (not isinstance(name_en, str) or len(name_en) > 100):
                raise GridsysError("name_invalid", "properties.name_en must be text of at most 100 characters")
            geom = geo.parse_geometry(feat.get("geometry"), services.EXPECTED_TYPE[level])
        except GridsysError as exc:
            raise _refuse(index, code, exc) from None
        seen[code] = index
        features.append(ZoneFeature(index, level, code, name.strip(), name_en, geom))
    for feat in features:
        pcode = services.parent_code(feat.level, feat.code)
        if pcode and pcode not in seen and services.get_zone(
                session, services.PARENT_LEVEL[feat.level], pcode) is None:
            raise _refuse(feat.index, feat.code, GridsysError(
                "parent_not_found", f"its {services.PARENT_LEVEL[feat.level]} {pcode} is neither in "
                                    "the file nor in the database"))
    features.sort(key=lambda f: (LEVELS.index(f.level), f.index))
    return features


def import_zones(session: Session, data, *, actor: str, reason: str = "") -> dict:
    """Import a FeatureCollection atomically; returns counts of created/updated per level."""
    features = parse_features(session, data)
    counts = {level: {"created": 0, "updated": 0, "unchanged": 0} for level in LEVELS}
    written = []
    with session.begin_nested():
        for feat in features:  # parents first, so children find them
            existed = services.get_zone(session, feat.level, feat.code)
            before = (existed.version, existed.name, existed.name_en) if existed else None
            try:
                zone = services.write_zone(session, feat.level, feat.code, feat.name, feat.geom,
                                           actor=actor, reason=reason, name_en=feat.name_en,
                                           action="import")
            except GridsysError as exc:
                raise _refuse(feat.index, feat.code, exc) from None
            key = "created" if before is None else \
                "unchanged" if before == (zone.version, zone.name, zone.name_en) else "updated"
            counts[feat.level][key] += 1
            written.append((feat, zone))
        # Checked once everything is in place (swaps of siblings work), one rule at a time so the
        # refusal names the faulty feature: a spilling child before its parent's "children outside",
        # the later of two overlapping features (hence reversed) rather than the earlier.
        for check, order in ((services.check_within_parent, written),
                             (services.check_no_sibling_overlap, written[::-1]),
                             (services.check_children_within, written)):
            for feat, zone in order:
                try:
                    check(session, zone)
                except GridsysError as exc:
                    raise _refuse(feat.index, feat.code, exc) from None
    return counts


# RFC 7946 geometry made by the database, so an export never holds more than one feature's shapely
# objects or JSON: exterior rings counter-clockwise and holes clockwise (as geo.to_geojson orients
# them), 17 decimals, which give the same doubles as the stored ones for every |coordinate| >= 0.1.
# Nearer 0 a 17-decimal text can lose digits: a feature whose box comes that near 0 (none in China)
# also brings its geometry and goes through geo.to_geojson, so the output is exactly today's.
NEAR_ZERO = 0.1


def _geojson_columns(model):
    geom = model.geom
    near_zero = or_(and_(func.ST_XMin(geom) < NEAR_ZERO, func.ST_XMax(geom) > -NEAR_ZERO),
                    and_(func.ST_YMin(geom) < NEAR_ZERO, func.ST_YMax(geom) > -NEAR_ZERO))
    return (func.ST_AsGeoJSON(func.ST_ForcePolygonCCW(geom), 17, 0).label("geojson"),
            case((near_zero, geom)).label("near_zero_geom"))


def _level_query(lvl: str, columns, level, town_code, visible):
    if level and lvl != level:
        return None
    model = MODELS[lvl]
    query = select(*columns(model)).select_from(model)
    if town_code:
        query = query.where(model.code.startswith(town_code))
    if model is MODELS["grid"]:
        query = query.where(model.retired_at.is_(None))
    if visible is not None:
        query = query.where(visible(model))
    return query


def count_zones(session: Session, level: str | None = None, town_code: str | None = None,
                visible=None) -> int:
    """How many features ``iter_features`` gives for the same arguments."""
    total = 0
    for lvl in LEVELS:
        query = _level_query(lvl, lambda m: (func.count(),), level, town_code, visible)
        if query is not None:
            total += session.scalar(query)
    return total


def iter_features(session: Session, level: str | None = None, town_code: str | None = None,
                  visible=None, *, batch: int = 500):
    """The export's features one by one (parents first, by code), read through a server-side
    cursor ``batch`` rows at a time: memory stays flat whatever the number of zones."""
    for lvl in LEVELS:
        query = _level_query(lvl, lambda m: (m.code, m.name, m.name_en, *_geojson_columns(m)),
                             level, town_code, visible)
        if query is None:
            continue
        query = query.order_by(MODELS[lvl].code).execution_options(yield_per=batch)
        for code, name, name_en, geojson, near_zero_geom in session.execute(query):
            yield {
                "type": "Feature",
                "id": code,
                "properties": {"level": lvl, "code": code, "name": name, "name_en": name_en,
                               "parent_code": services.parent_code(lvl, code)},
                # parse_int: a whole coordinate stays a float (106.0, as Python writes it, not 106)
                "geometry": geo.to_geojson(geo.from_db(near_zero_geom)) if near_zero_geom is not None
                else json.loads(geojson, parse_int=float),
            }


def write_collection(features, write, *, progress=None, every: int = 5000) -> int:
    """Write the features as one FeatureCollection, the same text as ``json.dumps`` of the whole
    (``ensure_ascii=False``), through ``write`` in chunks of about 256 KB; ``progress(n)`` is called
    every ``every`` features. Returns the number written."""
    chunk: list[str] = ['{"type": "FeatureCollection", "features": [']
    size = n = 0
    for n, feature in enumerate(features, 1):
        text = json.dumps(feature, ensure_ascii=False)
        chunk.append(text if n == 1 else ", " + text)
        size += len(text)
        if size >= 256 * 1024:
            write("".join(chunk))
            chunk, size = [], 0
        if progress is not None and n % every == 0:
            progress(n)
    chunk.append("]}")
    write("".join(chunk))
    return n


def export_zones(session: Session, level: str | None = None, town_code: str | None = None,
                 visible=None) -> dict:
    """RFC 7946 FeatureCollection of the zones (parents first), readable by GDAL/QGIS.
    ``visible(model)`` gives the SQL condition of what the caller may see (people's scope)."""
    return {"type": "FeatureCollection",
            "features": list(iter_features(session, level, town_code, visible))}
