"""What the hostile-input corpus is made of: the ``Case`` record, a builder per input path, and
the hostile values themselves (deep nesting, lone surrogates, NUL, invisible text, numbers out of
range, broken GeoJSON, images that lie about their size). The cases are in cases_*.py; the table
that gathers them is corpus.py."""
from __future__ import annotations

import io
import json
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

from PIL import Image

from gridsys.config import DEFAULTS
from tests.factories import ORIGIN, STEP
from tests.incidents.helpers import lonlat
from tests.zones.test_geometry_input import SQUARE, ring

NOTHING = object()
MB = 1024 * 1024
DATA_LIMIT = DEFAULTS["MAX_DATA_LENGTH"]      # JSON, GeoJSON, urlencoded forms (read into memory)
UPLOAD_LIMIT = DEFAULTS["MAX_CONTENT_LENGTH"]  # multipart bodies
INT4_OVER = 2147483648      # one past PostgreSQL's integer

TOWN, A1, A2 = "500106901", "500106901001", "500106901002"
G11, G12, G21 = A1 + "001", A1 + "002", A2 + "001"
MISSING_GRID = A1 + "999"
SQLISH = "'; DROP TABLE incidents; --"
SQL_OR = "' OR '1'='1"
SCRIPT = "<script>alert(1)</script>"
SURROGATE = "bad\udfff"     # sent as the JSON escape \udfff (json.dumps keeps it ASCII)
NUL = "a\x00b"


@dataclass(frozen=True)
class Case:
    id: str
    path: str                               # json, form, upload, geojson, query, header, cli
    url: str = ""
    method: str = "POST"
    who: str = "token:admin"
    json: Any = NOTHING                     # sent with json.dumps (lone surrogates escaped, NaN as NaN)
    body: bytes | str | Callable[[], bytes] | None = None   # sent exactly as it is
    content_type: str | None = None
    form: dict | None = None
    files: dict | None = None               # field -> bytes (or a callable making them)
    headers: dict = field(default_factory=dict)
    csrf: bool | str = True                 # browsers: the page's token, none, or this forged one
    chunked: bool = False                   # no Content-Length: the body ends where the stream ends
    cli: tuple[str, ...] = ()               # arguments; "{file}" names a file holding ``file``
    file: bytes | Callable[[], bytes] | None = None
    stdin: bytes | None = None
    status: int | tuple[int, ...] = 400     # the HTTP status expected (303: a refusal flashed on the page)
    code: str | tuple[str, ...] = ""        # the stable code expected (any of a tuple)
    xfail: str | None = None                # a known bug not fixed yet: why (strict: it must still fail)
    login_failure: bool = False             # a refused login is counted (login_failures gains its row)


def _case(path, defaults):
    def make(id, url="", *, code, status=None, **kw):
        return Case(id=id, path=path, url=url, code=code, **{**defaults, **({"status": status} if status else {}),
                                                             **kw})
    return make


api = _case("json", {"who": "token:admin"})
shape = _case("geojson", {"who": "token:admin"})
form = _case("form", {"who": "browser:admin"})
upload = _case("upload", {"who": "token:safety1"})
query = _case("query", {"method": "GET", "who": "token:leader1"})
header = _case("header", {"method": "GET", "who": "none"})


def cli(id, *args, code, file=None, stdin=None):
    return Case(id=id, path="cli", cli=tuple(args), code=code, file=file, stdin=stdin, status=0)


# --- hostile values -------------------------------------------------------------------------

def huge_json() -> bytes:
    """A JSON object just past the limit on bodies read into memory."""
    return b'{"description": "' + b"x" * DATA_LIMIT + b'"}'


def image(fmt: str, size=(40, 30), mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "red" if mode != "P" else 1).save(out, fmt)
    return out.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels in its header, with one tiny row of data: the
    decoder's memory would follow the header, not the file's size."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + \
        chunk(b"IEND", b"")


def truncated_jpeg() -> bytes:
    whole = image("JPEG", (400, 300))
    return whole[: len(whole) // 2]


def jpeg() -> bytes:
    return image("JPEG")


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def too_many_positions(n=25_001):
    """A closed ring of n positions: past geo.MAX_POSITIONS, refused before any geometry work."""
    import math
    ring_ = [[106.02 + 0.01 * math.cos(2 * math.pi * i / n), 29.02 + 0.01 * math.sin(2 * math.pi * i / n)]
             for i in range(n - 1)]
    return {"type": "Polygon", "coordinates": [ring_ + [ring_[0]]]}


def box_units(x0, y0, x1, y1) -> list:
    """A closed ring in the factories' units (about 1 km) from the test town's corner."""
    return [[ORIGIN[0] + x * STEP, ORIGIN[1] + y * STEP] for x, y in
            ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))]


def raw_json(value: dict, **raw: str) -> str:
    """``value`` as JSON text with some members spliced in as raw JSON text (nesting too deep for
    json.dumps, 1e309, Infinity)."""
    text_ = json.dumps({**value, **{key: f"@{key}@" for key in raw}})
    for key, piece in raw.items():
        text_ = text_.replace(f'"@{key}@"', piece)
    return text_


def report_body(**changes) -> dict:
    lon, lat = lonlat("g11")
    body = {"client_uuid": "0f8d3c1e-2b6a-4c55-9e1d-7a6b5c4d3e2f", "lon": lon, "lat": lat, "category": "0201",
            "description": "路口井盖缺失"}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not NOTHING}


BOWTIE = ring((0, 0), (10, 10), (10, 0), (0, 10), (0, 0))
UNCLOSED = SQUARE[:-1] + [[SQUARE[0][0] + 0.0001, SQUARE[0][1]]]
G11_SHAPE = {"type": "Polygon", "coordinates": [box_units(0, 0, 5, 5.5)]}
CRS_3857 = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}
NAN_RING = [[float("nan"), 29.0], [106.01, 29.0], [106.01, 29.01], [float("nan"), 29.0]]
INF_RING = [[float("inf"), 29.0], [106.01, 29.0], [106.01, 29.01], [float("inf"), 29.0]]
