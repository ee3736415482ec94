"""Hostile cases of the boundary edits: every edit (preview and save) at the door, and broken GeoJSON."""
from __future__ import annotations

from tests.factories import ORIGIN, STEP
from tests.hostile.values import (A1, A2, BOWTIE, CRS_3857, G11, G11_SHAPE, G12, G21, INF_RING, INT4_OVER,
                                  NAN_RING, NOTHING, NUL, SQLISH, SQL_OR, SURROGATE, TOWN, UNCLOSED, api,
                                  box_units, raw_json, shape, too_many_positions)
from tests.test_hostile_entrance import DEEP, nested
from tests.zones.test_geometry_input import SQUARE, polygon

# --- boundary edits (JSON + GeoJSON) ---------------------------------------------------------

def _line_across():
    y = ORIGIN[1] + 2.5 * STEP
    return {"type": "LineString", "coordinates": [[ORIGIN[0] - STEP, y], [ORIGIN[0] + 6 * STEP, y]]}


def _collection(*features, **extra):
    return {"type": "FeatureCollection", "features": list(features), **extra}


def _feature(code, geometry, name="网格"):
    return {"type": "Feature", "properties": {"level": "grid", "code": code, "name": name}, "geometry": geometry}


# A body each edit would take (so that a refusal comes from the one hostile part of a case).
EDITS = {
    "/api/v1/grids/{g}/redraw".format(g=G11): {"geometry": G11_SHAPE},
    "/api/v1/grids/{g}/split".format(g=G11): {"line": _line_across(), "name": "新网格"},
    "/api/v1/grids/{g}/merge".format(g=G11): {"other": G12},
    "/api/v1/grids/{g}/move".format(g=G21): {"area": A1},
    "/api/v1/grids/{g}/delete".format(g=G12): {},
    "/api/v1/grids/{g}/restore".format(g=G11): {"revision": "{g11_revision}"},
    "/api/v1/areas/{a}/grids".format(a=A2): {"geometry": {"type": "Polygon", "coordinates": [box_units(5, 6, 10, 8)]},
                                             "name": "新网格"},
    "/api/v1/areas/{a}/import".format(a=A1): _collection(
        _feature(G11, {"type": "Polygon", "coordinates": [box_units(0, 0, 5, 5)]}),
        _feature(G12, {"type": "Polygon", "coordinates": [box_units(0, 5, 5, 10)]})),
    "/api/v1/areas/{a}/redraw".format(a=A2): {"geometry": {"type": "MultiPolygon",
                                                           "coordinates": [[box_units(5, 0, 10, 8.5)]]}},
    "/api/v1/towns/{t}/redraw".format(t=TOWN): {"geometry": {"type": "MultiPolygon",
                                                             "coordinates": [[box_units(0, 0, 10, 11)]]}},
}
EDIT_ROUTES = [(base + suffix, body) for base, body in EDITS.items() for suffix in ("/preview", "")]
NOT_FOUND = {"grids": "grid_not_found", "areas": "area_not_found", "towns": "town_not_found"}
MISSING_CODE = {"grids": "%27%20OR%20%271%27=%271", "areas": A1[:-3] + "999", "towns": "999999999"}


def edit_cases():
    """Every boundary edit, preview and save: the refusals at the door (nesting, broken text, NUL,
    no JSON object), a person who is not an administrator, a code that names no zone; and a save
    without its preview."""
    cases = []
    for url, body in EDIT_ROUTES:
        name = url.removeprefix("/api/v1/").replace("/", "-")
        kind = url.split("/")[3]
        missing = url.replace(url.split("/")[4], MISSING_CODE[kind])
        cases += [
            api(f"{name}-deep", url, body=DEEP, content_type="application/json", code="json_too_deep"),
            api(f"{name}-deep-in-value", url, body=raw_json(body, reason=nested(100)),
                content_type="application/json", code="json_too_deep"),
            api(f"{name}-surrogate-reason", url, json={**body, "reason": SURROGATE}, code="text_invalid"),
            api(f"{name}-nul-reason", url, json={**body, "reason": NUL}, code="nul_byte"),
            api(f"{name}-body-array", url, json=[body], code="body_not_json"),
            api(f"{name}-leader", url, who="token:leader1", json=body, status=403, code="role_required"),
            api(f"{name}-worker-browser", url, who="browser:safety1", json=body, status=403, code="role_required"),
            api(f"{name}-unknown-zone", missing, json={**body, "reason": "x"}, status=404,
                code="revision_not_found" if "/restore" in url else NOT_FOUND[kind]),
        ]
        if not url.endswith("/preview"):
            cases += [
                api(f"{name}-without-preview", url, json={**body, "reason": "边界调整"}, status=422,
                    code="preview_required"),
                api(f"{name}-forged-preview-token", url,
                    json={**body, "reason": "边界调整", "preview_token": SQL_OR}, code="preview_token_invalid"),
            ]
    return cases


