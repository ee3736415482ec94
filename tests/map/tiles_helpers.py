"""Tile arithmetic (Web Mercator, XYZ) and MVT decoding for the tile tests."""
from __future__ import annotations

import math

import mapbox_vector_tile


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2 ** z
    x = int((lon + 180.0) / 360.0 * n)
    rad = math.radians(lat)
    y = int((1.0 - math.log(math.tan(rad) + 1.0 / math.cos(rad)) / math.pi) / 2.0 * n)
    return z, x, y


def children(z: int, x: int, y: int) -> list[tuple[int, int, int]]:
    return [(z + 1, 2 * x + dx, 2 * y + dy) for dx in (0, 1) for dy in (0, 1)]


def decode(body: bytes) -> dict:
    """{layer: [feature, …]} with each feature's ``id``, ``properties`` and ``geometry``."""
    if not body:
        return {}
    return {name: layer["features"] for name, layer in mapbox_vector_tile.decode(body).items()}


def incident_count(layers: dict) -> int:
    """Incidents a tile stands for: its single incidents plus the counts of its clusters."""
    return len(layers.get("incidents", [])) + sum(f["properties"]["count"] for f in layers.get("clusters", []))


def fetch(client, path: str, headers=None):
    """GET a tile and decode it (asserting it is a tile answer)."""
    response = client.get(path, headers=headers or {})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/vnd.mapbox-vector-tile"
    return response, decode(response.data)
