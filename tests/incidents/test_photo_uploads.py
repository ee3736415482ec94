"""Photo uploads from a phone's queue: idempotent by the photo's client UUID, HEIC decoded on the
server, camera-sized photos shrunk; EXIF (GPS included) never stored."""
import io
import uuid

import pillow_heif
import pytest
from PIL import Image
from sqlalchemy import func, select

from gridsys.incidents import photos
from gridsys.incidents.models import IncidentEvent, IncidentPhoto
from tests.incidents.helpers import act, bearer, error_code, report

GPS_IFD = 0x8825


def camera_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[0x0110] = "Phone 12"  # Model
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (29.0, 30.0, 15.0), 3: "E", 4: (106.0, 20.0, 5.0)})
    return exif


def jpeg(size=(64, 48), colour="green", exif=None) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG", **({"exif": exif.tobytes()} if exif else {}))
    return out.getvalue()


def heic(size=(640, 480)) -> bytes:
    """A real HEIC (HEVC in HEIF) with camera EXIF and GPS, as an iPhone sends it."""
    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.effect_noise(size, 40).convert("RGB").save(out, "HEIF", quality=60, exif=camera_exif().tobytes())
    raw = out.getvalue()
    assert raw[4:12] == b"ftypheic"
    assert Image.open(io.BytesIO(raw)).getexif().get_ifd(GPS_IFD)  # the fixture really carries GPS
    return raw


@pytest.fixture
def incident(session, world):
    return report(session, world.general1, "g11", "0201")


@pytest.fixture
def handler(session, world):
    return bearer(session, world.safety1)


def send(client, incident, headers, raw, client_uuid=None, name="p.jpg"):
    data = {"photo": (io.BytesIO(raw), name)}
    if client_uuid is not None:
        data["client_uuid"] = client_uuid
    return client.post(f"/api/v1/incidents/{incident.id}/photos", data=data, headers=headers,
                       content_type="multipart/form-data")


def stored(session, incident=None) -> list[IncidentPhoto]:
    query = select(IncidentPhoto).order_by(IncidentPhoto.id)
    if incident is not None:
        query = query.where(IncidentPhoto.incident_id == incident.id)
    return list(session.scalars(query))


def photo_events(session) -> int:
    return session.scalar(select(func.count()).select_from(IncidentEvent).where(IncidentEvent.action == "photo"))


# --- idempotency ----------------------------------------------------------------------------------