GRID_REDRAW = f"/api/v1/grids/{G11}/redraw/preview"
NEW_GRID = f"/api/v1/areas/{A2}/grids/preview"
IMPORT = f"/api/v1/areas/{A1}/import/preview"
TOWN_REDRAW = f"/api/v1/towns/{TOWN}/redraw/preview"
SPLIT = f"/api/v1/grids/{G11}/split/preview"


def geometry_cases():
    cases = []
    geometries = {
        "bowtie": (polygon(BOWTIE), 422, "geometry_invalid"),
        "unclosed-ring": (polygon(UNCLOSED), 422, "ring_not_closed"),
        "short-ring": (polygon(SQUARE[:2] + SQUARE[:1]), 422, "ring_too_short"),
        "nan": (polygon(NAN_RING), 422, "coordinates_invalid"),
        "infinity": (polygon(INF_RING), 422, "coordinates_invalid"),
        "too-many-vertices": (too_many_positions(), 422, "geometry_too_complex"),
        "crs-3857": ({**polygon(SQUARE), "crs": CRS_3857}, 422, "crs_unsupported"),
        "point": ({"type": "Point", "coordinates": [106.02, 29.02]}, 422, "geometry_wrong_type"),
        "3d": (polygon([[x, y, 250.0] for x, y in SQUARE]), 422, "geometry_not_2d"),
        "out-of-range": (polygon([[200.0, 29.0], [106.01, 29.0], [106.01, 29.01], [200.0, 29.0]]), 422,
                         "coordinates_out_of_range"),
        "lat-lon-swapped": (polygon([[y, x] for x, y in SQUARE]), 422, "coordinates_out_of_range"),
        "text-coordinates": (polygon([[str(x), str(y)] for x, y in SQUARE]), 422, "coordinates_invalid"),
        "boolean-coordinates": (polygon([[True, False]] * 4), 422, "coordinates_invalid"),
        "string": ("POLYGON((106 29, 106.1 29, 106.1 29.1, 106 29))", 422, "geometry_malformed"),
        "missing": (NOTHING, 422, "geometry_malformed"),
        "empty": ({"type": "Polygon", "coordinates": []}, 422, "geometry_empty"),
        "type-sql": ({"type": SQLISH, "coordinates": [SQUARE]}, 422, "geometry_wrong_type"),
    }
    for name, (geometry, status, code) in geometries.items():
        body = {} if geometry is NOTHING else {"geometry": geometry}
        cases.append(shape(f"grid-redraw-{name}", GRID_REDRAW, json=body, status=status, code=code))
    for name in ("bowtie", "unclosed-ring", "nan", "too-many-vertices", "crs-3857", "3d", "string"):
        geometry, status, code = geometries[name]
        cases.append(shape(f"new-grid-{name}", NEW_GRID, json={"geometry": geometry, "name": "新网格"},
                           status=status, code=code))
    for name in ("bowtie", "crs-3857", "point", "infinity", "out-of-range"):
        geometry, status, code = geometries[name]
        cases.append(shape(f"town-redraw-{name}", TOWN_REDRAW, json={"geometry": geometry}, status=status,
                           code=code))
    square = {"type": "Polygon", "coordinates": [box_units(0, 0, 5, 5)]}
    cases += [
        shape("grid-redraw-gap-policy", GRID_REDRAW, json={"geometry": G11_SHAPE, "gap_policy": "steal"},
              status=422, code="gap_policy_unknown"),
        shape("grid-redraw-gap-policy-sql", GRID_REDRAW, json={"geometry": G11_SHAPE, "gap_policy": SQLISH},
              status=422, code="gap_policy_unknown"),
        shape("new-grid-name-too-long", NEW_GRID, json={"geometry": EDITS[NEW_GRID[:-8]]["geometry"],
                                                        "name": "名" * 101}, status=422, code="name_invalid"),
        shape("new-grid-name-missing", NEW_GRID, json={"geometry": EDITS[NEW_GRID[:-8]]["geometry"]},
              status=422, code="name_invalid"),
        shape("new-grid-name-invisible", NEW_GRID, json={"geometry": EDITS[NEW_GRID[:-8]]["geometry"],
                                                         "name": "\u3164"}, status=422, code="name_invalid"),
        shape("split-line-polygon", SPLIT, json={"line": square}, status=422, code="split_line_invalid"),
        shape("split-line-missing", SPLIT, json={}, status=422, code="split_line_invalid"),
        shape("split-line-outside", SPLIT, json={"line": {"type": "LineString", "coordinates": [[120, 30], [121, 30]]}},
              status=422, code="split_line_invalid"),
        shape("split-line-nan", SPLIT, json={"line": {"type": "LineString",
                                                      "coordinates": [[float("nan"), 29.0], [106.1, 29.0]]}},
              status=422, code="coordinates_invalid"),
        shape("import-not-a-collection", IMPORT, json={"type": "Feature", "geometry": square}, status=422,
              code="not_feature_collection"),
        shape("import-no-features", IMPORT, json=_collection(), status=422, code="no_features"),
        shape("import-feature-malformed", IMPORT, json=_collection("not a feature"), status=422,
              code="feature_malformed"),
        shape("import-duplicate-code", IMPORT, json=_collection(_feature(G11, square), _feature(G11, square)),
              status=422, code="duplicate_code"),
        shape("import-crs", IMPORT, json=_collection(_feature(G11, square), crs=CRS_3857), status=422,
              code="crs_unsupported"),
        shape("import-bowtie", IMPORT, json=_collection(_feature(G11, polygon(BOWTIE))), status=422,
              code="geometry_invalid"),
        shape("import-code-sql", IMPORT, json=_collection(_feature(SQLISH, square)), status=422,
              code="code_invalid"),
        shape("import-foreign-grid", IMPORT, json=_collection(_feature(G21, square)), status=422,
              code="batch_foreign_feature"),
        shape("merge-same-grid", f"/api/v1/grids/{G11}/merge/preview", json={"other": G11}, status=422,
              code="merge_same_grid"),
        shape("merge-other-area", f"/api/v1/grids/{G11}/merge/preview", json={"other": G21}, status=422,
              code="merge_across_areas"),
        shape("merge-other-sql", f"/api/v1/grids/{G11}/merge/preview", json={"other": SQL_OR}, status=404,
              code="grid_not_found"),
        shape("move-same-area", f"/api/v1/grids/{G11}/move/preview", json={"area": A1}, status=422,
              code="move_same_area"),
        shape("move-area-missing", f"/api/v1/grids/{G11}/move/preview", json={}, status=404, code="area_not_found"),
        shape("restore-revision-int4", f"/api/v1/grids/{G11}/restore/preview", json={"revision": INT4_OVER},
              code="revision_invalid"),
        shape("restore-revision-negative", f"/api/v1/grids/{G11}/restore/preview", json={"revision": -1},
              code="revision_invalid"),
        shape("restore-revision-true", f"/api/v1/grids/{G11}/restore/preview", json={"revision": True},
              code="revision_invalid"),
        shape("restore-revision-1e309", f"/api/v1/grids/{G11}/restore/preview", content_type="application/json",
              body='{"revision": 1e309}', code="revision_invalid"),
        shape("restore-revision-of-nothing", f"/api/v1/grids/{G11}/restore/preview", json={"revision": INT4_OVER - 1},
              status=404, code="revision_not_found"),
        shape("delete-gap-policy", f"/api/v1/grids/{G12}/delete/preview", json={"gap_policy": ["gap"]}, status=422,
              code="gap_policy_unknown"),
        shape("redraw-save-reason-missing", f"/api/v1/grids/{G11}/redraw", json={"geometry": G11_SHAPE,
                                                                                 "preview_token": "0" * 64},
              status=422, code="reason_required"),
        shape("redraw-save-reason-object", f"/api/v1/grids/{G11}/redraw", json={"geometry": G11_SHAPE,
                                                                                "reason": {"why": 1}},
              code="reason_invalid"),
        shape("redraw-save-versions-int4", f"/api/v1/grids/{G11}/redraw",
              json={"geometry": G11_SHAPE, "reason": "x", "versions": {G11: INT4_OVER}}, code="version_invalid"),
    ]
    return cases
