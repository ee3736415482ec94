"""Photos: checked by content, re-encoded without EXIF (GPS included), thumbnailed, served only
to people in scope and never from a static path."""
import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

import gridsys
from gridsys.incidents.models import IncidentPhoto
from gridsys.incidents.photos import MAX_PHOTO_BYTES, THUMB_SIDE
from tests.incidents.helpers import act, bearer, error_code, report

GPS_IFD = 0x8825  # 34853


def jpeg_with_gps(size=(1200, 900)) -> bytes:
    img = Image.new("RGB", size, (200, 40, 40))
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (29.0, 30.0, 15.0), 3: "E", 4: (106.0, 20.0, 5.0)})
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    raw = out.getvalue()
    assert Image.open(io.BytesIO(raw)).getexif().get_ifd(GPS_IFD)  # the fixture really carries GPS
    return raw


@pytest.fixture
def incident(session, world):
    return report(session, world.general1, "g11", "0201")


def upload(client, session, user, incident, data):
    return client.post(f"/api/v1/incidents/{incident.id}/photos", data=data, headers=bearer(session, user),
                       content_type="multipart/form-data")


def stored(session, incident) -> list[IncidentPhoto]:
    return list(session.scalars(select(IncidentPhoto).where(IncidentPhoto.incident_id == incident.id)))


def test_upload_strips_exif_and_gps_and_makes_a_thumbnail(client, session, world, incident):
    response = upload(client, session, world.safety1, incident, {"photo": (io.BytesIO(jpeg_with_gps()), "p.jpg")})
    assert response.status_code == 201, response.get_json()
    [photo] = stored(session, incident)
    data = Image.open(io.BytesIO(photo.data))
    assert data.format == "JPEG" and data.size == (photo.width, photo.height) == (1200, 900)
    assert GPS_IFD not in data.getexif() and not data.getexif().get_ifd(GPS_IFD)
    assert len(data.getexif()) == 0
    thumb = Image.open(io.BytesIO(photo.thumbnail))
    assert max(thumb.size) <= THUMB_SIDE and len(thumb.getexif()) == 0


def test_camera_orientation_is_applied_before_exif_is_dropped(client, session, world, incident):
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    out = io.BytesIO()
    Image.new("RGB", (400, 300), "white").save(out, "JPEG", exif=exif.tobytes())
    response = upload(client, session, world.safety1, incident, {"photo": (io.BytesIO(out.getvalue()), "p.jpg")})
    assert response.status_code == 201 and (response.get_json()["width"], response.get_json()["height"]) == (300, 400)


@pytest.mark.parametrize("mode,fmt", [("RGBA", "PNG"), ("P", "PNG"), ("RGB", "WEBP")])
def test_other_image_formats_are_stored_as_jpeg(client, session, world, incident, mode, fmt):
    out = io.BytesIO()
    Image.new(mode, (400, 300)).save(out, fmt)
    response = upload(client, session, world.safety1, incident, {"photo": (io.BytesIO(out.getvalue()), "x")})
    assert response.status_code == 201, response.get_json()
    assert Image.open(io.BytesIO(stored(session, incident)[0].data)).format == "JPEG"


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_formats_outside_the_documented_ones_are_refused(client, session, world, incident, fmt):
    out = io.BytesIO()
    Image.new("RGB", (40, 30)).save(out, fmt)
    response = upload(client, session, world.safety1, incident, {"photo": (io.BytesIO(out.getvalue()), "x.jpg")})
    assert (response.status_code, error_code(response)) == (415, "photo_type_unsupported")
    assert stored(session, incident) == []


def test_text_file_named_jpg_is_refused_by_content(client, session, world, incident):
    response = upload(client, session, world.safety1, incident,
                      {"photo": (io.BytesIO(b"%PDF-1.4 definitely not a photo"), "photo.jpg")})
    assert (response.status_code, error_code(response)) == (415, "photo_not_image")
    assert stored(session, incident) == []