def test_same_client_uuid_again_returns_the_stored_photo(client, session, world, incident, handler):
    key = str(uuid.uuid4())
    first = send(client, incident, handler, jpeg(), key)
    again = send(client, incident, handler, jpeg(), key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json() == again.get_json()
    assert first.get_json()["client_uuid"] == key
    assert [str(p.client_uuid) for p in stored(session)] == [key]
    assert photo_events(session) == 1  # the audit trail logs the photo once


def test_a_resend_keeps_the_first_copy(client, session, world, incident, handler):
    key = str(uuid.uuid4())
    send(client, incident, handler, jpeg(colour="green"), key)
    again = send(client, incident, handler, jpeg(size=(80, 60), colour="red"), key)
    assert again.status_code == 200 and (again.get_json()["width"], again.get_json()["height"]) == (64, 48)
    assert len(stored(session)) == 1


def test_resend_after_the_incident_closed_still_answers_with_the_stored_photo(client, session, world, incident,
                                                                              handler):
    key = str(uuid.uuid4())
    first = send(client, incident, handler, jpeg(), key)
    act(session, incident, world.leader1, "cancel", note="重复上报")
    again = send(client, incident, handler, jpeg(), key)
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    late = send(client, incident, handler, jpeg(), str(uuid.uuid4()))
    assert (late.status_code, error_code(late)) == (409, "incident_final")


def test_client_uuid_of_another_incidents_photo_is_a_conflict(client, session, world, incident, handler):
    key = str(uuid.uuid4())
    assert send(client, incident, handler, jpeg(), key).status_code == 201
    other = report(session, world.general1, "g11", "0202")
    response = send(client, other, handler, jpeg(), key)
    assert (response.status_code, error_code(response)) == (409, "photo_uuid_conflict")
    assert response.get_json()["error"]["message"]
    assert stored(session, other) == [] and len(stored(session)) == 1 and photo_events(session) == 1


def test_uploads_without_client_uuid_are_each_stored(client, session, world, incident, handler):
    for _ in range(2):
        response = send(client, incident, handler, jpeg())
        assert response.status_code == 201 and response.get_json()["client_uuid"] is None
    assert len(stored(session)) == 2


def test_empty_client_uuid_is_no_client_uuid(client, session, world, incident, handler):
    response = send(client, incident, handler, jpeg(), "")
    assert response.status_code == 201 and response.get_json()["client_uuid"] is None


@pytest.mark.parametrize("value", ["not-a-uuid", "1234", "g" * 32, "12345678-1234-5678-1234-56781234567Z",
                                   "x" * 100_000, " ", "true", "00000000-0000-0000-0000-00000000000000"])
def test_invalid_client_uuid_is_refused_and_nothing_is_stored(client, session, world, incident, handler, value):
    response = send(client, incident, handler, jpeg(), value)
    assert (response.status_code, error_code(response)) == (400, "client_uuid_invalid")
    assert len(response.get_json()["error"]["message"]) < 300
    assert stored(session) == [] and photo_events(session) == 0


def test_nul_in_client_uuid_is_refused_at_the_door(client, session, world, incident, handler):
    response = send(client, incident, handler, jpeg(), "\x00" + str(uuid.uuid4()))
    assert (response.status_code, error_code(response)) == (400, "nul_byte")
    assert stored(session) == []


def test_upper_case_and_braced_uuids_are_the_same_key(client, session, world, incident, handler):
    key = uuid.uuid4()
    first = send(client, incident, handler, jpeg(), str(key).upper())
    again = send(client, incident, handler, jpeg(), "{" + str(key) + "}")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["client_uuid"] == again.get_json()["client_uuid"] == str(key)


def test_an_outsider_cannot_probe_someone_elses_client_uuid(client, session, world, incident, handler):
    key = str(uuid.uuid4())
    send(client, incident, handler, jpeg(), key)
    response = send(client, incident, bearer(session, world.worker21), jpeg(), key)
    assert (response.status_code, error_code(response)) == (404, "incident_not_found")


def test_incident_json_lists_each_photos_client_uuid(client, session, world, incident, handler):
    key = str(uuid.uuid4())
    send(client, incident, handler, jpeg(), key)
    send(client, incident, handler, jpeg())
    got = client.get(f"/api/v1/incidents/{incident.id}", headers=handler).get_json()
    assert [p["client_uuid"] for p in got["photos"]] == [key, None]
    assert all(p["url"] and p["thumbnail_url"] for p in got["photos"])


def test_a_bad_photo_with_a_client_uuid_leaves_the_uuid_free(client, session, world, incident, handler):
    key = str(uuid.uuid4())
    bad = send(client, incident, handler, b"not a picture at all", key)
    assert (bad.status_code, error_code(bad)) == (415, "photo_not_image")
    assert stored(session) == []
    assert send(client, incident, handler, jpeg(), key).status_code == 201  # the retry with a real photo works


# --- HEIC and camera-sized photos ---------------------------------------------------------------

def test_heic_is_decoded_and_stored_as_jpeg_without_exif(client, session, world, incident, handler):
    response = send(client, incident, handler, heic(), str(uuid.uuid4()), name="IMG_0001.HEIC")
    assert response.status_code == 201, response.get_json()
    [photo] = stored(session)
    image = Image.open(io.BytesIO(photo.data))
    assert image.format == "JPEG" and image.size == (photo.width, photo.height) == (640, 480)
    assert len(image.getexif()) == 0 and not image.getexif().get_ifd(GPS_IFD)
    assert "exif" not in image.info
    thumb = Image.open(io.BytesIO(photo.thumbnail))
    assert thumb.format == "JPEG" and len(thumb.getexif()) == 0


def test_heic_is_recognised_by_content_not_name(client, session, world, incident, handler):
    response = send(client, incident, handler, heic((64, 48)), name="photo.jpg")
    assert response.status_code == 201


@pytest.mark.parametrize("garbage", [
    b"\x00\x00\x00\x1cftypheic\x00\x00\x00\x00mif1heicmiaf" + bytes(range(256)) * 8,  # a HEIC header, then noise
    b"\x00\x00\x00\x18ftypheic" + b"\x00" * 200,
], ids=["header-then-noise", "header-then-zeros"])
def test_heic_that_is_garbage_is_refused(client, session, world, incident, handler, garbage):
    response = send(client, incident, handler, garbage, str(uuid.uuid4()), name="x.heic")
    assert (response.status_code, error_code(response)) == (415, "photo_not_image")
    assert stored(session) == [] and photo_events(session) == 0


def test_truncated_heic_is_refused(client, session, world, incident, handler):
    raw = heic()
    response = send(client, incident, handler, raw[:len(raw) - 200], name="x.heic")
    assert (response.status_code, error_code(response)) == (415, "photo_not_image")
    assert stored(session) == []


def test_heic_pixel_limit_is_checked_before_decoding(client, session, world, incident, handler, monkeypatch):
    raw = heic((200, 150))
    decoded = []
    heif_image = type(Image.open(io.BytesIO(raw)))
    original_load = heif_image.load
    monkeypatch.setattr(heif_image, "load", lambda self, *a, **k: decoded.append(1) or original_load(self, *a, **k))
    monkeypatch.setattr(photos, "MAX_PIXELS", {**photos.MAX_PIXELS, "HEIF": 100 * 100})
    response = send(client, incident, handler, raw, name="big.heic")
    assert (response.status_code, error_code(response)) == (413, "photo_too_large")
    assert decoded == [] and stored(session) == []


def test_a_camera_sized_jpeg_is_shrunk_and_loses_its_exif(client, session, world, incident, handler):
    raw = jpeg(size=(4000, 3000), colour=(120, 130, 140), exif=camera_exif())
    assert Image.open(io.BytesIO(raw)).getexif().get_ifd(GPS_IFD)
    response = send(client, incident, handler, raw, str(uuid.uuid4()))
    assert response.status_code == 201
    [photo] = stored(session)
    image = Image.open(io.BytesIO(photo.data))
    assert image.size == (photos.MAX_SIDE, photos.MAX_SIDE * 3 // 4) == (photo.width, photo.height)
    assert len(image.getexif()) == 0 and "exif" not in image.info
