"""Open311 client keys (CLI and the administrators' page) and the named purge of residents' contacts."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from gridsys.errors import GridsysError, NotFound
from gridsys.incidents.models import Incident
from gridsys.residents import keys
from gridsys.residents.models import Open311Key
from tests.factories import csrf_token, login_as
from tests.incidents.helpers import act, lonlat
from tests.residents.helpers import resident_report


def post_request(client, key):
    lon, lat = lonlat("g11")
    return client.post("/open311/v2/requests.json", data={"api_key": key, "service_code": "0101", "lat": f"{lat}",
                                                          "long": f"{lon}", "description": "垃圾没人收"})


def test_a_key_is_stored_only_as_its_hash_and_revocable(session, world):
    row, key = keys.create(session, "  街道微信公众号  ")
    assert key.startswith("o311_") and len(key) > 40 and row.name == "街道微信公众号"
    assert row.key_hash == keys.digest(key) and key not in row.key_hash
    assert keys.verify(session, key).id == row.id
    for wrong in (None, "", key + "x", key.upper(), 42, "x" * 1000):
        assert keys.verify(session, wrong) is None
    keys.revoke(session, row.id)
    assert keys.verify(session, key) is None
    with pytest.raises(NotFound) as refused:
        keys.revoke(session, row.id)
    assert refused.value.code == "key_not_found"
    for name in ("", "   ", "\u200b", "名" * 81, None, 5):
        with pytest.raises(GridsysError) as refused:
            keys.create(session, name)
        assert refused.value.code == "key_name_invalid"


def test_the_cli_creates_lists_and_revokes_keys(cli, client, session, world):
    result = cli.invoke(args=["open311", "keys", "create", "街道微信公众号"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert re.fullmatch(r"o311_[\w-]{40,}", key)
    row = session.scalar(select(Open311Key).where(Open311Key.name == "街道微信公众号"))
    assert row.key_hash == keys.digest(key)
    assert post_request(client, key).status_code == 200
    listed = cli.invoke(args=["open311", "keys", "list"]).output
    assert f"#{row.id}\t街道微信公众号\tactive" in listed and key not in listed
    result = cli.invoke(args=["open311", "keys", "revoke", str(row.id)])
    assert result.exit_code == 0 and "revoked" in result.output
    assert post_request(client, key).status_code == 403
    assert f"#{row.id}\t街道微信公众号\trevoked" in cli.invoke(args=["open311", "keys", "list"]).output
    again = cli.invoke(args=["open311", "keys", "revoke", str(row.id)])
    assert again.exit_code == 1 and "error key_not_found" in again.output
    empty = cli.invoke(args=["open311", "keys", "create", ""])
    assert empty.exit_code == 1 and "error key_name_invalid" in empty.output


def test_the_admin_page_issues_a_key_once_and_revokes_it(app, client, session, world):
    login_as(client, world.admin)
    page = client.get("/admin/open311-keys")
    assert page.status_code == 200 and "Open311 密钥" in page.get_data(as_text=True)
    token = csrf_token(client, "/admin/open311-keys")
    created = client.post("/admin/open311-keys", data={"name": "第三方应用", "csrf_token": token})
    assert created.status_code == 200
    key = re.search(r'<code class="key" id="new-key">(o311_[\w-]+)</code>', created.get_data(as_text=True)).group(1)
    assert post_request(app.test_client(), key).status_code == 200
    again = client.get("/admin/open311-keys").get_data(as_text=True)
    assert "第三方应用" in again and key not in again, "the key is shown once"
    row = session.scalar(select(Open311Key).where(Open311Key.name == "第三方应用"))
    revoked = client.post(f"/admin/open311-keys/{row.id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303
    assert post_request(app.test_client(), key).status_code == 403
    refused = client.post(f"/admin/open311-keys/{row.id}/revoke", data={"csrf_token": token})
    assert refused.status_code == 404 and 'data-code="key_not_found"' in refused.get_data(as_text=True)
    refused = client.post("/admin/open311-keys", data={"name": " ", "csrf_token": token})
    assert refused.status_code == 422 and 'data-code="key_name_invalid"' in refused.get_data(as_text=True)


def test_the_keys_page_is_for_administrators_with_csrf(client, session, world):
    assert client.get("/admin/open311-keys").status_code == 302   # to the login page
    login_as(client, world.leader1)
    assert client.get("/admin/open311-keys").status_code == 403
    token = csrf_token(client, "/")
    assert client.post("/admin/open311-keys", data={"name": "x", "csrf_token": token}).status_code == 403
    client.post("/logout", data={"csrf_token": token})
    login_as(client, world.admin)
    assert client.post("/admin/open311-keys", data={"name": "x"}).status_code == 400   # no CSRF token
    assert session.scalar(select(Open311Key.id)) is None


def test_purge_contacts_forgets_them_after_the_days(cli, session, world):
    incident = resident_report(session, "g11", "0201").incident
    act(session, incident, world.safety1, "register")
    act(session, incident, world.safety1, "resolve", note="已处理")
    act(session, incident, world.leader1, "close")
    incident.closed_at -= timedelta(days=10)
    session.commit()
    result = cli.invoke(args=["residents", "purge-contacts", "--days", "30"])
    assert result.exit_code == 0 and "0 report(s)" in result.output
    result = cli.invoke(args=["residents", "purge-contacts", "--days", "7"])
    assert result.exit_code == 0 and "1 report(s)" in result.output
    session.expire_all()
    assert session.get(Incident, incident.id).contact_phone is None
    assert cli.invoke(args=["residents", "purge-contacts"]).exit_code == 0   # the configured days
    for days in ("-1", "abc", "1e3", "99999999"):
        refused = cli.invoke(args=["residents", "purge-contacts", "--days", days])
        assert refused.exit_code == 1 and "error days_invalid" in refused.output
