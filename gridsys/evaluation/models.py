"""A town's published evaluation (考核结果公开): the figures of a period as they stood when published."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base
from ..people.models import User
from ..zones.models import Town


class Publication(Base):
    """A snapshot: ``figures`` holds the indicators (town and by grid) computed when published, so
    later edits to incidents do not change it; a correction is a new publication that names the
    one it ``supersedes`` (both stay public, each with its date)."""
    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(primary_key=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"))
    period_from: Mapped[date] = mapped_column(Date)
    period_to: Mapped[date] = mapped_column(Date)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    figures: Mapped[dict] = mapped_column(JSONB)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("evaluations.id"))

    town: Mapped[Town] = relationship()
    published_by: Mapped[User | None] = relationship()

    __table_args__ = (
        CheckConstraint("period_from <= period_to", name="period_order"),
        Index("ix_evaluations_town", "town_id", "period_from", "published_at"),
    )
