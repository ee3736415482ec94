"""What the zone and boundary-edit API takes and answers, declared once (the OpenAPI document is
generated from these models; the views parse input themselves)."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, create_model

from ..apidoc import Query
from ..geo import COORDINATE_SYSTEMS
from ..inputs import INT4_MAX
from .models import LEVELS
from .plan_writer import PREVIEW_TOKEN_PATTERN

Level = Literal[LEVELS]  # type: ignore[valid-type]
GapPolicy = Literal["neighbour", "gap"]
Geometry = dict[str, Any]  # what the app answers: any GeoJSON geometry (a retired grid's is empty)
Position = Annotated[list[float], Field(min_length=2, max_length=2, description="[lon, lat], WGS 84")]
Ring = Annotated[list[Position], Field(min_length=4, description="closed: the last position is the first")]


class Polygon(BaseModel):
    """A GeoJSON Polygon: an outer ring, then holes."""
    type: Literal["Polygon"]
    coordinates: list[Ring] = Field(min_length=1)


class MultiPolygon(BaseModel):
    type: Literal["MultiPolygon"]
    coordinates: list[Annotated[list[Ring], Field(min_length=1)]] = Field(min_length=1)


class LineString(BaseModel):
    type: Literal["LineString"]
    coordinates: list[Position] = Field(min_length=2)


class ZoneRef(BaseModel):
    code: str
    name: str


class Located(BaseModel):
    level: Level = Field(description="the lowest level covering the point")
    town: str
    area: str | None
    grid: str | None


class LocateQuery(Query):
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    coords: Literal[COORDINATE_SYSTEMS] | None = Field(  # type: ignore[valid-type]
        None, description="wgs84 (default) or gcj02 (a position read off Gaode/Tencent maps)")


class ZonesQuery(Query):
    level: Level | None = Field(None, description="only this level")


# --- boundary edits: every one has a /preview twin that writes nothing ------------------

class Edit(BaseModel):
    reason: str | None = Field(None, description="why (required to save; kept in the history)")
    versions: dict[str, Annotated[int, Field(ge=0, le=INT4_MAX)]] | None = Field(None, description="zone code -> version seen in the preview; a "
                                                              "mismatch is 409 stale_boundary")


class Reshape(Edit):
    geometry: Polygon | MultiPolygon = Field(description="a Polygon (grid), a MultiPolygon or Polygon (area)")
    gap_policy: GapPolicy = Field("neighbour", description="who takes ground given up: a neighbour, or nobody")


class TownReshape(Edit):
    geometry: Polygon | MultiPolygon


class Split(Edit):
    line: LineString = Field(description="across the grid")
    name: str | None = Field(None, description="name of the new grid")


class Merge(Edit):
    other: str = Field(description="code of an adjacent grid of the same area (the lower code survives)")


class Move(Edit):
    area: str = Field(description="code of an adjacent area of the same town (the grid is renumbered)")


class Delete(Edit):
    gap_policy: GapPolicy = Field("neighbour", description="who takes the ground: a neighbour, or nobody")


class Restore(Edit):
    revision: int = Field(ge=1, le=INT4_MAX, description="the id of a revision of this grid")
    gap_policy: GapPolicy = "neighbour"


class NewGrid(Edit):
    geometry: Polygon = Field(description="inside the area")
    name: str | None = None


class BatchImport(Edit):
    """Replace the area's grids: existing codes reshaped, new codes created, missing ones retired."""
    model_config = ConfigDict(extra="allow")
    type: str = Field(json_schema_extra={"const": "FeatureCollection"})
    features: list[dict[str, Any]]


PreviewToken = Annotated[str, Field(pattern=PREVIEW_TOKEN_PATTERN, description=(
    "the preview_token its preview answered: the save is refused unless it is exactly the plan "
    "previewed (missing: 422 preview_required; another shape, option or a zone changed since: "
    "409 preview_stale)"))]
_SAVING: dict[type, type] = {}


def saving(edit: type[Edit]) -> type[Edit]:
    """The body of an edit's save: the edit as previewed plus the preview's token (one model per edit)."""
    if edit not in _SAVING:
        _SAVING[edit] = create_model(f"{edit.__name__}Save", __base__=edit, __doc__=edit.__doc__,
                                     preview_token=(PreviewToken, ...))
    return _SAVING[edit]


class AreaChange(BaseModel):
    level: Level
    code: str
    old_code: str | None
    action: Literal["create", "delete", "move", "update"]
    area_before_m2: float
    area_after_m2: float
    delta_m2: float


class IncidentMove(BaseModel):
    incident: int
    code: str
    from_grid: str | None
    to_grid: str | None
    from_area: str | None
    to_area: str | None
    from_handler: str | None = Field(description="username")
    to_handler: str | None = Field(description="username")


class Checks(BaseModel):
    model_config = ConfigDict(extra="allow")
    ok: bool


class EditPreview(BaseModel):
    kind: str
    level: Level
    target: str
    checks: Checks
    changes: list[AreaChange]
    preview_token: str = Field(pattern=PREVIEW_TOKEN_PATTERN, description="names exactly this plan (shapes and "
                               "the zone versions it was computed against): send it back to save it")
    versions: dict[str, int] = Field(description="send back as 'versions' when saving")
    neighbours: list[str]
    moves: list[IncidentMove] = Field(description="open incidents that change grid or handler")
    geometries: dict[str, Geometry | None] = Field(description="zone code -> new GeoJSON shape (null: retired)")


class EditSaved(BaseModel):
    kind: str
    target: str
    checks: Checks
    revisions: list[int]
    moves: list[IncidentMove]
    changes: list[AreaChange]


class Revision(BaseModel):
    id: int
    action: str
    actor: str
    reason: str | None
    changed_at: datetime
    old_geometry: Geometry | None
    new_geometry: Geometry | None


class RevisionList(RootModel[list[Revision]]):
    """Newest first."""


# Refusals per operation: HTTP status -> the error codes it carries (the door's own are added by apidoc).
GEOMETRY_REFUSALS = ("geometry_malformed", "geometry_wrong_type", "geometry_empty", "geometry_invalid",
                     "coordinates_invalid", "coordinates_out_of_range", "ring_not_closed", "ring_too_short")
EDIT_ERRORS = {400: ("name_invalid", "revision_invalid", "version_invalid"), 403: ("role_required",),
               404: ("grid_not_found", "area_not_found", "town_not_found", "revision_not_found", "not_found"),
               422: (*GEOMETRY_REFUSALS, "outside_parent", "sibling_overlap", "children_outside", "neighbour_split",
                     "neighbour_swallowed", "area_emptied", "area_full", "split_line_invalid", "merge_same_grid",
                     "merge_across_areas", "merge_not_adjacent", "move_same_area", "move_across_towns",
                     "move_not_adjacent", "gap_policy_unknown", "grid_code_retired", "incidents_stranded",
                     "name_invalid", "batch_foreign_feature", "not_feature_collection", "no_features",
                     "feature_malformed", "duplicate_code", "level_unknown", "parent_not_found")}
SAVE_ERRORS = {**EDIT_ERRORS, 400: (*EDIT_ERRORS[400], "reason_invalid", "preview_token_invalid"),
               409: ("stale_boundary", "preview_stale"), 422: (*EDIT_ERRORS[422], "reason_required", "preview_required")}
LOCATE_ERRORS = {400: ("coordinates_invalid", "coords_unknown"),
                 422: ("coordinates_invalid", "coordinates_out_of_range", "point_outside_towns")}
