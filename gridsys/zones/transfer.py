"""GeoJSON (RFC 7946) import and export of towns, areas and grids.

Import is all or nothing: every feature is parsed and validated first (structure, code,
geometry, parent present), then all are written inside one savepoint level by level and
checked against the database; the first refusal names the feature and undoes everything.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
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


def export_zones(session: Session, level: str | None = None, town_code: str | None = None,
                 visible=None) -> dict:
    """RFC 7946 FeatureCollection of the zones (parents first), readable by GDAL/QGIS.
    ``visible(model)`` gives the SQL condition of what the caller may see (people's scope)."""
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