def test_truncated_jpeg_is_refused(client, session, world, incident):
    raw = jpeg_with_gps()
    response = upload(client, session, world.safety1, incident, {"photo": (io.BytesIO(raw[:len(raw) // 3]), "p.jpg")})
    assert (response.status_code, error_code(response)) == (415, "photo_not_image")
    assert stored(session, incident) == []


def test_empty_file_is_refused(client, session, world, incident):
    response = upload(client, session, world.safety1, incident, {"photo": (io.BytesIO(b""), "p.jpg")})
    assert (response.status_code, error_code(response)) == (422, "photo_empty")
    assert stored(session, incident) == []


def test_file_over_ten_megabytes_is_refused(client, session, world, incident):
    raw = b"\xff\xd8\xff\xe0" + bytes(MAX_PHOTO_BYTES - 3)
    assert MAX_PHOTO_BYTES == 10 * 1024 * 1024 and len(raw) == MAX_PHOTO_BYTES + 1
    # Encoded in memory: the test client would spool a body this big to a temporary file it never closes.
    boundary, body = encode_multipart({"photo": FileStorage(io.BytesIO(raw), "big.jpg", content_type="image/jpeg")})
    response = client.post(f"/api/v1/incidents/{incident.id}/photos", data=body,
                           content_type=f"multipart/form-data; boundary={boundary}",
                           headers=bearer(session, world.safety1))
    assert (response.status_code, error_code(response)) == (413, "photo_too_large")
    assert stored(session, incident) == []


def test_missing_field_is_400(client, session, world, incident):
    response = upload(client, session, world.safety1, incident, {"picture": (io.BytesIO(jpeg_with_gps()), "p.jpg")})
    assert (response.status_code, error_code(response)) == (400, "photo_missing")


def test_upload_to_an_incident_out_of_scope_is_404(client, session, world, incident):
    response = upload(client, session, world.worker21, incident, {"photo": (io.BytesIO(jpeg_with_gps()), "p.jpg")})
    assert (response.status_code, error_code(response)) == (404, "incident_not_found")
    assert stored(session, incident) == []


def test_no_photos_on_a_closed_incident(client, session, world, incident):
    act(session, incident, world.leader1, "cancel", note="重复上报")
    response = upload(client, session, world.leader1, incident, {"photo": (io.BytesIO(jpeg_with_gps()), "p.jpg")})
    assert (response.status_code, error_code(response)) == (409, "incident_final")
    assert stored(session, incident) == []


@pytest.fixture
def photo(client, session, world, incident):
    response = upload(client, session, world.safety1, incident, {"photo": (io.BytesIO(jpeg_with_gps()), "p.jpg")})
    assert response.status_code == 201
    return response.get_json()


@pytest.mark.parametrize("suffix", ["", "/thumb"])
def test_photo_is_served_privately_to_people_in_scope(client, session, world, incident, photo, suffix):
    response = client.get(photo["url"] + suffix, headers=bearer(session, world.leader1))
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert "private" in response.headers["Cache-Control"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert Image.open(io.BytesIO(response.data)).format == "JPEG"


@pytest.mark.parametrize("suffix", ["", "/thumb"])
def test_photo_is_404_out_of_scope(client, session, world, incident, photo, suffix):
    response = client.get(photo["url"] + suffix, headers=bearer(session, world.worker21))
    assert response.status_code == 404 and response.mimetype != "image/jpeg"


def test_anonymous_photo_request_goes_to_login(client, world, photo):
    response = client.get(photo["url"])
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_photo_of_another_incident_is_404_even_in_scope(client, session, world, incident, photo):
    other = report(session, world.general1, "g11", "0101")
    response = client.get(f"/incidents/{other.id}/photos/{photo['id']}", headers=bearer(session, world.leader1))
    assert response.status_code == 404


def test_photos_are_never_under_static(client, session, world, incident, photo):
    static = Path(gridsys.__file__).parent / "static"
    listing = client.get(f"/api/v1/incidents/{incident.id}", headers=bearer(session, world.leader1)).get_json()
    urls = [photo["url"]] + [u for p in listing["photos"] for u in (p["url"], p["thumbnail_url"])]
    assert len(urls) == 3 and not any(u.startswith("/static") for u in urls)
    assert all(u.startswith(f"/incidents/{incident.id}/photos/") for u in urls)
    sha = session.scalar(select(IncidentPhoto.sha256).where(IncidentPhoto.id == photo["id"]))
    assert not [p for p in static.rglob("*") if sha in p.name or p.suffix.lower() in (".jpg", ".jpeg")]
    assert client.get(f"/static/{sha}.jpg").status_code == 404

