"""Incident tables. The category catalogue is data (data/categories.json), loaded by the CLI."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from geoalchemy2 import Geometry
from sqlalchemy import (Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, LargeBinary,
                        SmallInteger, String, Text, Uuid, func, text)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base
from ..geo import STORAGE_SRID
from ..vocabulary import DUTIES

PRIORITIES = ("normal", "urgent")


class Category(Base):
    """One incident category: which duty handles it, how fast, and how urgent by default."""

    __tablename__ = "categories"
    code: Mapped[str] = mapped_column(String(4), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    duty: Mapped[str] = mapped_column(String(20))
    deadline_hours: Mapped[int] = mapped_column(Integer)
    escalate_after_hours: Mapped[int] = mapped_column(Integer)
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    # Group robots get only the code, the category and a link (心理咨询, 民政救济, disputes).
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # The residents' channel: may a resident choose it, its plain-word name, and how soon a
    # resident's report of it must be registered (立案) or declined.
    resident_choice: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    plain_zh: Mapped[str | None] = mapped_column(String(100))
    plain_en: Mapped[str | None] = mapped_column(String(100))
    response_hours: Mapped[int] = mapped_column(Integer, default=24, server_default="24")
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{4}$'", name="code_format"),
        CheckConstraint("response_hours > 0", name="response_hours_positive"),
        CheckConstraint(f"duty IN {DUTIES}", name="duty_known"),
        CheckConstraint(f"priority IN {PRIORITIES}", name="priority_known"),
        CheckConstraint("deadline_hours > 0 AND escalate_after_hours > 0", name="hours_positive"),
    )

    def name(self, locale: str = "zh") -> str:
        return self.name_en if locale == "en" else self.name_zh

    def plain_name(self, locale: str = "zh") -> str:
        """The name residents read (plain words), else the catalogue's."""
        return (self.plain_en if locale == "en" else self.plain_zh) or self.name(locale)


STATUSES = ("reported", "assigned", "in_progress", "resolved", "closed", "reopened", "cancelled")
# How a report came in: a staff member's phone, a resident's page, a resident's call entered by
# staff, an Open311 client. Every channel but staff waits for 立案 (registration).
CHANNELS = ("staff", "resident", "phone", "open311")
RATINGS = ("satisfied", "basically", "unsatisfied")   # 满意, 基本满意, 不满意
CANCEL_REASONS = ("declined", "duplicate", "other")    # 不予受理, 重复 (merged), other
OPEN_STATUSES = ("reported", "assigned", "in_progress", "reopened")
OBSERVED_SHOWN_APART = timedelta(minutes=1)
# The list order as index columns (services.LIST_ORDER says the same in the query): open first,
# written as PostgreSQL writes "status IN (...)" back, so that the models compare equal to the
# migrated schema.
_OPEN_ARRAY = ", ".join(f"'{s}'" for s in OPEN_STATUSES)
LIST_KEY = (text(f"(status = ANY (ARRAY[{_OPEN_ARRAY}])) DESC"), "due_at", text("id DESC"))
ESCALATION_KEY = (text("level DESC"), "escalated_at", "incident_id")
ESCALATION_SCOPE_PARTS = ("area", "grid", "town", "assignee")
INCIDENTS_FILLFACTOR = 85   # per cent of each page filled by inserts: the rest for updated versions


