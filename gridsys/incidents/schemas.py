"""What the incidents API takes and answers, declared once: the OpenAPI document is generated from
these models. The views parse input themselves (the services refuse with stable codes)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, RootModel

from ..apidoc import Query
from ..geo import COORDINATE_SYSTEMS
from ..inputs import INT4_MAX
from ..zones.schemas import ZoneRef
from . import deadlines, lifecycle, notify, queues, services
from .models import CANCEL_REASONS, CHANNELS, DUTIES, PRIORITIES, RATINGS, STATUSES

Status = Literal[STATUSES]  # type: ignore[valid-type]
Priority = Literal[PRIORITIES]  # type: ignore[valid-type]
Coords = Literal[COORDINATE_SYSTEMS]  # type: ignore[valid-type]
Action = Literal[tuple(lifecycle.ACTIONS)]  # type: ignore[valid-type]
Flag = Literal["true", "false", "1", "0"]
Channel = Literal[CHANNELS]  # type: ignore[valid-type]
Rating = Literal[RATINGS]  # type: ignore[valid-type]
CancelReason = Literal[CANCEL_REASONS]  # type: ignore[valid-type]
QueueName = Literal[queues.QUEUES]  # type: ignore[valid-type]
NoticeKind = Literal[notify.KINDS]  # type: ignore[valid-type]
QUEUES_TEXT = ("to_accept: assigned to the caller, not yet accepted; in_progress: accepted by the caller; "
               "returned: sent back to the caller for rework (返工); to_register: residents' reports awaiting "
               "registration (立案); to_verify: resolved in the areas the caller leads (待核查); escalated: "
               "escalated to the caller (level 1 for an area leader, 2 for an administrator); due_soon: open in "
               "the caller's areas, due within GRIDSYS_DUE_SOON_HOURS (default 4); unassigned: routed to nobody")
COORDS_TEXT = ("the system lon/lat are given in: wgs84 (GPS, default) or gcj02 (Gaode/Tencent maps), converted "
               "to WGS 84 on the way in; anything else is 400 coords_unknown")


class Photo(BaseModel):
    id: int
    width: int
    height: int
    client_uuid: UUID | None = Field(description="made on the phone; a resend with it returns this photo")
    url: str
    thumbnail_url: str
    public: bool = Field(description="shown to the resident who reported it and on the public results (an after "
                                     "photo the handler or a leader marked public)")


class Event(BaseModel):
    at: datetime
    action: str
    actor: str | None = Field(description="username")
    from_: str | None = Field(alias="from")
    to: str | None
    note: str | None
    data: dict[str, Any] | None
    public: bool = Field(description="the note is a reply the resident who reported it reads")


class Incident(BaseModel):
    id: int
    code: str
    client_uuid: UUID | None = Field(description="the reporting phone's UUID; null on a resident's report (with it, "
                                                "anyone could reach the resident's private tracking link)")
    status: Status
    priority: Priority
    version: int = Field(description="send back as 'version' to detect stale updates")
    category: str
    duty: str
    description: str
    address: str | None
    lon: float
    lat: float
    town: str
    area: str | None
    grid: str | None
    reporter: str | None = Field(description="username")
    assignee: str | None = Field(description="username of the handler")
    assigned_as: str | None = Field(description="a duty, area_leader or town_admin")
    routing_reason: str = Field(description="in the request's language")
    created_at: datetime = Field(description="when the report arrived")
    observed_at: datetime = Field(description="when the worker observed it (the phone's clock); the arrival "
                                              "time when the report did not say")
    due_at: datetime | None
    overdue: bool
    escalation_level: int = Field(ge=0, le=2)
    escalation_trigger: Literal["overdue", "urgent", "manual", "stale"] | None
    escalated_at: datetime | None
    reopen_count: int
    channel: Channel = Field(description="staff (logged by staff), or a resident's report: resident (the residents' "
                                         "page), phone (a call entered by staff), open311 (an Open311 client)")
    contact_phone: str | None = Field(description="the resident's call-back number: in full for the handler and the "
                                                  "leaders and administrators in scope, masked (138****1111) for "
                                                  "anyone else; null when none was given or it has been purged")
    contact_name: str | None = Field(description="the resident's name, when given: only for those who read the "
                                                 "number in full")
    registered_at: datetime | None = Field(description="when a resident's report was registered (立案)")
    cancel_reason: CancelReason | None = Field(description="why it was cancelled: declined (不予受理), duplicate "
                                                           "(merged), other")
    duplicate_of: str | None = Field(description="the code of the incident a merged duplicate repeats")
    rating: Rating | None = Field(description="the resident's 回访 of the closure")
    rating_comment: str | None
    rated_at: datetime | None
    rated_via: Literal["web", "phone"] | None = Field(description="by the resident (web) or a telephone 回访 (phone)")
    review: Literal["reopened", "confirmed"] | None = Field(description="the leader's decision on an unsatisfied "
                                                                        "rating")
    reviewed_at: datetime | None
    escalation_holders: list[str] = Field(None, description="who holds an escalated incident (with its events)")
    photos: list[Photo] = Field(None, description="with its events")
    events: list[Event] = Field(None, description="one incident, not in lists")


class IncidentPage(BaseModel):
    items: list[Incident]
    total: int = Field(ge=0, description=f"how many match, exact up to {services.LIST_COUNT_CAP}; when total_capped "
                                          "is true, at least this many (counting on would read the whole scope)")
    total_capped: bool = Field(description="the total stopped at its cap: there are that many or more")
    more: bool = Field(description="a next page exists (page + 1)")
    page: int
    page_size: int


class NewIncident(BaseModel):
    """A report; a resend with the same client_uuid returns the stored incident (200)."""
    client_uuid: UUID = Field(description="generated by the client; a resend returns the same incident")
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    category: str = Field(pattern="^[0-9]{4}$", description="a current category code (GET /api/v1/categories)")
    description: str = Field(min_length=1, max_length=services.MAX_DESCRIPTION, pattern=r"\S")
    priority: Priority | None = Field(None, description="default the category's")
    address: str | None = Field(None, max_length=services.MAX_ADDRESS)
    observed_at: datetime | None = Field(
        None, description="when the worker observed it, ISO 8601 with offset (e.g. 2026-12-01T09:30:00+08:00); "
                          "default the arrival time. Refused: unreadable or no offset (observed_at_invalid), over 10 "
                          "minutes ahead of the server (observed_at_future), over 30 days old (observed_at_too_old)")
    coords: Coords = Field("wgs84", description=COORDS_TEXT)


class Transition(BaseModel):
    action: Action = Field(description="a resident's report (reported) is registered (register, 立案), declined "
                                       "(decline, 不予受理) or merged into another (merge); a closure the resident "
                                       "rated unsatisfied is reopened (reopen) or confirmed (confirm) by the leader")
    note: str | None = Field(None, max_length=lifecycle.MAX_NOTE,
                             description="required by comment, resolve, reopen, cancel, extend, escalate, send_down, "
                                         "decline and confirm (the last two: the reply the resident reads)")
    version: int | None = Field(None, ge=0, le=INT4_MAX, description="the version read; a mismatch is 409 stale_update")
    assignee: str | None = Field(None, description="username (reassign; register: another handler than the routed "
                                                   "one)")
    hours: int | None = Field(None, ge=1, le=deadlines.MAX_EXTENSION_HOURS, description="hours to add (extend)")
    public: bool | None = Field(None, description="true: the note is a reply the resident who reported it reads "
                                                  "(a resident's report; decline and confirm always are)")
    duplicate_of: str | None = Field(None, max_length=40, description="the code of the incident this one repeats "
                                                                      "(merge)")


class Callback(BaseModel):
    """A telephone 回访: what the resident said when called."""
    rating: Rating
    comment: str | None = Field(None, max_length=500)


class PhotoFlags(BaseModel):
    public: bool = Field(description="true: shown to the resident who reported it and on the public results")


class PhotoUpload(BaseModel):
    model_config = ConfigDict(json_schema_extra={"required": ["photo"]})
    photo: bytes = Field(json_schema_extra={"format": "binary"},
                         description="JPEG, PNG, WebP or HEIC; stored as JPEG without EXIF, longest side 2048 px")
    client_uuid: UUID | None = Field(None, description="made on the phone, one per photo: a resend returns the "
                                                       "stored photo (200)")


class Category(BaseModel):
    code: str
    name: str
    name_en: str | None
    duty: str
    deadline_hours: int
    escalate_after_hours: int | None
    priority: Priority


class CategoryList(RootModel[list[Category]]):
    pass


class Assignee(BaseModel):
    username: str
    display_name: str


class RoutingPreview(BaseModel):
    grid: ZoneRef | None
    area: ZoneRef | None
    town: ZoneRef
    assignee: Assignee | None = Field(description="who the report would go to (null without a category, or "
                                                  "nobody to route to)")
    assigned_as: str | None = Field(description="a duty, area_leader or town_admin")
    reason: str | None = Field(description="the routing reason in the request's language")
    priority: Priority | None
    deadline_hours: int | None = Field(description="hours to handle it once dispatched (null when nobody would be)")


class Duty(BaseModel):
    grid: str
    duty: str
    backup: bool


class Me(BaseModel):
    username: str
    display_name: str
    roles: list[str]
    grids: list[str] | Literal["all"] = Field(description="grid codes in the caller's scope, or 'all'")
    csrf_token: str | None = Field(description="a CSRF token for this browser session (send as X-CSRFToken); "
                                               "null for bearer tokens, which need none")
    duties: list[Duty] = Field(description="the caller's current duties per grid")
    frequent_categories: list[str] = Field(max_length=8, description="category codes the caller reported most "
                                                                     "in the last 90 days, most used first")
    favourite_categories: list[str] = Field(max_length=8, description="what the report form offers first: the "
                                                                      "most used, then the caller's duties' ones")
    unread: int = Field(ge=0, le=100, description="the caller's unread notifications, counted up to 100 "
                                                   "(100: that many or more)")
    queues: dict[QueueName, int] = Field(description="how many wait in each queue the caller has (by role), "
                                                     "counted up to 100 each: " + QUEUES_TEXT)


class Notice(BaseModel):
    id: int
    kind: NoticeKind = Field(description="assigned (to the caller: dispatched, reassigned), returned (sent back "
                                         "for rework), instructed (sent down with instructions), extended "
                                         "(deadline), due_soon (nears its deadline; once per deadline), "
                                         "to_verify (resolved: awaits the caller's verification), escalated")
    incident_id: int | None
    at: datetime
    read: bool
    data: dict[str, Any] = Field(description="what the notice says beyond its kind (level, trigger, note…)")


class Notices(BaseModel):
    items: list[Notice] = Field(description="newest first (at most 100)")
    unread: int = Field(ge=0)


class NoticesQuery(Query):
    unread: Flag | None = Field(None, description="only unread ones (true)")


class MarkRead(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[int] | None = Field(None, max_length=1000, description="these notifications")
    all: bool | None = Field(None, description="true: every notification of the caller")


class MarkedRead(BaseModel):
    marked: int = Field(ge=0)
    unread: int = Field(ge=0)


class IncidentFilters(Query):
    status: Literal[("open", *STATUSES)] | None = Field(None, description="a status, or open")  # type: ignore
    category: str | None = Field(None, description="category code")
    duty: Literal[DUTIES] | None = None  # type: ignore[valid-type]
    grid: str | None = Field(None, description="grid code")
    overdue: Flag | None = Field(None, description="only (true) or no (false) overdue incidents")
    escalated: Flag | None = Field(None, description="only (true) or no (false) escalated incidents")
    since: date | None = Field(None, description="reported on or after this day (the town's time)")
    mine: Flag | None = Field(None, description="only incidents the caller handles")
    queue: QueueName | None = Field(None, description="one of the caller's work queues, most urgent first: "
                                                      + QUEUES_TEXT)


class IncidentListQuery(IncidentFilters):
    page: int | None = Field(None, ge=1, le=1_000_000, description=f"page ({services.PAGE_SIZE} a page)")


class IncidentMapQuery(IncidentFilters):
    bbox: str | None = Field(None, pattern=r"^-?[0-9.]+,-?[0-9.]+,-?[0-9.]+,-?[0-9.]+$",
                             description="minlon,minlat,maxlon,maxlat")


class PreviewQuery(Query):
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    coords: Coords | None = Field(None, description=COORDS_TEXT)
    category: str | None = Field(None, description="category code; without it only the place")
    priority: Priority | None = Field(None, description="as the report would ask (default the category's)")


class CsvText(RootModel[str]):
    """UTF-8 CSV with a byte-order mark, one incident a row."""


# Refusals per operation: HTTP status -> the error codes it carries (the door's own are added by apidoc).
NOT_FOUND = {404: ("incident_not_found", "not_found")}
LOCATION_ERRORS = {400: ("coords_unknown",),
                   422: ("location_missing", "coordinates_invalid", "coordinates_out_of_range", "point_outside_towns")}
CREATE_ERRORS = {400: ("client_uuid_invalid", "coords_unknown"), 409: ("client_uuid_taken",),
                 422: (*LOCATION_ERRORS[422], "client_uuid_invalid", "category_unknown", "category_retired",
                       "description_missing", "description_too_long", "address_too_long", "priority_unknown",
                       "observed_at_invalid", "observed_at_future", "observed_at_too_old")}
FILTER_ERRORS = {400: ("status_unknown", "duty_unknown", "page_invalid", "since_invalid", "overdue_invalid",
                       "escalated_invalid", "mine_invalid", "queue_unknown")}
MARK_READ_ERRORS = {400: ("body_not_json", "notifications_invalid")}
MAP_FILTER_ERRORS = {400: (*FILTER_ERRORS[400], "bbox_invalid"),
                     422: ("coordinates_invalid", "coordinates_out_of_range")}
TRANSITION_ERRORS = {**NOT_FOUND, 400: ("action_unknown", "assignee_invalid", "note_invalid", "version_invalid",
                                       "public_invalid", "duplicate_of_invalid"),
                     403: ("actor_not_allowed",),
                     409: ("transition_not_allowed", "stale_update", "not_escalated", "already_at_top",
                           "not_a_resident_report", "review_not_open"),
                     422: ("note_required", "note_too_long", "assignee_unknown", "assignee_unchanged",
                           "assignee_out_of_scope", "assignee_required", "hours_invalid", "duplicate_of_unknown")}
CALLBACK_ERRORS = {**NOT_FOUND, 400: ("body_not_json", "comment_invalid"), 403: ("actor_not_allowed",),
                   409: ("rating_not_open", "already_rated", "rating_closed"),
                   422: ("rating_unknown", "comment_too_long")}
PHOTO_FLAG_ERRORS = {404: ("incident_not_found", "not_found", "photo_not_found"),
                     400: ("body_not_json", "public_invalid"), 403: ("actor_not_allowed",)}
PHOTO_ERRORS = {**NOT_FOUND, 400: ("photo_missing", "client_uuid_invalid"), 403: ("actor_not_allowed",),
                409: ("incident_final", "photo_uuid_conflict", "too_many_photos"), 413: ("photo_too_large",),
                415: ("photo_not_image", "photo_type_unsupported"), 422: ("photo_empty",)}
PREVIEW_ERRORS = {400: LOCATION_ERRORS[400], 422: (*LOCATION_ERRORS[422], "category_unknown", "category_retired",
                                                   "priority_unknown")}
