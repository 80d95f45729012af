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
HEX32 = re.compile(r"^[0-9a-f]{32}$")
REPORT_ID = re.compile(r"^[0-9a-f]{24}-000000-[0-9a-f]{24}$")
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
    assert {u["status"] for u in users} == {"active", "deleted", "Invited"}
    assert sum(u["status"] == "deleted" for u in users) == 6
    invited = [u["clientUserId"] for u in users if u["status"] == "Invited"]
    assert invited == sb.client_user_ids("no_source")
    documented = [
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
    optional = {"suggestedSources", "inviteLink", "orders"}
    for user in users:
        assert list(user)[:9] == documented
        assert set(user) - set(documented) <= optional
        assert HEX32.match(user["humanId"])
        assert ISO_MS.match(user["dateOfBirth"])  # the documented example's format
        assert ("inviteLink" in user) == (user["status"] == "Invited")
    assert 20 <= sum("suggestedSources" in u for u in users) <= 80
    # A user token is not a client token and vice versa.
    user_headers = bearer(http, sb, sb.client_user_ids("served")[0])
    assert http.get(f"{sb.url}/api/v1/users", headers=user_headers).status_code == 401
    assert http.get(f"{sb.api_url}/sources", headers=headers).status_code == 401
    assert http.get(f"{sb.url}/api/v1/users").json()["error"] == "unauthorized"
    assert http.get(f"{sb.url}/api/v1/users?offset=x", headers=headers).status_code == 400
    assert sb.stats()["admin_requests"] == 8


@pytest.mark.parametrize("table", LIST_TABLES)
def test_every_list_serves_its_truth(http, make_humanapi_sandbox, table):
    sb = make_humanapi_sandbox(seed=1, users=40)  # every table has a served owner
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
        assert (REPORT_ID if table == "reports" else HEX24).match(row["id"])
        assert ISO_MS.match(row["createdAt"])
        assert ISO_MS.match(row["updatedAt"])
        assert row["createdAt"] <= row["updatedAt"]
        if table in MEDICAL_TABLES:
            # wire: medical records carry neither humanId nor sourceData
            assert "humanId" not in row
            assert "sourceData" not in row
            if table not in {"organizations", "reports"}:
                org = row["organization"]
                assert set(org) == {"id", "name", "href"}
                assert org["href"] == f"/medical/organizations/{org['id']}"
            if table in {"demographics", "social_history", "organizations"}:
                assert "source" not in row
            else:
                assert HEX24.match(row["source"])  # a medical source's id
        else:
            assert row["humanId"] == truth[0]["humanId"]
            assert HEX24.match(row["userId"])
            assert not HEX24.match(row["source"])  # wellness: the source's name
            assert ("sourceData" in row) == (table != "locations")


@pytest.fixture(scope="module")
def big() -> HumanAPISandbox:
    """A sandbox large enough that rare fields show up (not started: truth only)."""
    return HumanAPISandbox(seed=2, users=150)


def rate(rows: list[dict], has) -> float:
    assert rows
    return sum(1 for row in rows if has(row)) / len(rows)


def test_medical_codes_are_coded(big):
    systems = {
        code.get("codeSystemName")
        for table in MEDICAL_TABLES
        for row in big.truth(table)
        for code in row.get("codes", [])
    }
    assert systems >= {"SNOMED-CT", "LOINC", "RxNorm", "ICD-10-CM", "CVX", "CPT-4", "ActCode"}
    codes = [code for row in big.truth("medications") for code in row["codes"]]
    assert all(set(code) == {"name", "code", "codeSystem", "codeSystemName", "inferred"}
               for code in codes)  # fmt: skip


def test_test_results_are_panels_of_components(big):
    rows = big.truth("test_results")
    sizes = [len(row["components"]) for row in rows]
    assert min(sizes) == 1
    assert max(sizes) == 12
    assert rate(rows, lambda r: len(r["components"]) > 1) > 0.5
    for row in rows:
        assert row["allResults"] == []
        assert not {"value", "unit", "referenceRange", "interpretation", "dateTime"} & set(row)
        for component in row["components"]:
            assert {"name", "value", "unit", "low", "high", "codes"} <= set(component)
            assert isinstance(component["value"], str)
    for optional, low, high in (
        ("resultDateTime", 0.8, 0.97),
        ("status", 0.75, 0.95),
        ("orderedBy", 0.6, 0.8),
        ("recipients", 0.05, 0.25),
        ("comments", 0.03, 0.2),
        ("ccd", 0.5, 0.7),
    ):
        assert low <= rate(rows, lambda r, f=optional: f in r) <= high, optional
    for rare in ("narrative", "impression", "transcriptions", "specimen", "device"):
        assert 0 < rate(rows, lambda r, f=rare: f in r) < 0.1, rare
    components = [c for row in rows for c in row["components"]]
    for optional in ("refRange", "flag", "componentComments"):
        assert any(optional in c for c in components), optional


def test_vitals_have_several_results_with_number_values(big):
    rows = big.truth("vitals")
    assert rate(rows, lambda r: len(r["results"]) > 1) > 0.6
    assert not {"value", "unit"} & {k for row in rows for k in row}
    values = [result["value"] for row in rows for result in row["results"]]
    numbers = sum(isinstance(v, int | float) for v in values)
    assert 0.8 < numbers / len(values) < 0.97  # wire: Number; doc: String
    assert any(not ISO_MS.match(row["dateTime"]) for row in rows)  # old JS date strings
    results = [result for row in rows for result in row["results"]]
    assert all(result["codes"] for result in results)
    assert any("raw" in r and "values" in r and "normalizedName" in r for r in results)


def test_medications_have_details_and_refills(big):
    rows = big.truth("medications")
    assert not {"dosage", "route", "startedAt", "stoppedAt", "prescriber"} & {
        k for row in rows for k in row
    }
    assert 0.7 < rate(rows, lambda r: "details" in r) < 0.9
    detailed = next(row["details"] for row in rows if "details" in row)
    assert set(detailed) == {"dosage", "frequency", "route", "strength"}
    assert set(detailed["strength"]) == {"number", "unit"}
    refills = [row for row in rows if "refillsTotal" in row]
    assert 0.2 < len(refills) / len(rows) < 0.4
    assert all(isinstance(r["refillsTotal"], str) for r in refills)  # wire: a String
    assert all(isinstance(r["refillsRemaining"], int) for r in refills)  # v1 doc: a Number
    for rare in ("pharmacy", "expiration"):
        assert 0 < rate(rows, lambda r, f=rare: f in r) < 0.15, rare


def test_demographics_is_a_list_of_about_one_record_per_medical_source(big):
    per_source: dict[tuple[str, str], int] = {}
    for row in big.truth("demographics"):
        key = (row["humanId"], row["organization"]["id"])
        per_source[key] = per_source.get(key, 0) + 1
        assert re.fullmatch(r"\d\d/\d\d/\d{4}", row["dob"])
        assert set(row["name"]) == {"family", "given"}
        assert set(row["address"]) == {"street", "city", "state", "zip", "country"}
        assert {"address", "organization"} <= set(row["provider"])
    medical = {(s["humanId"], s["source"]) for s in big.truth("sources") if "organization" in s}
    assert set(per_source) == medical
    assert set(per_source.values()) == {1, 2}
    assert sum(n == 2 for n in per_source.values()) < len(per_source) * 0.2


def test_wellness_shapes(big):
    pressure = big.truth("blood_pressure_readings")
    for row in pressure:
        assert "value" not in row
        assert row["unit"] == "mmHg"
        assert all(isinstance(row[k], int) for k in ("systolic", "diastolic", "heartRate"))
    glucose = big.truth("blood_glucose_readings")
    assert all({"notes", "mealTag", "medicationTag"} <= set(row) for row in glucose)
    assert all("notes" in row for row in big.truth("blood_oxygen_readings"))
    for table in ("activities", "sleeps", "heart_rate_readings"):
        assert 0.85 < rate(big.truth(table), lambda r: "tzOffset" in r) < 1, table
    sleeps = big.truth("sleeps")
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", row["day"]) for row in sleeps)
    assert 0.8 < rate(sleeps, lambda r: "numberOfWakeups" in r) < 1
    locations = big.truth("locations")
    assert all(set(row["location"]) == {"lat", "lon"} for row in locations)
    assert not {"latitude", "longitude"} & {k for row in locations for k in row}
    (profile, *_) = big.truth("profile")
    assert set(profile) == {"userId", "humanId", "email", "defaultTimeZone", "createdAt",
                            "updatedAt"}  # fmt: skip


def test_sources_carry_the_documented_fields(big):
    sources = big.truth("sources")
    medical = [s for s in sources if "organization" in s]
    wellness = [s for s in sources if "organization" not in s]
    for source in medical:
        assert source["devices"] == [source["source"]] == [source["organization"]["id"]]
        assert source["supportedDataTypes"] == []
        assert source["resync"] == {"active": False}
    durations = [s["expectedSyncDuration"] for s in medical]
    assert None in durations
    assert any(isinstance(d, int) for d in durations)
    for source in wellness:
        assert source["supportedDataTypes"]
        assert "expectedSyncDuration" not in source
        if source["syncStatus"]["status"] != "failed":
            assert "lastNotificationDate" in source["syncStatus"]
    assert all(
        "newestDate" in s["syncStatus"] for s in sources if s["syncStatus"]["status"] == "ok"
    )


def test_records_in_and_vendor_fields(http, humanapi_sandbox):
    sb = humanapi_sandbox
    assert sb.records_in([{"a": 1}, 2]) == [{"a": 1}]
    assert sb.records_in({"humanId": "h"}) == [{"humanId": "h"}]  # /profile: one object
    assert sb.records_in({"access_token": "t", "expires_in": 1}) == []
    sb.add_vendor_fields("/v1/human", {"newField": {"x": 1}})
    sb.add_vendor_fields("/v1/connect", {"newField": 1})
    having = {r["humanId"] for r in sb.truth("profile")}
    client = next(u["clientUserId"] for u in sb.users() if u["humanId"] in having)
    headers = bearer(http, sb, client)
    assert "newField" not in user_token(http, sb, client).json()
    profile = http.get(f"{sb.api_url}/profile", headers=headers).json()
    assert profile["newField"] == {"x": 1}
    sources = http.get(f"{sb.api_url}/sources", headers=headers).json()
    assert all(source["newField"] == {"x": 1} for source in sources)
    sb.clear_vendor_fields()
    assert "newField" not in http.get(f"{sb.api_url}/profile", headers=headers).json()


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
    sources = {(s["humanId"], s["source"]): s for s in sb.truth("sources")}
    newest: dict[str, str] = {}
    for (human_id, _), source in sources.items():
        newest[human_id] = max(newest.get(human_id, ""), source["syncStatus"]["synchedAt"])
    for table in DATA_TABLES:
        for row in sb.truth(table):
            if "source" in row:  # demographics, social_history, organizations, profile: none
                synched = sources[row["humanId"], row["source"]]["syncStatus"]["synchedAt"]
            else:
                synched = newest[row["humanId"]]
            assert row["updatedAt"] <= synched < "2025-06-01"
    statuses = {
        (s["syncStatus"]["status"], s["syncStatus"].get("details")) for s in sources.values()
    }
    assert ("failed", "reauthenticationRequired") in statuses
    assert ("failed", "sourceUnavailable") in statuses
    assert ("ok", None) in statuses  # wellness
    assert ("ok", "ok") in statuses  # medical, as the v2.3 sample
    client = sb.client_user_ids("reauthentication_required")[0]
    response = http.get(f"{sb.api_url}/sources", headers=bearer(http, sb, client))
    assert response.status_code == 200
    served = response.json()
    assert response.headers["X-Total-Count"] == str(len(served))
    assert any(s["syncStatus"].get("details") == "reauthenticationRequired" for s in served)
    for source in served:
        assert set(source) >= {
            "id",
            "source",
            "sourceName",
            "supportedDataTypes",
            "devices",
            "connectedSince",
            "historySync",
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
    source = next(
        s
        for s in sb.truth("sources")
        if (s["humanId"], s["source"]) == (updated[0]["humanId"], updated[0]["source"])
    )
    assert source["syncStatus"]["synchedAt"] > updated[0]["updatedAt"]
    with pytest.raises(ValueError, match="table"):
        sb.mutate("sources", "insert")
    with pytest.raises(ValueError, match="unknown ids"):
        sb.mutate("vitals", "update", uuids=[inserted[1]["id"]])


def test_mutate_profile_demographics_and_records_without_a_source(http, humanapi_sandbox):
    sb = humanapi_sandbox
    (profile, *_) = sb.truth("profile")
    (updated,) = sb.mutate("profile", "update", uuids=[profile["humanId"]])  # no id: humanId
    assert "id" not in updated
    assert updated["humanId"] == profile["humanId"]
    assert updated["createdAt"] == profile["createdAt"]
    assert updated["updatedAt"] > profile["updatedAt"]
    with pytest.raises(ValueError, match="no id"):
        sb.mutate("profile", "insert", uuids=["x"])
    count = len(sb.truth("demographics"))
    (inserted,) = sb.mutate("demographics", "insert")
    assert "source" not in inserted  # wire: demographics name no source
    assert len(sb.truth("demographics")) == count + 1
    owner = next(u for u in sb.users() if u["humanId"] == inserted["humanId"])
    synched = [
        s["syncStatus"]["synchedAt"]
        for s in sb.truth("sources")
        if s["humanId"] == inserted["humanId"] and s.get("organization") == inserted["organization"]
    ]
    assert synched == [inserted["updatedAt"]]  # its source synced when it was added
    headers = bearer(http, sb, owner["clientUserId"])
    url = f"{sb.api_url}/medical/demographics"
    assert inserted["id"] in {r["id"] for r in fetch_all(http, url, headers)}
    source = inserted["organization"]["id"]
    assert fetch_all(http, f"{url}?source={source}", headers) == []  # no source: no match


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