class Incident(Base):
    """One case (事件): where, what, who reported it, who handles it, by when."""

    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    client_uuid: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    geom = mapped_column(Geometry("POINT", srid=STORAGE_SRID, spatial_index=False), nullable=False)
    address: Mapped[str | None] = mapped_column(String(200))
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"))
    description: Mapped[str] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12))
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_as: Mapped[str | None] = mapped_column(String(20))  # duty, 'area_leader' or 'town_admin'
    routing: Mapped[dict] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # When the worker saw it (the phone's clock); a report from an offline queue arrives later.
    # NULL on incidents older than the column: their creation time stands in.
    observed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reopen_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    escalation_level: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalation_trigger: Mapped[str | None] = mapped_column(String(12))  # overdue | urgent | manual | stale
    # When the sweep should next look at it: due_at at level 0, the second deadline at level 1.
    next_escalation_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # The deadline the "due soon" notice went out for: once per deadline (a new deadline, a new notice).
    due_soon_sent_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The residents' channel: the contact for a call back (purged after closure), the private
    # tracking link's SHA-256, 立案, why it was cancelled, and the 回访 and its review.
    channel: Mapped[str] = mapped_column(String(10), default="staff", server_default="staff")
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    contact_name: Mapped[str | None] = mapped_column(String(60))
    tracking_hash: Mapped[str | None] = mapped_column(String(64))
    registered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_reason: Mapped[str | None] = mapped_column(String(12))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    rating: Mapped[str | None] = mapped_column(String(12))
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rated_via: Mapped[str | None] = mapped_column(String(10))    # web | phone
    review: Mapped[str | None] = mapped_column(String(10))       # of an unsatisfied rating: reopened | confirmed
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    category: Mapped[Category] = relationship()
    grid = relationship("Grid")
    area = relationship("Area")
    town = relationship("Town")
    reporter = relationship("User", foreign_keys=[reporter_id])
    assignee = relationship("User", foreign_keys=[assignee_id])
    duplicate_of = relationship("Incident", remote_side="Incident.id", foreign_keys=[duplicate_of_id])
    events: Mapped[list["IncidentEvent"]] = relationship(back_populates="incident",
                                                         order_by="IncidentEvent.id")
    photos: Mapped[list["IncidentPhoto"]] = relationship(back_populates="incident",
                                                         order_by="IncidentPhoto.id")

    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES}", name="status_known"),
        CheckConstraint(f"priority IN {PRIORITIES}", name="priority_known"),
        CheckConstraint(f"channel IN {CHANNELS}", name="channel_known"),
        CheckConstraint(f"rating IS NULL OR rating IN {RATINGS}", name="rating_known"),
        CheckConstraint(f"cancel_reason IS NULL OR cancel_reason IN {CANCEL_REASONS}", name="cancel_reason_known"),
        Index("ix_incidents_geom", "geom", postgresql_using="gist"),
        Index("ix_incidents_geom_open", "geom", postgresql_using="gist",
              postgresql_where=text(f"status IN {OPEN_STATUSES}")),   # the map's tiles of open ones
        Index("ix_incidents_grid_open", "grid_id", postgresql_where=text(f"status IN {OPEN_STATUSES}")),
        # The lists (services.LIST_ORDER): open first, by deadline, newest first; one index per part
        # of a scope (everything, an area, handled by, reported by; a grid holds few), each read in that order
        # so that a page stops after its rows. They also answer what the plain ones did (area_id = ...).
        Index("ix_incidents_listed", *LIST_KEY),
        Index("ix_incidents_area_listed", "area_id", *LIST_KEY),
        Index("ix_incidents_assignee_listed", "assignee_id", *LIST_KEY),
        Index("ix_incidents_reporter_listed", "reporter_id", *LIST_KEY),
        # A person's reports by time (reporting_aids.frequent_categories, on every /api/v1/me), from
        # the index alone.
        Index("ix_incidents_reporter_created", "reporter_id", "created_at", postgresql_include=["category_code"]),
        Index("ix_incidents_due_open", "due_at", postgresql_where=text(f"status IN {OPEN_STATUSES}")),
        # The work queues (incidents/queues.py): each counted from an index of its own.
        Index("ix_incidents_handler_work", "assignee_id", "status",
              postgresql_where=text("status IN ('assigned', 'in_progress', 'reopened')")),
        Index("ix_incidents_resolved_area", "area_id", postgresql_where=text("status = 'resolved'")),
        Index("ix_incidents_unassigned_open", "town_id",
              postgresql_where=text(f"assignee_id IS NULL AND status IN {OPEN_STATUSES}")),
        Index("ix_incidents_to_register", "assignee_id", "area_id",
              postgresql_where=text("status = 'reported' AND channel <> 'staff'")),
        Index("ix_incidents_unsatisfied", "area_id",
              postgresql_where=text("status = 'closed' AND rating = 'unsatisfied' AND review IS NULL")),
        Index("ix_incidents_tracking_hash", "tracking_hash", unique=True,   # residents' only (migration 0021)
              postgresql_where=text("tracking_hash IS NOT NULL")),
        Index("ix_incidents_grid_created", "grid_id", "created_at"),
        Index("ix_incidents_town_created", "town_id", "created_at"),   # a town's indicators start here
        Index("ix_incidents_contact_held", func.coalesce(closed_at, updated_at),   # privacy.purge_contacts
              postgresql_where=text("(contact_phone IS NOT NULL OR contact_name IS NOT NULL) "
                                    "AND status IN ('closed', 'cancelled')")),
        # No index names an escalation column (IncidentEscalation's do), and pages keep room for a new
        # version of their rows: the sweep's update of those columns is then HOT (written in place, no
        # index touched), where it wrote to each of the indexes above (migration 0022).
        {"postgresql_with": {"fillfactor": INCIDENTS_FILLFACTOR}},
    )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def observed_apart(self) -> datetime | None:
        """The observed time when it is worth showing beside the arrival time (over a minute apart)."""
        if self.observed_at is None or self.created_at is None:
            return None
        return self.observed_at if abs(self.observed_at - self.created_at) > OBSERVED_SHOWN_APART else None


