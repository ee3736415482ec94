"""Two connections uploading the same photo (same client UUID) at once: one copy is stored, the
loser gets the winner's photo (or 409 when it named another incident), never a 500.

Real concurrent connections need committed data: the fixture commits a small town of its own
(code 500106905) and deletes it afterwards, as in test_concurrency.py."""
from __future__ import annotations

import io
import threading
import uuid
from types import SimpleNamespace

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridsys import create_app
from gridsys.errors import Conflict
from gridsys.incidents import photos, services
from gridsys.incidents.catalogue import load_catalogue
from gridsys.incidents.models import Category, Incident, IncidentEvent, IncidentPhoto
from gridsys.people import services as people
from gridsys.people.models import User
from tests.committed import Racer, backend_pid, clean_up, wait_until_blocked
from tests.factories import ORIGIN, STEP, cell, make_area, make_grid, make_town
from tests.incidents.helpers import CATALOGUE

TOWN = "500106905"
USERNAMES = ("race-photo-worker",)


def jpeg(colour="green") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def committed(engine, password_hash):
    clean_up(engine, TOWN, USERNAMES)
    with Session(engine, expire_on_commit=False) as s:
        before = set(s.scalars(select(Category.code)))
        load_catalogue(s, CATALOGUE.read_bytes())
        new_codes = set(s.scalars(select(Category.code))) - before
        town = make_town(s, TOWN, cell(120, 120, 130, 130), name="照片并发测试镇")
        area = make_area(s, town, 1, cell(120, 120, 130, 130))
        grid = make_grid(s, area, 1, cell(120, 120, 130, 130))
        worker, _ = people.create_user(s, USERNAMES[0], roles=["grid_worker"], password_hash=password_hash)
        people.assign_grid(s, worker, grid.code, "general")
        incidents = []
        for _ in range(2):
            incident, _ = services.create_incident(s, worker, services.NewIncident(
                client_uuid=uuid.uuid4(), lon=ORIGIN[0] + 125 * STEP, lat=ORIGIN[1] + 125 * STEP,
                category="0201", description="照片并发"))
            incidents.append(incident.id)
        _row, token = people.create_token(s, worker, "race")
        s.commit()
        found = SimpleNamespace(worker_id=worker.id, incident_ids=incidents, token=token)
    try:
        yield found
    finally:
        clean_up(engine, TOWN, USERNAMES, new_codes)


def count(engine, model, *where) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_racing_duplicate_upload_gets_the_stored_photo(engine, committed):
    key = uuid.uuid4()
    incident_id = committed.incident_ids[0]
    with Session(engine, expire_on_commit=False) as first, Session(engine, expire_on_commit=False) as second:
        mine, created = photos.upload_photo(first, first.get(Incident, incident_id),
                                            first.get(User, committed.worker_id), jpeg(), key)
        assert created  # flushed, not committed: the unique index entry is held by this transaction
        pid = backend_pid(second)

        def duplicate():
            result = photos.upload_photo(second, second.get(Incident, incident_id),
                                         second.get(User, committed.worker_id), jpeg("red"), key)
            second.commit()
            return result
        racer = Racer(duplicate)
        wait_until_blocked(engine, pid, racer)  # the duplicate waits on the unique index
        first.commit()
        racer.join()
        assert racer.error is None, racer.error
        theirs, created = racer.result
        assert (theirs.id, created) == (mine.id, False)
    assert count(engine, IncidentPhoto, IncidentPhoto.client_uuid == key) == 1
    assert count(engine, IncidentEvent, IncidentEvent.incident_id == incident_id, IncidentEvent.action == "photo") == 1


def test_racing_upload_of_the_same_uuid_to_another_incident_is_a_conflict(engine, committed):
    key = uuid.uuid4()
    first_id, other_id = committed.incident_ids
    with Session(engine, expire_on_commit=False) as first, Session(engine, expire_on_commit=False) as second:
        photos.upload_photo(first, first.get(Incident, first_id), first.get(User, committed.worker_id), jpeg(), key)
        pid = backend_pid(second)
        racer = Racer(lambda: photos.upload_photo(second, second.get(Incident, other_id),
                                                  second.get(User, committed.worker_id), jpeg(), key))
        wait_until_blocked(engine, pid, racer)
        first.commit()
        racer.join()
        assert isinstance(racer.error, Conflict) and racer.error.code == "photo_uuid_conflict"
        second.rollback()
    assert count(engine, IncidentPhoto, IncidentPhoto.incident_id == other_id) == 0
    assert count(engine, IncidentPhoto, IncidentPhoto.client_uuid == key) == 1


def test_two_phones_sending_the_same_photo_over_http_store_it_once(database_url, engine, committed):
    """Each request on its own connection, as app servers do: no 500, one 201, one 200."""
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                      "TILES_URL": "", "WEBHOOKS_IN_BACKGROUND": False})
    key, start = str(uuid.uuid4()), threading.Barrier(2)
    url = f"/api/v1/incidents/{committed.incident_ids[0]}/photos"

    def send():
        start.wait(5)
        response = app.test_client().post(url, headers={"Authorization": f"Bearer {committed.token}"},
                                          data={"photo": (io.BytesIO(jpeg()), "p.jpg"), "client_uuid": key},
                                          content_type="multipart/form-data")
        return response.status_code, response.get_json()
    racers = [Racer(send) for _ in range(2)]
    for racer in racers:
        racer.join()
    assert all(r.error is None for r in racers), [r.error for r in racers]
    statuses = sorted(r.result[0] for r in racers)
    assert statuses == [200, 201], [r.result for r in racers]
    assert racers[0].result[1]["id"] == racers[1].result[1]["id"]
    assert count(engine, IncidentPhoto, IncidentPhoto.client_uuid == uuid.UUID(key)) == 1
    app.extensions["gridsys.engine"].dispose()
