"""Photos: checked by content, re-encoded (which drops EXIF, GPS included), thumbnailed."""
from __future__ import annotations

import hashlib
import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import GridsysError
from ..people.models import User
from .models import Incident, IncidentEvent, IncidentPhoto

MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_PHOTOS_PER_INCIDENT = 20
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "MPO"}
MAX_SIDE = 2048
THUMB_SIDE = 320


def _reencode(img: Image.Image, side: int) -> bytes:
    img = img.copy()
    img.thumbnail((side, side))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85, optimize=True)  # no exif= argument: metadata is not written
    return out.getvalue()


def process(raw: bytes) -> tuple[bytes, bytes, int, int]:
    """Return (jpeg, thumbnail, width, height) for an uploaded image, or refuse it."""
    if not raw:
        raise GridsysError("photo_empty", "the photo file is empty")
    if len(raw) > MAX_PHOTO_BYTES:
        raise GridsysError("photo_too_large", f"a photo is at most {MAX_PHOTO_BYTES // (1024 * 1024)} MB",
                           status=413)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(raw))
            if img.format not in ACCEPTED_FORMATS:
                raise GridsysError("photo_type_unsupported", f"{img.format} images are not accepted: send "
                                                             "a JPEG, PNG or WebP photo", status=415)
            if img.width * img.height > MAX_PIXELS:
                raise GridsysError("photo_too_large", "the photo has too many pixels", status=413)
            img.load()
            img = ImageOps.exif_transpose(img)
    except GridsysError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            OSError, SyntaxError, ValueError) as exc:
        raise GridsysError("photo_not_image", "the file is not a readable image (checked by its content, "
                                              f"not its name): {type(exc).__name__}", status=415)
    if img.mode not in ("RGB", "L"):
        background = Image.new("RGB", img.size, "white")
        rgba = img.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        img = background
    jpeg = _reencode(img, MAX_SIDE)
    return jpeg, _reencode(img, THUMB_SIDE), *Image.open(io.BytesIO(jpeg)).size


def add_photo(session: Session, incident: Incident, user: User, raw: bytes,
              event: IncidentEvent | None = None) -> IncidentPhoto:
    count = session.scalar(select(func.count()).where(IncidentPhoto.incident_id == incident.id))
    if count >= MAX_PHOTOS_PER_INCIDENT:
        raise GridsysError("too_many_photos", f"an incident has at most {MAX_PHOTOS_PER_INCIDENT} photos",
                           status=409)
    if not incident.is_open and incident.status != "resolved":
        raise GridsysError("incident_final", f"the incident is {incident.status}: photos can no longer be added",
                           status=409)
    jpeg, thumb, width, height = process(raw)
    photo = IncidentPhoto(incident_id=incident.id, event_id=event.id if event else None, uploaded_by=user.id,
                          width=width, height=height, sha256=hashlib.sha256(jpeg).hexdigest(),
                          data=jpeg, thumbnail=thumb)
    session.add(photo)
    session.flush()
    return photo
