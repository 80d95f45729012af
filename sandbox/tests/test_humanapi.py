import re
import subprocess
import sys
from urllib.parse import urlencode

import pytest
import requests
from sandbox.humanapi import (
    DATA_TABLES,
    MEDICAL_TABLES,
    PATHS,
    SINGLE_TABLES,
    TABLES,
    WELLNESS_TABLES,
    HumanAPISandbox,
)

HEX24 = re.compile(r"^[0-9a-f]{24}$")
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LIST_TABLES = [t for t in DATA_TABLES if t not in SINGLE_TABLES]


def user_token(http, sb, client_user_id, **overrides):
    body = {
        "client_id": sb.client_id,
        "client_secret": sb.client_secret,
        "client_user_id": client_user_id,
        "type": "access",
        **overrides,
    }
    return http.post(f"{sb.url}/v1/connect/token", json=body)


def bearer(http, sb, client_user_id) -> dict[str, str]:
    response = user_token(http, sb, client_user_id)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def client_headers(http, sb) -> dict[str, str]:
    response = http.post(
        f"{sb.url}/v1/admin/token",
        json={"client_id": sb.client_id, "client_secret": sb.client_secret, "type": "client"},
    )
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json()['client_token']}"}


def links(response) -> dict[str, str]:
    header = response.headers.get("Link")
    if not header:
        return {}
    assert ", " not in header  # comma without a space, as on the wire
    found = {}
    for part in header.split(","):
        url, rel = re.fullmatch(r'<([^>]+)>; rel="(\w+)"', part).groups()
        found[rel] = url
    return found


