"""Zone tables. Geometry columns are EPSG:4326 with GiST indexes (see geo.STORAGE_SRID)."""
from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base
from ..geo import STORAGE_SRID

LEVELS = ("town", "area", "grid")
CODE_LENGTH = {"town": 9, "area": 12, "grid": 15}


def _geometry(kind: str) -> Geometry:
    return Geometry(kind, srid=STORAGE_SRID, spatial_index=False)


class ZoneMixin:
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str | None] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())

    def label(self, locale: str = "zh") -> str:
        return (self.name_en if locale == "en" and self.name_en else self.name)


class Town(ZoneMixin, Base):
    __tablename__ = "towns"
    code: Mapped[str] = mapped_column(String(9), unique=True)
    geom = mapped_column(_geometry("MULTIPOLYGON"), nullable=False, deferred=True)
    areas: Mapped[list["Area"]] = relationship(back_populates="town", order_by="Area.code")
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{9}$'", name="code_format"),
        CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
        Index("ix_towns_geom", "geom", postgresql_using="gist"),
    )
    level = "town"


class Area(ZoneMixin, Base):
    __tablename__ = "areas"
    code: Mapped[str] = mapped_column(String(12), unique=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id", ondelete="RESTRICT"), index=True)
    geom = mapped_column(_geometry("MULTIPOLYGON"), nullable=False, deferred=True)
    town: Mapped[Town] = relationship(back_populates="areas")
    grids: Mapped[list["Grid"]] = relationship(order_by="Grid.code",
                                               primaryjoin="and_(Grid.area_id == Area.id, Grid.retired_at.is_(None))",
                                               viewonly=True)
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{12}$'", name="code_format"),
        CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
        Index("ix_areas_geom", "geom", postgresql_using="gist"),
    )
    level = "area"

    @property
    def parent(self):
        return self.town


class Grid(ZoneMixin, Base):
    __tablename__ = "grids"
    code: Mapped[str] = mapped_column(String(15), unique=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    geom = mapped_column(_geometry("POLYGON"), nullable=False, deferred=True)
    area: Mapped[Area] = relationship()
    # A deleted or merged-away grid keeps its row (closed incidents still point at it) with an
    # empty geometry, so it is never located, overlapped or drawn again.
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{15}$'", name="code_format"),
        CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
        Index("ix_grids_geom", "geom", postgresql_using="gist"),
    )
    level = "grid"

    @property
    def parent(self):
        return self.area


MODELS = {"town": Town, "area": Area, "grid": Grid}


class CoverageFigures:
    """How much of a zone its children cover, kept by the database: triggers (migration 0015)
    refresh them in the statement that changes the zone's shape or a child's shape, parent or
    retirement, whatever writes it. The same figures as services.coverage computes."""
    children: Mapped[int]
    area_m2: Mapped[float]
    covered_m2: Mapped[float]
    overlap_m2: Mapped[float]


class TownCoverage(CoverageFigures, Base):
    """A town's coverage by its areas."""
    __tablename__ = "town_coverage"
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id", ondelete="CASCADE"), primary_key=True)


class AreaCoverage(CoverageFigures, Base):
    """An area's coverage by its grids in service (retired grids left out)."""
    __tablename__ = "area_coverage"
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True)


COVERAGE = {"town": TownCoverage, "area": AreaCoverage}


class BoundaryRevision(Base):
    """One geometry change of one zone: who, when, why, old and new geometry."""

    __tablename__ = "boundary_revisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(8))
    zone_code: Mapped[str] = mapped_column(String(15), index=True)
    action: Mapped[str] = mapped_column(String(16))  # create | update | delete | import | restore
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    old_geom = mapped_column(Geometry("GEOMETRY", srid=STORAGE_SRID, spatial_index=False))
    new_geom = mapped_column(Geometry("GEOMETRY", srid=STORAGE_SRID, spatial_index=False))
    __table_args__ = (
        CheckConstraint("level IN ('town', 'area', 'grid')", name="level_known"),
    )
