"""Photos: checked by content, re-encoded (which drops EXIF, GPS included), thumbnailed; an
upload from a phone is stored once per client UUID however often it is resent. The handler or a
leader marks a photo public (an "after" photo the resident and the public results may show)."""
from __future__ import annotations

import functools
import hashlib
import io
import threading
import uuid
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import Conflict, Forbidden, GridsysError, NotFound
from ..people.access import Scope
from ..people.models import User
from . import events, scoping
from .models import Incident, IncidentEvent, IncidentPhoto

MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTOS_PER_INCIDENT = 20
# The documented formats: JPEG (MPO is a camera's JPEG with extra pictures), PNG, WebP, and HEIF
# (HEIC from phone cameras). Pixels allowed per format, checked from the header before decoding:
# a JPEG is decoded at a reduced scale (draft mode), so a 50 MP phone photo costs little; the
# others are decoded whole, so they may be smaller (a 40 MP PNG took 510 MB).
MAX_PIXELS = {"JPEG": 52_000_000, "MPO": 52_000_000, "HEIF": 52_000_000, "PNG": 16_000_000, "WEBP": 16_000_000}
ACCEPTED_FORMATS = set(MAX_PIXELS)
# Images decoded at once in one server process: a handful of hostile files cannot add up.
DECODING = threading.BoundedSemaphore(2)
MAX_SIDE = 2048
THUMB_SIDE = 320


def _reencode(img: Image.Image, side: int) -> bytes:
    img = img.copy()
    img.thumbnail((side, side))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85, optimize=True)  # no exif= argument: metadata is not written
    return out.getvalue()


@functools.cache
def _read_heif() -> None:
    """Let Pillow open HEIF/HEIC (which browsers cannot decode, so phones send it as it is).
    Registered on first use, not at import; only the primary image is wanted."""
    from pillow_heif import register_heif_opener
    register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)


def process(raw: bytes) -> tuple[bytes, bytes, int, int]:
    """Return (jpeg, thumbnail, width, height) for an uploaded image, or refuse it. Opening reads
    only the header, so the pixel limit is checked before anything is decoded."""
    _read_heif()
    if not raw:
        raise GridsysError("photo_empty", "the photo file is empty")
    if len(raw) > MAX_PHOTO_BYTES:
        raise GridsysError("photo_too_large", f"a photo is at most {MAX_PHOTO_BYTES // (1024 * 1024)} MB",
                           status=413)
    with DECODING:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img = Image.open(io.BytesIO(raw))
                if img.format not in ACCEPTED_FORMATS:
                    raise GridsysError("photo_type_unsupported", f"{img.format} images are not accepted: send "
                                                                 "a JPEG, PNG, WebP or HEIC photo", status=415)
                if img.width * img.height > MAX_PIXELS[img.format]:
                    raise GridsysError("photo_too_large", "the photo has too many pixels", status=413,
                                       max_pixels=MAX_PIXELS[img.format])
                if img.format in ("JPEG", "MPO"):
                    img.draft("RGB", (MAX_SIDE, MAX_SIDE))   # decoded at 1/2, 1/4 or 1/8 scale
                img.load()
                img.thumbnail((MAX_SIDE, MAX_SIDE))          # in place: what is kept, and no more
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


def add_photo(session: Session, incident: Incident, user: User | None, raw: bytes,
              event: IncidentEvent | None = None, client_uuid: uuid.UUID | None = None) -> IncidentPhoto:
    count = session.scalar(select(func.count()).where(IncidentPhoto.incident_id == incident.id))
    if count >= MAX_PHOTOS_PER_INCIDENT:
        raise GridsysError("too_many_photos", f"an incident has at most {MAX_PHOTOS_PER_INCIDENT} photos",
                           status=409)
    if not incident.is_open and incident.status != "resolved":
        raise GridsysError("incident_final", f"the incident is {incident.status}: photos can no longer be added",
                           status=409)
    jpeg, thumb, width, height = process(raw)
    photo = IncidentPhoto(incident_id=incident.id, event_id=event.id if event else None, uploaded_by=user.id if user else None,   # None: a resident's (no account)
                          width=width, height=height, sha256=hashlib.sha256(jpeg).hexdigest(),
                          data=jpeg, thumbnail=thumb, client_uuid=client_uuid)
    session.add(photo)
    session.flush()
    return photo


def parse_photo_uuid(value) -> uuid.UUID | None:
    """The optional client UUID of an upload (made on the phone, kept across retries)."""
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, str) or len(value) > 45:
            raise ValueError
        return uuid.UUID(value)
    except ValueError:
        raise GridsysError("client_uuid_invalid", "client_uuid of a photo is a UUID made on the phone "
                                                  "(e.g. crypto.randomUUID()), one per photo", status=400)


def _stored_upload(session: Session, incident: Incident, client_uuid: uuid.UUID) -> IncidentPhoto | None:
    stored = session.scalar(select(IncidentPhoto).where(IncidentPhoto.client_uuid == client_uuid))
    if stored is not None and stored.incident_id != incident.id:
        raise Conflict("photo_uuid_conflict", "this client_uuid belongs to a photo of another incident: "
                                              "make a new one for each photo")
    return stored


def upload_photo(session: Session, incident: Incident, user: User, raw: bytes,
                 client_uuid: uuid.UUID | None = None) -> tuple[IncidentPhoto, bool]:
    """Attach an uploaded photo and log it; returns (photo, created). The same client UUID again
    returns the stored photo (created=False) before any check, so a retry of an upload that was
    stored succeeds even once the incident is closed; a racing duplicate loses on the unique
    index and gets the winner's photo."""
    if client_uuid is not None:
        stored = _stored_upload(session, incident, client_uuid)
        if stored is not None:
            return stored, False
    try:
        with session.begin_nested():
            photo = add_photo(session, incident, user, raw, client_uuid=client_uuid)
    except IntegrityError:
        stored = _stored_upload(session, incident, client_uuid) if client_uuid is not None else None
        if stored is None:
            raise
        return stored, False
    events.record(session, incident, user, "photo", incident.status, incident.status,
                    data={"photo_id": photo.id})
    return photo, True


def may_publish(user: User, scope: Scope, incident: Incident) -> bool:
    """Who decides what of an incident's photos the public sees: its handler, and the leaders and
    administrators in scope (the people who answer for what was done)."""
    return incident.assignee_id == user.id or scoping.manages_incident(scope, incident)


def set_public(session: Session, incident: Incident, user: User, scope: Scope, photo_id, public) -> IncidentPhoto:
    """Mark one of the incident's photos public (shown to the resident who reported it and on the
    public results) or private again; logged on the incident. Refused to anyone but ``may_publish``."""
    if not isinstance(public, bool):
        raise GridsysError("public_invalid", "public is true or false", status=400)
    if not may_publish(user, scope, incident):
        raise Forbidden("actor_not_allowed", "only the handler or the area's leader decides which photos are public")
    photo = session.scalar(select(IncidentPhoto).where(IncidentPhoto.id == photo_id,
                                                       IncidentPhoto.incident_id == incident.id)) \
        if isinstance(photo_id, int) and 0 < photo_id < 2**31 else None
    if photo is None:
        raise NotFound("photo_not_found", f"no photo {photo_id} on this incident")
    if public and photo.uploaded_by is None:   # a resident's own photo: they never agreed to publish it
        raise Conflict("photo_not_publishable", "a photo the resident sent is never published: publish an 'after' "
                                                "photo taken by the handler")
    if photo.public != public:
        photo.public = public
        events.record(session, incident, user, "photo_public", incident.status, incident.status,
                      data={"photo_id": photo.id, "public": public})
    return photo