class IncidentEscalation(Base):
    """Where each open incident stands in escalation, and what routes it, for the indexes that find
    them: the sweep's due ones, the escalation inbox and the escalated queues (migration 0022).
    A copy of ``incidents``' columns kept by triggers on ``incidents`` (every write, whatever
    statement made it: a row appears when an incident is reported, follows it while it is open,
    and goes when it closes), so that no index on ``incidents`` names a column the sweep changes."""

    __tablename__ = "incident_escalations"
    incident_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    town_id: Mapped[int] = mapped_column(Integer)
    area_id: Mapped[int | None] = mapped_column(Integer)
    grid_id: Mapped[int | None] = mapped_column(Integer)
    assignee_id: Mapped[int | None] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(SmallInteger)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The escalated queue's order (queues.ordering) read here alone (migration 0023).
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    __table_args__ = (
        # The escalation inbox (services.ESCALATION_KEYS) in its order: everything, and one per part of
        # a scope (services.scope_parts: grids, areas, towns, handled by).
        Index("ix_incident_escalations_listed", *ESCALATION_KEY, postgresql_where=text("level > 0")),
        *[Index(f"ix_incident_escalations_{part}_listed", f"{part}_id", *ESCALATION_KEY, postgresql_where=text("level > 0"))
          for part in ESCALATION_SCOPE_PARTS],
        Index("ix_incident_escalations_next", "next_at", postgresql_where=text("next_at IS NOT NULL")),   # the sweep
        # The escalated queue's counts (queues.COUNT_ORDER).
        Index("ix_incident_escalations_level_area", "level", "area_id", postgresql_where=text("level > 0")),
    )


class IncidentEvent(Base):
    """The append-only audit trail: every transition, note and routing decision."""

    __tablename__ = "incident_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="RESTRICT"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str | None] = mapped_column(String(12))
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict] = mapped_column(JSONB, default=dict)
    # A reply the resident who reported it may read (on the tracking page and the public results).
    public: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Where the incident was when this happened (a redraw moves it later): evaluation counts an event
    # in the grid and area of its time. Events older than migration 0012 carry where it was then.
    # Not foreign keys (migration 0020): grids and areas are never deleted, and each check locked
    # their rows for every event written.
    grid_id: Mapped[int | None] = mapped_column(Integer)
    area_id: Mapped[int | None] = mapped_column(Integer)
    incident: Mapped[Incident] = relationship(back_populates="events")
    __table_args__ = (Index("ix_incident_events_area_at", "area_id", "at"),
                      Index("ix_incident_events_grid_at", "grid_id", "at"))
    actor = relationship("User")


class IncidentPhoto(Base):
    """A photo, re-encoded without EXIF; kept in the database so every app server serves it."""

    __tablename__ = "incident_photos"
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="RESTRICT"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("incident_events.id"))
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    # Made on the phone: the same upload sent again (a retry after a dropped link) is stored once.
    client_uuid: Mapped[uuid.UUID | None] = mapped_column(Uuid, unique=True)
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    thumbnail: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    # Marked public by the handler (an "after" photo): shown to the resident and on the public results.
    public: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    incident: Mapped[Incident] = relationship(back_populates="photos")


class IncidentCounter(Base):
    """Per zone and day sequence for human incident codes (<zone>-<yyyymmdd>-<seq>)."""

    __tablename__ = "incident_counters"
    prefix: Mapped[str] = mapped_column(String(15), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class Notification(Base):
    """An in-app inbox entry for one person."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    kind: Mapped[str] = mapped_column(String(20))  # one of notify.KINDS
    data: Mapped[dict] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    incident: Mapped[Incident | None] = relationship()
    # (user_id, id): a person's unread newest first, so that the header's capped count and the five
    # newest stop after what they show (195 000 unread were read whole to count 100).
    __table_args__ = (Index("ix_notifications_user_unread", "user_id", "id", postgresql_where=text("read_at IS NULL")),
                      Index("ix_notifications_user_id", "user_id", "id"))


WEBHOOK_KINDS = ("json", "wecom", "dingtalk")


class Webhook(Base):
    """A town's webhook: generic JSON, or the markdown body WeCom/DingTalk group robots accept."""

    __tablename__ = "webhooks"
    id: Mapped[int] = mapped_column(primary_key=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(10))
    # DingTalk 加签 secret (SEC…) or the Standard Webhooks secret (whsec_…); None: unsigned.
    secret: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    town = relationship("Town")
    __table_args__ = (CheckConstraint(f"kind IN {WEBHOOK_KINDS}", name="kind_known"),)


class WebhookDelivery(Base):
    """One message to one webhook (an outbox row written with the escalation, sent after commit)."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    payload: Mapped[dict] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | delivered | failed | dropped (webhook switched off)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    webhook: Mapped[Webhook] = relationship()
    __table_args__ = (Index("ix_webhook_deliveries_pending", "next_attempt_at",
                            postgresql_where=text("status = 'pending'")),)


class WebhookAttempt(Base):
    """Every delivery attempt, kept: when, what the receiver answered, how long it took."""

    __tablename__ = "webhook_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
