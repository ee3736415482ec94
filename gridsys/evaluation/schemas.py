"""What the evaluation API takes and answers (the OpenAPI document is generated from these)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..apidoc import Query
from . import indicators, subjects

ScopeKind = Literal[subjects.KINDS]  # type: ignore[valid-type]
By = Literal[indicators.BY]  # type: ignore[valid-type]
Part = Literal[indicators.PARTS]  # type: ignore[valid-type]
IndicatorName = Literal[indicators.NAMES]  # type: ignore[valid-type]
DAY = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


class IndicatorsQuery(Query):
    scope: ScopeKind = Field(description="what the figures are of")
    code: str = Field(description="the town's, area's or grid's code; for scope=person the username")
    from_: str | None = Field(None, alias="from", pattern=DAY,
                              description="first local day YYYY-MM-DD (with `to`; neither: last month)")
    to: str | None = Field(None, pattern=DAY, description="last local day, inclusive (at most 366 days)")
    by: By | None = Field(None, description="also one row per grid, area, duty, category, person (the handler "
                                            "now) or local month (YYYY-MM)")


class DrillQuery(IndicatorsQuery):
    indicator: IndicatorName = Field(description="the figure whose incidents to list")
    part: Part | None = Field(None, description="numerator (default), denominator, or rest (in the denominator, "
                                                "not the numerator: e.g. the late ones of on_time_closure_rate)")
    key: str | None = Field(None, description="with `by`: only the incidents of this row's key")
    page: int | None = Field(None, ge=1, description="50 a page")


class Figure(BaseModel):
    model_config = ConfigDict(extra="allow")
    value: float | int | None = Field(description="a count, a rate 0–1 (numerator ÷ denominator, null when the "
                                                  "denominator is 0), or hours")
    numerator: int | None
    denominator: int | None
    by_level: dict[str, int] | None = Field(None, description="escalations only")
    by_trigger: dict[str, int] | None = Field(None, description="escalations only")
    by_duty: dict[str, int] | None = Field(None, description="duty_gaps only")


class Row(BaseModel):
    key: str | None = Field(description="a zone code, username, category code, duty or YYYY-MM (null: none, "
                                        "e.g. outside every grid or nobody handling)")
    label: str
    indicators: dict[str, Figure]


class Period(BaseModel):
    from_: date = Field(alias="from")
    to: date


class SubjectRef(BaseModel):
    kind: ScopeKind
    code: str
    name: str


class Indicators(BaseModel):
    """The figures of a subject over a period; each name is defined in `definitions`."""
    period: Period
    scope: SubjectRef
    by: By | None
    indicators: dict[str, Figure]
    rows: list[Row]
    definitions: dict[str, str] = Field(description="each indicator's definition, in the caller's language")


class DrilledIncident(BaseModel):
    id: int
    code: str
    status: str
    category: str
    grid: str | None
    area: str | None
    assignee: str | None
    created_at: datetime
    due_at: datetime | None
    closed_at: datetime | None
    hours: float | None = Field(description="the measured duration, for a time indicator")
    url: str


class DrillPage(BaseModel):
    items: list[DrilledIncident]
    page: int
    next_page: int | None


ERRORS = {400: ("scope_invalid", "code_required", "code_invalid", "day_invalid", "period_invalid",
                "period_too_long", "by_invalid"),
          404: ("town_not_found", "area_not_found", "grid_not_found", "person_not_found")}
DRILL_ERRORS = {**ERRORS, 400: (*ERRORS[400], "indicator_unknown", "part_invalid", "page_invalid", "key_invalid")}
