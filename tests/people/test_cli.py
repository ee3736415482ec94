"""flask --app gridsys users …: create, import, assign, deactivate."""
import re

import pytest
from sqlalchemy import func, select

from gridsys.people import services
from gridsys.people.models import AreaLeader, GridAssignment, TownAdmin, User


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def assignments(session):
    return count(session, GridAssignment) + count(session, AreaLeader) + count(session, TownAdmin)


def test_create_prints_a_one_time_password(cli, session):
    result = cli.invoke(args=["users", "create", "--username", "Wang", "--role", "grid_worker",
                              "--name", "王五", "--phone", "13800000000"])
    assert result.exit_code == 0, result.output
    assert "created wang (grid_worker)" in result.output
    password = re.search(r"one-time password: (\S+)", result.output).group(1)
    user = services.get_user(session, "wang")
    assert (user.display_name, user.phone, user.must_change_password) == ("王五", "13800000000", True)
    assert services.authenticate(session, "wang", password, "cli").id == user.id


def test_create_with_password_from_stdin(cli, session):
    result = cli.invoke(args=["users", "create", "--username", "li", "--role", "admin", "--role", "area_leader",
                              "--password-stdin"], input="correct horse battery\n")
    assert result.exit_code == 0, result.output
    assert "one-time password" not in result.output and "correct horse" not in result.output
    user = services.get_user(session, "li")
    assert user.roles == {"admin", "area_leader"} and user.must_change_password is False
    assert services.authenticate(session, "li", "correct horse battery", "cli").id == user.id


def test_create_with_a_weak_stdin_password_fails_and_creates_nothing(cli, session):
    result = cli.invoke(args=["users", "create", "--username", "li", "--password-stdin"], input="short\n")
    assert result.exit_code == 1 and "error password_too_short" in result.output
    assert count(session, User) == 0


@pytest.mark.parametrize("args,code", [
    (["--username", "li", "--role", "boss"], 2),           # click refuses the choice
    (["--role", "admin"], 2),                              # --username is required
    (["--username", "../li", "--role", "admin"], 1),       # error username_invalid
])
def test_create_bad_input_exits_non_zero(cli, session, args, code):
    result = cli.invoke(args=["users", "create", *args])
    assert result.exit_code == code, result.output
    assert count(session, User) == 0


def test_create_taken_username_exits_1(cli, session, world):
    result = cli.invoke(args=["users", "create", "--username", "worker1"])
    assert result.exit_code == 1 and "error username_taken" in result.output


def test_assign_grid_area_and_town(cli, session, world):
    services.set_roles(session, world.admin, ["admin", "area_leader", "grid_worker"])
    session.commit()
    g2, a2 = world.grids[3], world.areas[1]
    result = cli.invoke(args=["users", "assign", "admin1", "--grid", g2.code, "--duty", "legal", "--backup"])
    assert result.exit_code == 0, result.output
    assert f"admin1 serves grid {g2.code} for legal (backup)" in result.output
    row = session.scalar(select(GridAssignment).where(GridAssignment.user_id == world.admin.id))
    assert (row.grid_id, row.duty, row.backup, row.current) == (g2.id, "legal", True, True)

    result = cli.invoke(args=["users", "assign", "admin1", "--area", a2.code])
    assert result.exit_code == 0, result.output
    assert session.scalar(select(AreaLeader.user_id).where(AreaLeader.area_id == a2.id,
                                                           AreaLeader.valid_to.is_(None))) == world.admin.id

    result = cli.invoke(args=["users", "assign", "admin1", "--town", world.town.code])
    assert result.exit_code == 0, result.output
    assert session.scalar(select(TownAdmin.town_id).where(TownAdmin.user_id == world.admin.id)) == world.town.id


def test_assign_replace_takes_over_a_taken_duty(cli, session, world):
    worker2 = services.create_user(session, "worker2", roles=["grid_worker"], password_hash="x")[0]
    session.commit()
    g = world.grids[0].code
    result = cli.invoke(args=["users", "assign", "worker2", "--grid", g, "--duty", "general"])
    assert result.exit_code == 1 and "error duty_taken" in result.output
    result = cli.invoke(args=["users", "assign", "worker2", "--grid", g, "--duty", "general", "--replace"])
    assert result.exit_code == 0, result.output
    current = session.scalars(select(GridAssignment).where(GridAssignment.valid_to.is_(None))).all()
    assert [a.user_id for a in current] == [worker2.id]


@pytest.mark.parametrize("args,code", [
    (["nobody", "--area", "500106901001"], "user_not_found"),
    (["leader1"], "assignment_target"),
    (["leader1", "--area", "500106901002", "--town", "500106901"], "assignment_target"),
    (["worker1", "--grid", "500106901002001"], "duty_missing"),
    (["worker1", "--grid", "500106901009009", "--duty", "safety"], "grid_not_found"),
    (["leader1", "--grid", "500106901002001", "--duty", "safety"], "role_missing"),
    (["leader1", "--area", "500106901999"], "area_not_found"),
])
def test_assign_bad_input_exits_1_and_changes_nothing(cli, session, world, args, code):
    before = assignments(session)
    result = cli.invoke(args=["users", "assign", *args])
    assert result.exit_code == 1, result.output
    assert f"error {code}" in result.output
    assert assignments(session) == before
    assert session.scalar(select(AreaLeader.user_id).where(AreaLeader.area_id == world.areas[1].id)) is None


def test_import_creates_accounts_and_prints_their_passwords(cli, session, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("\ufeffusername,display_name,phone,roles\nzhang,张三,,grid_worker\n", encoding="utf-8")
    result = cli.invoke(args=["users", "import", str(path)])
    assert result.exit_code == 0, result.output
    username, password = result.stdout.strip().split("\t")
    assert username == "zhang"
    assert services.authenticate(session, "zhang", password, "cli").must_change_password is True


@pytest.mark.parametrize("content,code", [
    (b"username,display_name,phone,roles\nzhang,\xe5\xbc\xa0\xe4\xb8\x89,,grid_worker\nli,,,king\n",
     "role_unknown"),
    (b"name,phone\nzhang,1\n", "csv_header_invalid"),
    (b"\xff\xfe not utf-8", "file_unreadable"),
])
def test_import_bad_file_changes_nothing(cli, session, world, tmp_path, content, code):
    path = tmp_path / "people.csv"
    path.write_bytes(content)
    before = count(session, User)
    result = cli.invoke(args=["users", "import", str(path)])
    assert result.exit_code == 1 and f"error {code}" in result.output
    assert count(session, User) == before


def test_import_missing_file_exits_1(cli, tmp_path):
    result = cli.invoke(args=["users", "import", str(tmp_path / "nope.csv")])
    assert result.exit_code == 1 and "error file_unreadable" in result.output


def test_deactivate(cli, session, world):
    _row, token = services.create_token(session, world.worker)
    session.commit()
    result = cli.invoke(args=["users", "deactivate", "worker1"])
    assert result.exit_code == 0, result.output
    assert world.worker.active is False
    assert services.user_for_token(session, token) is None
    result = cli.invoke(args=["users", "deactivate", "nobody"])
    assert result.exit_code == 1 and "error user_not_found" in result.output


def test_list_shows_roles_and_status(cli, session, world):
    services.set_active(session, world.worker, False)
    session.commit()
    lines = cli.invoke(args=["users", "list"]).output.splitlines()
    assert "worker1\tgrid_worker\tinactive\t网格员一" in lines
    assert "admin1\tadmin\tactive\t管理员" in lines