def fetch_all(http, url, headers) -> list[dict]:
    rows: list[dict] = []
    while url:
        response = http.get(url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert isinstance(body, list)
        rows.extend(body)
        url = links(response).get("next")
    return rows


def owner_of(sb, table) -> tuple[str, list[dict]]:
    """A served user with records in ``table``, and their truth."""
    by_human = {u["humanId"]: u["clientUserId"] for u in sb.users()}
    served = set(sb.client_user_ids("served"))
    counts: dict[str, list[dict]] = {}
    for row in sb.truth(table):
        counts.setdefault(by_human[row["humanId"]], []).append(row)
    client, rows = max(
        ((c, r) for c, r in counts.items() if c in served), key=lambda item: len(item[1])
    )
    return client, rows


def strip_human_id(row, table):
    return {k: v for k, v in row.items() if k != "humanId"} if table in MEDICAL_TABLES else row


def test_token_per_user_and_refusals(http, humanapi_sandbox):
    sb = humanapi_sandbox
    served = sb.client_user_ids("served")
    first, second = (user_token(http, sb, c).json() for c in served[:2])
    assert first["token_type"] == "Bearer"
    assert first["expires_in"] == 86400
    assert first["access_token"] != second["access_token"]
    assert {first["access_token"], first["refresh_token"]} <= set(sb.issued_tokens())
    assert user_token(http, sb, served[0], type="session").status_code == 200
    (deleted,) = sb.client_user_ids("deleted")
    (no_source,) = sb.client_user_ids("no_source")
    refused = user_token(http, sb, deleted)
    assert refused.status_code == 404
    assert refused.json()["error"] == "user_not_found"
    assert user_token(http, sb, "nobody").status_code == 404
    missing = user_token(http, sb, no_source)
    assert missing.status_code == 400
    assert missing.json()["error"] == "no_connected_sources"
    wrong = user_token(http, sb, served[0], client_secret="nope")
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert user_token(http, sb, served[0], type="refresh").status_code == 400
    assert http.post(f"{sb.url}/v1/connect/token", data="[1]").status_code == 400
    assert http.get(f"{sb.url}/v1/connect/token").status_code == 405
    # Users needing re-authentication still have a connected source, so get a token.
    assert user_token(http, sb, sb.client_user_ids("reauthentication_required")[0]).ok
    stats = sb.stats()
    assert stats["token_requests"] == 11
    assert stats["tokens_issued"] == 4


def test_admin_users_paging(http, make_humanapi_sandbox):
    sb = make_humanapi_sandbox(users=120)
    headers = client_headers(http, sb)
    pages, offset = [], 0
    while True:
        page = http.get(f"{sb.url}/api/v1/users", params={"offset": offset}, headers=headers)
        assert page.status_code == 200
        if not page.json():
            break
        pages.append(page.json())
        offset += len(page.json())
    assert [len(p) for p in pages] == [50, 50, 20]
    users = [u for p in pages for u in p]
    assert users == sb.users()
    assert [u["clientUserId"] for u in users] == sb.client_user_ids()
    assert {u["status"] for u in users} == {"active", "deleted"}
    assert sum(u["status"] == "deleted" for u in users) == 6
    user = users[0]
    assert list(user) == [
        "humanId",
        "clientUserId",
        "clientUserEmail",
        "firstName",
        "lastName",
        "dateOfBirth",
        "status",
        "createdAt",
        "updatedAt",
    ]
    assert HEX24.match(user["humanId"])
    # A user token is not a client token and vice versa.
    user_headers = bearer(http, sb, sb.client_user_ids("served")[0])
    assert http.get(f"{sb.url}/api/v1/users", headers=user_headers).status_code == 401
    assert http.get(f"{sb.api_url}/sources", headers=headers).status_code == 401
    assert http.get(f"{sb.url}/api/v1/users").json()["error"] == "unauthorized"
    assert http.get(f"{sb.url}/api/v1/users?offset=x", headers=headers).status_code == 400
    assert sb.stats()["admin_requests"] == 8


@pytest.mark.parametrize("table", LIST_TABLES)
def test_every_list_serves_its_truth(http, humanapi_sandbox, table):
    sb = humanapi_sandbox
    client, truth = owner_of(sb, table)
    headers = bearer(http, sb, client)
    url = f"{sb.api_url}{PATHS[table]}?limit=2"
    first = http.get(url, headers=headers)
    assert first.status_code == 200
    assert first.headers["X-Total-Count"] == str(len(truth))
    if len(truth) > 2:
        assert links(first)["next"].endswith("limit=2&offset=2")
        second = http.get(links(first)["next"], headers=headers)
        assert links(second)["prev"].endswith("limit=2&offset=0")
    rows = fetch_all(http, url, headers)
    assert rows == sorted(
        (strip_human_id(r, table) for r in truth), key=lambda r: (r["updatedAt"], r["id"])
    )
    for row in rows:
        assert HEX24.match(row["id"])
        assert ISO_MS.match(row["createdAt"])
        assert ISO_MS.match(row["updatedAt"])
        assert row["createdAt"] <= row["updatedAt"]
        assert isinstance(row["sourceData"], dict)
        if table in MEDICAL_TABLES:
            assert "humanId" not in row
            assert set(row["organization"]) == {"id", "name", "href"}
            assert HEX24.match(row["source"])
        else:
            assert row["humanId"] == truth[0]["humanId"]
            assert HEX24.match(row["userId"])
            assert not HEX24.match(row["source"])  # wellness: the source's name


def test_medical_codes_are_coded():
    sb = HumanAPISandbox(seed=1, users=20)
    systems = {
        code["codeSystemName"]
        for table in MEDICAL_TABLES
        for row in sb.truth(table)
        for code in row["codes"]
    }
    assert systems == {"SNOMED CT", "LOINC", "RxNorm", "ICD-10-CM", "CVX", "CPT-4"}
    meds = sb.truth("medications")
    assert {"name", "dosage", "route", "startedAt", "status"} <= set(meds[0])
    labs = sb.truth("test_results")
    assert {"name", "value", "unit", "referenceRange", "dateTime"} <= set(labs[0])


def test_limit_and_query_validation(http, make_humanapi_sandbox):
    sb = make_humanapi_sandbox(users=20)
    client, truth = owner_of(sb, "vitals")
    headers = bearer(http, sb, client)
    url = f"{sb.api_url}/medical/vitals"
    assert len(http.get(url, headers=headers, params={"limit": 500}).json()) == len(truth)
    default = http.get(url, headers=headers)
    assert "Link" not in default.headers  # everything fits in the default 50
    for params in (
        {"limit": 501},
        {"limit": 0},
        {"limit": "x"},
        {"offset": -1},
        {"updated_since": "yesterday"},
    ):
        response = http.get(url, headers=headers, params=params)
        assert response.status_code == 400, params
        assert response.json()["error"] == "invalid_request"
    past = http.get(url, headers=headers, params={"offset": 1000})
    assert past.json() == []
    assert 'rel="prev"' in past.headers["Link"]


def test_time_and_source_filters(http, humanapi_sandbox):
    sb = humanapi_sandbox
    client, truth = owner_of(sb, "vitals")
    headers = bearer(http, sb, client)
    url = f"{sb.api_url}/medical/vitals"
    pivot = sorted(r["updatedAt"] for r in truth)[len(truth) // 2]

    def ids(**params) -> set[str]:
        return {r["id"] for r in fetch_all(http, f"{url}?{urlencode(params)}", headers)}

    assert ids(updated_since=pivot) == {r["id"] for r in truth if r["updatedAt"] >= pivot}
    assert ids(updated_before=pivot) == {r["id"] for r in truth if r["updatedAt"] < pivot}
    assert ids(created_since=pivot) == {r["id"] for r in truth if r["createdAt"] >= pivot}
    assert ids(created_before=pivot) == {r["id"] for r in truth if r["createdAt"] < pivot}
    # The same instant with an offset, and with extra precision, filters the same way.
    plus_two = pivot[:11] + f"{int(pivot[11:13]) + 2:02d}" + pivot[13:-1] + "+02:00"
    if int(pivot[11:13]) < 22:
        assert ids(updated_since=plus_two) == ids(updated_since=pivot)
    assert ids(updated_since=pivot[:-1] + "001Z") == {
        r["id"] for r in truth if r["updatedAt"] > pivot
    }
    source = truth[0]["source"]
    assert ids(source=source) == {r["id"] for r in truth if r["source"] == source}
    assert ids(source="nope") == set()


@pytest.mark.parametrize("table", SINGLE_TABLES)
def test_single_objects_and_404(http, humanapi_sandbox, table):
    sb = humanapi_sandbox
    truth = {r["humanId"]: r for r in sb.truth(table)}
    served = {u["clientUserId"]: u["humanId"] for u in sb.users()}
    having = [c for c in sb.client_user_ids("served") if served[c] in truth]
    lacking = [c for c in sb.client_user_ids("served") if served[c] not in truth]
    assert having
    assert lacking
    url = f"{sb.api_url}{PATHS[table]}"
    found = http.get(url, headers=bearer(http, sb, having[0]))
    assert found.status_code == 200
    assert found.json() == strip_human_id(truth[served[having[0]]], table)
    assert ("humanId" in found.json()) == (table in WELLNESS_TABLES)
    missing = http.get(url, headers=bearer(http, sb, lacking[0]))
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"


def test_sources_and_sync_invariants(http, humanapi_sandbox):
    sb = humanapi_sandbox
    sources = {(s["humanId"], s["id"]): s for s in sb.truth("sources")}
    wellness_names = {(s["humanId"], s["source"]): s for s in sources.values()}
    for table in DATA_TABLES:
        for row in sb.truth(table):
            key = (row["humanId"], row["source"])
            source = sources.get(key) or wellness_names[key]
            assert row["updatedAt"] <= source["syncStatus"]["synchedAt"] < "2025-06-01"
    statuses = {
        (s["syncStatus"]["status"], s["syncStatus"].get("details")) for s in sources.values()
    }
    assert ("failed", "reauthenticationRequired") in statuses
    assert ("failed", "sourceUnavailable") in statuses
    assert ("ok", None) in statuses
    client = sb.client_user_ids("reauthentication_required")[0]
    response = http.get(f"{sb.api_url}/sources", headers=bearer(http, sb, client))
    assert response.status_code == 200
    served = response.json()
    assert response.headers["X-Total-Count"] == str(len(served))
    assert any(s["syncStatus"].get("details") == "reauthenticationRequired" for s in served)
    assert set(served[0]) >= {
        "id",
        "source",
        "sourceName",
        "connectedSince",
        "historySync",
        "resync",
        "syncStatus",
    }
    assert sb.stats()["sources_requests"] == 1


def test_source_sync_advances_synched_at(http, humanapi_sandbox):
    sb = humanapi_sandbox
    client = sb.client_user_ids("served")[0]
    headers = bearer(http, sb, client)
    before = http.get(f"{sb.api_url}/sources", headers=headers).json()
    previous = max(s["syncStatus"]["synchedAt"] for s in before)
    sb.source_sync(client, new=3, updated=2)
    after = http.get(f"{sb.api_url}/sources", headers=headers).json()
    synched = {s["syncStatus"]["synchedAt"] for s in after}
    assert len(synched) == 1
    (now,) = synched
    assert now > previous
    assert {s["syncStatus"]["status"] for s in after} == {"ok"}
    changed = []
    for table in LIST_TABLES:
        url = f"{sb.api_url}{PATHS[table]}?updated_since={previous}"
        changed += fetch_all(http, url, headers)
    for table in SINGLE_TABLES:
        row = http.get(f"{sb.api_url}{PATHS[table]}", headers=headers)
        if row.ok and row.json()["updatedAt"] > previous:
            changed.append(row.json())
    assert len(changed) == 5 * len(after)
    assert {r["updatedAt"] for r in changed} == {now}
    assert all(r["createdAt"] < now for r in changed if r["createdAt"] != now)
    sb.source_sync(client, new=1, updated=0)
    assert max(s["syncStatus"]["synchedAt"] for s in sb.truth("sources")) > now
    with pytest.raises(ValueError, match="unknown client_user_id"):
        sb.source_sync("nobody")


def test_set_sync_status_and_delete_user(http, humanapi_sandbox):
    sb = humanapi_sandbox
    client = sb.client_user_ids("served")[0]
    headers = bearer(http, sb, client)
    sb.set_sync_status(client)
    assert client in sb.client_user_ids("reauthentication_required")
    first = http.get(f"{sb.api_url}/sources", headers=headers).json()[0]
    assert first["syncStatus"]["status"] == "failed"
    assert first["syncStatus"]["details"] == "reauthenticationRequired"
    sb.set_sync_status(client, status="inProgress", details=None)
    assert (
        "details" not in http.get(f"{sb.api_url}/sources", headers=headers).json()[0]["syncStatus"]
    )
    with pytest.raises(ValueError, match="details"):
        sb.set_sync_status(client, details="boom")
    other = sb.client_user_ids("served")[1]
    other_headers = bearer(http, sb, other)
    sb.delete_user(client)
    expired = http.get(f"{sb.api_url}/sources", headers=headers)
    assert expired.status_code == 401
    assert expired.json()["error"] == "token_expired"
    assert user_token(http, sb, client).status_code == 404
    assert http.get(f"{sb.api_url}/sources", headers=other_headers).status_code == 200
    human_id = next(u["humanId"] for u in sb.users() if u["clientUserId"] == client)
    assert all(r["humanId"] != human_id for r in sb.truth("sources"))


def test_a_token_reaches_only_its_users_data(http, humanapi_sandbox):
    sb = humanapi_sandbox
    users = {u["clientUserId"]: u["humanId"] for u in sb.users()}
    first, second = sb.client_user_ids("served")[:2]
    for client in (first, second):
        served = http.get(f"{sb.api_url}/sources", headers=bearer(http, sb, client)).json()
        truth = [s for s in sb.truth("sources") if s["humanId"] == users[client]]
        assert [s["id"] for s in served] == [s["id"] for s in truth]
    forged = {"Authorization": "Bearer not-a-token"}
    response = http.get(f"{sb.api_url}/medical/allergies", headers=forged)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert "Bearer" in response.headers["WWW-Authenticate"]


def test_token_ttl_and_revoke(http, make_humanapi_sandbox):
    sb = make_humanapi_sandbox(users=10, token_ttl=0)
    headers = bearer(http, sb, sb.client_user_ids("served")[0])
    assert http.get(f"{sb.api_url}/sources", headers=headers).json()["error"] == "token_expired"
    sb = make_humanapi_sandbox(users=10)
    client = sb.client_user_ids("served")[0]
    headers = bearer(http, sb, client)
    admin = client_headers(http, sb)
    sb.revoke_tokens()
    assert http.get(f"{sb.api_url}/sources", headers=headers).status_code == 401
    assert http.get(f"{sb.url}/api/v1/users", headers=admin).status_code == 401
    assert http.get(f"{sb.api_url}/sources", headers=bearer(http, sb, client)).ok


def test_faults(http, humanapi_sandbox):
    sb = humanapi_sandbox
    first, second = sb.client_user_ids("served")[:2]
    headers, other = bearer(http, sb, first), bearer(http, sb, second)
    url = f"{sb.api_url}/sources"
    sb.set_faults(rate=0, retry_after=3, slow_seconds=0.01)
    sb.fail_next("429", "500", "502", "503", "slow")
    throttled = http.get(url, headers=headers)
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "3"
    assert [http.get(url, headers=headers).status_code for _ in range(4)] == [500, 502, 503, 200]
    sb.fail_next("expire")
    expired = http.get(url, headers=headers)
    assert expired.status_code == 401
    assert expired.json()["error"] == "token_expired"
    assert http.get(url, headers=headers).status_code == 401
    assert http.get(url, headers=other).status_code == 200  # only that user's tokens
    sb.fail_next("expire")  # on the token endpoint: that user's tokens go, the answer is normal
    assert user_token(http, sb, second).status_code == 200
    assert http.get(url, headers=other).status_code == 401
    sb.fail_next("503")
    assert user_token(http, sb, first).status_code == 503
    sb.fail_next("429")
    assert http.post(f"{sb.url}/v1/admin/token", json={}).status_code == 429
    sb.fail_next("drop", "truncate")
    with pytest.raises(requests.ConnectionError):
        requests.get(url, headers=bearer(http, sb, first), timeout=5)
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        requests.get(url, headers=bearer(http, sb, first), timeout=5)
    assert http.get(f"{sb.url}/_control/stats").status_code == 200  # control: never faulted
    assert sb.stats()["faults_injected"] == 11


def test_random_faults_are_seeded(http, make_humanapi_sandbox):
    def run() -> list[int]:
        sb = make_humanapi_sandbox(users=5)
        sb.set_faults(rate=0.5, seed=3, kinds=("500", "503"))
        return [
            user_token(http, sb, sb.client_user_ids("served")[0]).status_code for _ in range(20)
        ]

    first = run()
    assert first == run()
    assert {200, 500, 503} == set(first)


def test_schedule_source_sync_between_pages(http, humanapi_sandbox):
    sb = humanapi_sandbox
    client = sb.client_user_ids("served")[0]
    headers = bearer(http, sb, client)
    sb.schedule(
        after_requests=1,
        path="/v1/human/sources",
        ops=[{"op": "source_sync", "client_user_id": client, "new": 1, "updated": 0}],
    )
    before = http.get(f"{sb.api_url}/sources", headers=headers).json()
    after = http.get(f"{sb.api_url}/sources", headers=headers).json()
    assert [s["syncStatus"]["synchedAt"] for s in after] != [
        s["syncStatus"]["synchedAt"] for s in before
    ]
    with pytest.raises(ValueError, match="bad arguments"):
        sb.schedule(after_requests=1, ops=[{"op": "source_sync", "nope": 1}])


def test_mutate(humanapi_sandbox):
    sb = humanapi_sandbox
    count = len(sb.truth("allergies"))
    inserted = sb.mutate("allergies", "insert", count=2)
    assert len(sb.truth("allergies")) == count + 2
    assert all("humanId" in row for row in inserted)
    updated = sb.mutate("allergies", "update", uuids=[inserted[0]["id"]])
    assert updated[0]["id"] == inserted[0]["id"]
    assert updated[0]["updatedAt"] > inserted[1]["updatedAt"]
    sb.mutate("allergies", "delete", uuids=[inserted[0]["id"]])
    assert len(sb.truth("allergies")) == count + 1
    source = next(s for s in sb.truth("sources") if s["id"] == updated[0]["source"])
    assert source["syncStatus"]["synchedAt"] > updated[0]["updatedAt"]
    with pytest.raises(ValueError, match="table"):
        sb.mutate("sources", "insert")
    with pytest.raises(ValueError, match="unknown ids"):
        sb.mutate("vitals", "update", uuids=[inserted[1]["id"]])


def test_control_api(http, humanapi_sandbox):
    sb = humanapi_sandbox
    control = f"{sb.url}/_control"
    assert http.get(f"{control}/users").json() == sb.users()
    deleted = http.get(f"{control}/users", params={"group": "deleted"}).json()
    assert deleted == sb.client_user_ids("deleted")
    assert http.get(f"{control}/users", params={"group": "x"}).status_code == 400
    truth = http.get(f"{control}/truth", params={"table": "sources"})
    assert truth.json() == sb.truth("sources")
    client = sb.client_user_ids("served")[0]
    before = max(s["syncStatus"]["synchedAt"] for s in sb.truth("sources"))
    body = {"client_user_id": client, "new": 1, "updated": 1}
    assert http.post(f"{control}/source_sync", json=body).status_code == 200
    assert max(s["syncStatus"]["synchedAt"] for s in sb.truth("sources")) > before
    status = {"client_user_id": client, "status": "failed", "details": "sourceUnavailable"}
    assert http.post(f"{control}/sync_status", json=status).status_code == 200
    assert client in sb.client_user_ids("source_unavailable")
    assert http.post(f"{control}/sync_status", json={"status": "x"}).status_code == 400
    assert http.post(f"{control}/delete_user", json={"client_user_id": client}).ok
    assert client in sb.client_user_ids("deleted")
    assert http.post(f"{control}/delete_user", json={"client_user_id": "x"}).status_code == 400
    assert http.post(f"{control}/revoke_tokens").ok
    assert sb.stats()["requests"] == 0


def test_stats_by_path(http, humanapi_sandbox):
    sb = humanapi_sandbox
    headers = bearer(http, sb, sb.client_user_ids("served")[0])
    http.get(f"{sb.api_url}/medical/allergies", headers=headers)
    http.get(f"{sb.api_url}/heart_rate/readings", headers=headers)
    http.get(f"{sb.api_url}/nothing", headers=headers)
    stats = sb.stats()
    assert stats["data_requests"] == 2
    assert stats["by_path"] == {
        "/v1/connect/token": 1,
        "/v1/human/medical/allergies": 1,
        "/v1/human/heart_rate/readings": 1,
        "/v1/human/nothing": 1,
    }
    sb.reset_stats()
    assert sb.stats()["requests"] == 0


def test_same_seed_same_data():
    first, second, other = (HumanAPISandbox(seed=s, users=15) for s in (1, 1, 2))
    assert first.users() == second.users()
    for table in TABLES:
        assert first.truth(table) == second.truth(table)
    assert first.users() != other.users()
    client = first.client_user_ids("served")[0]
    first.source_sync(client)
    second.source_sync(client)
    assert first.truth("sources") == second.truth("sources")


def test_sizes_and_groups():
    sb = HumanAPISandbox(seed=1, users=200)
    groups = {g: sb.client_user_ids(g) for g in ("deleted", "no_source")}
    assert len(groups["deleted"]) == 10
    assert len(groups["no_source"]) == 4
    assert len(sb.client_user_ids("reauthentication_required")) >= 10
    assert sb.client_user_ids("source_unavailable")
    per_user: dict[str, int] = {}
    for table in DATA_TABLES:
        for row in sb.truth(table):
            per_user[row["humanId"]] = per_user.get(row["humanId"], 0) + 1
    assert len(per_user) == 200 - 10 - 4
    assert 40 <= sum(per_user.values()) / len(per_user) <= 150
    names = {(u["firstName"], u["lastName"]) for u in sb.users()}
    assert len(names) > 100


def test_cli_prints_url_and_serves():
    command = [sys.executable, "-m", "sandbox", "humanapi", "--port", "0", "--users", "12"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            url = process.stdout.readline().strip()
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
            users = requests.get(f"{url}/_control/users", timeout=10).json()
            assert len(users) == 12
            token = requests.post(
                f"{url}/v1/admin/token",
                json={
                    "client_id": "sandbox-client",
                    "client_secret": "sandbox-client-secret",
                    "type": "client",
                },
                timeout=10,
            )
            assert token.status_code == 200
        finally:
            process.terminate()
            assert process.wait(timeout=10) == 0
        assert process.stdout.read() == ""
