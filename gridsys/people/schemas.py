"""What the people API answers, declared once (the OpenAPI document is generated from these models)."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Worker(BaseModel):
    username: str
    display_name: str
    duty: str
    backup: bool


class GridDetail(BaseModel):
    code: str
    name: str
    area: str
    geometry: dict[str, Any] = Field(description="GeoJSON Polygon (empty for a retired grid)")
    workers: list[Worker] = Field(description="current assignments, by duty")
