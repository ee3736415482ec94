"""Incident tables. The category catalogue is data (data/categories.json), loaded by the CLI."""
from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base

DUTIES = ("civilization", "safety", "civil_affairs", "culture", "legal", "counseling")
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
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{4}$'", name="code_format"),
        CheckConstraint(f"duty IN {DUTIES}", name="duty_known"),
        CheckConstraint(f"priority IN {PRIORITIES}", name="priority_known"),
        CheckConstraint("deadline_hours > 0 AND escalate_after_hours > 0", name="hours_positive"),
    )

    def name(self, locale: str = "zh") -> str:
        return self.name_en if locale == "en" else self.name_zh
