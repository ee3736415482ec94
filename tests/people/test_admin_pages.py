"""Administrators' people pages: create, assign, end, deactivate, gaps (HTTP, with CSRF)."""
import html
import re

import pytest
from sqlalchemy import func, select

from gridsys.people import gaps, services
from gridsys.people.models import GridAssignment, User
from tests.factories import csrf_token, login, login_as, post_form


@pytest.fixture
def admin(client, world):
    client.set_cookie("lang", "en")  # flashed messages in English, to read the one-time password
    return login_as(client, world.admin)


def users(session):
    return session.scalar(select(func.count()).select_from(User))


def flashes(response):
    return [html.unescape(m) for m in re.findall(r'<p class="flash (?:ok|error)">(.*?)</p>',
                                                 response.get_data(as_text=True), re.S)]


def act(client, username, action, data=None):
    return post_form(client, f"/admin/people/{username}/{action}", data, token_page=f"/admin/people/{username}")


def test_admin_creates_a_person_who_must_change_the_password(admin, app, session):
    response = post_form(admin, "/admin/people", {"username": "zhang", "display_name": "张三",
                                                  "phone": "13800000009", "roles": ["grid_worker"]})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/people/zhang"
    page = admin.get(response.headers["Location"])
    password = re.search(r"one-time password is (\S+?):", " ".join(flashes(page))).group(1)
    user = services.get_user(session, "zhang")
    assert user.roles == {"grid_worker"} and user.must_change_password and user.display_name == "张三"
    other = app.test_client()
    response = login(other, "zhang", password)
    assert response.status_code == 302 and response.headers["Location"] == "/account/password"


def test_admin_creates_a_person_with_a_chosen_password(admin, session):
    response = post_form(admin, "/admin/people", {"username": "li", "display_name": "李四",
                                                  "roles": ["area_leader", "admin"],
                                                  "password": "a good long secret"})
    assert response.status_code == 302
    user = services.get_user(session, "li")
    assert user.roles == {"admin", "area_leader"} and not user.must_change_password
    assert "a good long secret" not in " ".join(flashes(admin.get("/admin/people/li")))


@pytest.mark.parametrize("form,status,code_word", [
    ({"username": "worker1", "display_name": "又一个"}, 409, "worker1"),
    ({"username": "Bad Name", "display_name": "坏"}, 422, "username"),
    ({"username": "zhang", "display_name": "张", "roles": ["boss"]}, 422, "boss"),
])
def test_bad_input_is_refused_and_creates_nobody(admin, session, form, status, code_word):
    before = users(session)
    response = post_form(admin, "/admin/people", form)
    assert response.status_code == status
    assert users(session) == before
    assert any(code_word in f for f in flashes(response))
    assert 'name="username" value="' + html.escape(form["username"]) in response.get_data(as_text=True)


def test_create_without_csrf_is_refused(admin, session):
    before = users(session)
    response = admin.post("/admin/people", data={"username": "zhang", "display_name": "张"})
    assert response.status_code == 400 and users(session) == before


def test_admin_assigns_a_worker_and_sees_it_on_the_person_page(admin, session, world):
    grid = world.grids[3]
    response = act(admin, "worker1", "assign-grid", {"grid": grid.code, "duty": "counseling", "backup": "1"})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/people/worker1"
    row = session.scalar(select(GridAssignment).where(GridAssignment.grid_id == grid.id))
    assert (row.user_id, row.duty, row.backup) == (world.worker.id, "counseling", True)
    page = admin.get("/admin/people/worker1").get_data(as_text=True)
    assert grid.code in page and "Counseling (backup)" in page


def test_refused_assignment_is_flashed_and_changes_nothing(admin, session, world):
    response = act(admin, "leader1", "assign-grid", {"grid": world.grids[0].code, "duty": "general"})
    assert response.status_code == 303
    assert "leader1 does not hold the role Grid worker" in " ".join(flashes(admin.get("/admin/people/leader1")))
    assert session.scalar(select(func.count()).select_from(GridAssignment)) == 1


def test_admin_ends_an_assignment_keeping_history(admin, session, world):
    row = session.scalar(select(GridAssignment).where(GridAssignment.user_id == world.worker.id))
    response = act(admin, "worker1", "end-assignment", {"kind": "grid", "id": str(row.id)})
    assert response.status_code == 303
    assert row.valid_to is not None
    page = admin.get("/admin/people/worker1").get_data(as_text=True)
    assert world.grids[0].code in page and f'name="id" value="{row.id}"' not in page
    assert world.grids[0] in [g for g, _ in gaps.duty_gaps(session)]


def test_admin_makes_an_area_leader_and_a_town_admin(admin, session, world):
    assert act(admin, "leader1", "lead-area", {"area": world.areas[1].code}).status_code == 303
    assert act(admin, "admin1", "administer-town", {"town": world.town.code}).status_code == 303
    page = admin.get("/admin/people/leader1").get_data(as_text=True)
    assert world.areas[0].code in page and world.areas[1].code in page
    assert world.town.code in admin.get("/admin/people/admin1").get_data(as_text=True)


def test_admin_deactivates_a_person(admin, app, session, world):
    worker = login_as(app.test_client(), world.worker)
    assert worker.get("/api/v1/me").status_code == 200
    assert act(admin, "worker1", "deactivate").status_code == 303
    assert world.worker.active is False
    assert worker.get("/api/v1/me").status_code == 401
    assert "deactivated" in admin.get("/admin/people/worker1").get_data(as_text=True)


def test_admin_cannot_deactivate_self(admin, session, world):
    response = act(admin, "admin1", "deactivate")
    assert response.status_code == 303
    assert "cannot deactivate your own account" in " ".join(flashes(admin.get(response.headers["Location"])))
    assert world.admin.active is True
    assert admin.get("/admin/people").status_code == 200


def test_reset_password_forces_a_change(admin, session, world):
    assert act(admin, "worker1", "reset-password").status_code == 303
    assert world.worker.must_change_password is True


def test_unknown_action_and_unknown_person(admin, world):
    token = csrf_token(admin, "/admin/people")
    assert admin.post("/admin/people/worker1/fly", data={"csrf_token": token}).status_code == 303
    assert admin.get("/admin/people/nobody").status_code == 404
    assert admin.post("/admin/people/nobody/deactivate", data={"csrf_token": token}).status_code == 404


def test_gaps_page_lists_grids_lacking_duties(admin, session, world):
    html_text = admin.get("/admin/gaps").get_data(as_text=True)
    for grid in world.grids:
        assert grid.code in html_text
    # grid 1 lacks every duty but general (covered by worker1)
    row = re.search(rf"{world.grids[0].code}.*?</tr>", html_text, re.S).group(0)
    assert "General worker" not in row and "Counseling" in row and "Legal publicity" in row


def test_gaps_page_says_so_when_there_is_none(admin, session, world):
    services.end_assignment(session, "grid", session.scalar(select(GridAssignment.id)))
    for grid in world.grids:
        for duty in services.ASSIGNABLE_DUTIES:
            session.add(GridAssignment(user_id=world.worker.id, grid_id=grid.id, duty=duty))
    session.commit()
    html_text = admin.get("/admin/gaps").get_data(as_text=True)
    assert not any(g.code in html_text for g in world.grids)


def test_display_names_are_escaped(admin, session, world):
    services.create_user(session, "evil", display_name="<script>alert(1)</script>", password_hash="x")
    session.commit()
    page = admin.get("/admin/people").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)</script>" not in admin.get("/admin/people/evil").get_data(as_text=True)
