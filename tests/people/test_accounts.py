"""Accounts: create_user's refusals, generated passwords, deactivation, CSV import."""
import pytest
from sqlalchemy import func, select

from gridsys.errors import GridsysError
from gridsys.people import roster, services
from gridsys.people.models import ApiToken, User
from tests.factories import make_user


def users_count(session):
    return session.scalar(select(func.count()).select_from(User))


@pytest.mark.parametrize("username", ["A b", "x", "a" * 41, "../x", "", "-ab", "名字"])
def test_bad_username_is_refused(session, username):
    with pytest.raises(GridsysError) as err:
        services.create_user(session, username, password="correct horse battery")
    assert err.value.code == "username_invalid"
    assert users_count(session) == 0


def test_forty_character_username_is_accepted_and_lowercased(session):
    user, _ = services.create_user(session, "Ab" + "c" * 38, password_hash="x")
    assert user.username == "ab" + "c" * 38


def test_display_name_too_long_is_refused(session):
    with pytest.raises(GridsysError) as err:
        services.create_user(session, "wang", display_name="长" * 61, password_hash="x")
    assert err.value.code == "display_name_invalid"


def test_taken_username_is_a_conflict(session):
    make_user(session, "wang")
    with pytest.raises(GridsysError) as err:
        services.create_user(session, " WANG ", password_hash="x")
    assert (err.value.code, err.value.status) == ("username_taken", 409)


def test_unknown_role_is_refused(session):
    with pytest.raises(GridsysError) as err:
        services.create_user(session, "wang", roles=["grid_worker", "boss"], password_hash="x")
    assert err.value.code == "role_unknown"
    assert users_count(session) == 0


@pytest.mark.parametrize("phone", ["abc", "123", "1" * 21, "138-0000-0000; drop"])
def test_bad_phone_is_refused(session, phone):
    with pytest.raises(GridsysError) as err:
        services.create_user(session, "wang", phone=phone, password_hash="x")
    assert err.value.code == "phone_invalid"


@pytest.mark.parametrize("password,code", [("short1!", "password_too_short"),
                                           ("aaaaaaaaaaaa", "password_too_simple"),
                                           ("abababababab", "password_too_simple"),
                                           ("abcd" * 51, "password_too_long")])
def test_weak_password_is_refused(session, password, code):
    with pytest.raises(GridsysError) as err:
        services.create_user(session, "wang", password=password)
    assert err.value.code == code
    assert users_count(session) == 0


def test_generated_password_is_scrypt_hashed_and_must_be_changed(session):
    user, generated = services.create_user(session, "wang", roles=["grid_worker"], phone="138 0000 0000")
    assert generated and len(generated) >= services.MIN_PASSWORD
    assert user.must_change_password is True
    assert user.password_hash.startswith("scrypt:")
    assert generated not in user.password_hash
    assert services.authenticate(session, "wang", generated, "10.0.0.1").id == user.id


def test_chosen_password_need_not_be_changed_and_is_not_stored(session):
    user, generated = services.create_user(session, "wang", password="correct horse battery")
    assert generated is None and user.must_change_password is False
    assert user.password_hash.startswith("scrypt:") and "correct horse" not in user.password_hash


def test_deactivation_bumps_session_version_and_revokes_tokens(session):
    user = make_user(session, "wang", ["grid_worker"])
    row, token = services.create_token(session, user)
    before = user.session_version
    services.set_active(session, user, False)
    assert user.active is False and user.session_version == before + 1
    assert session.get(ApiToken, row.id).revoked_at is not None
    assert services.user_for_token(session, token) is None


def test_reactivation_does_not_revive_tokens(session):
    user = make_user(session, "wang", ["grid_worker"])
    _row, token = services.create_token(session, user)
    services.set_active(session, user, False)
    services.set_active(session, user, True)
    assert services.user_for_token(session, token) is None


# --- CSV import -----------------------------------------------------------------------------

GOOD_CSV = ("username,display_name,phone,roles\n"
            "zhang,张三,13800000001,grid_worker\n"
            "li,李四,,area_leader;grid_worker\n")


def test_csv_import_creates_users_with_generated_passwords(session):
    created = roster.import_users_csv(session, GOOD_CSV)
    assert [(u.username, sorted(u.roles)) for u, _ in created] == [
        ("zhang", ["grid_worker"]), ("li", ["area_leader", "grid_worker"])]
    assert all(p and u.must_change_password for u, p in created)
    assert {u.display_name for u, _ in created} == {"张三", "李四"}
    assert users_count(session) == 2


def test_csv_bad_line_refuses_the_whole_file(session):
    text = GOOD_CSV.replace("li,李四,,", "li,李四,not a phone,")
    with pytest.raises(GridsysError) as err:
        roster.import_users_csv(session, text)
    assert err.value.code == "phone_invalid"
    assert err.value.details["line"] == 3
    assert users_count(session) == 0


def test_csv_duplicate_username_in_file_refuses_the_whole_file(session):
    text = GOOD_CSV + "zhang,张三二,,grid_worker\n"
    with pytest.raises(GridsysError) as err:
        roster.import_users_csv(session, text)
    assert (err.value.code, err.value.status, err.value.details["line"]) == ("username_taken", 409, 4)
    assert users_count(session) == 0


def test_csv_bad_header_is_refused(session):
    with pytest.raises(GridsysError) as err:
        roster.import_users_csv(session, "user,name,phone,roles\nzhang,张三,,grid_worker\n")
    assert err.value.code == "csv_header_invalid"
    assert users_count(session) == 0


@pytest.mark.parametrize("text", ["username,display_name,phone,roles\n", "username,display_name,phone,roles"])
def test_csv_header_only_is_empty(session, text):
    with pytest.raises(GridsysError) as err:
        roster.import_users_csv(session, text)
    assert err.value.code == "csv_empty"


def test_csv_empty_file_is_a_bad_header(session):
    with pytest.raises(GridsysError) as err:
        roster.import_users_csv(session, "")
    assert err.value.code == "csv_header_invalid"


@pytest.mark.parametrize("text", [
    "username,display_name,phone,roles\nzhang,张三,,grid_worker\n\nli,李四,bad phone,grid_worker\n",
    'username,display_name,phone,roles\nzhang,"张\n三",,grid_worker\nli,李四,bad phone,grid_worker\n',
], ids=["after a blank line", "after a two-line name"])
def test_csv_error_names_the_physical_line(session, text):
    with pytest.raises(GridsysError) as err:
        roster.import_users_csv(session, text)
    assert (err.value.code, err.value.details["line"]) == ("phone_invalid", 4)


def test_csv_header_with_spaces_after_commas(session):
    created = roster.import_users_csv(session, "username, display_name, phone, roles\nzhang,张三,,grid_worker\n")
    assert [(u.username, u.display_name) for u, _ in created] == [("zhang", "张三")]
