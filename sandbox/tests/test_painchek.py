import base64
import re

import pytest
import requests
from sandbox.painchek import PATHS, TABLES, PainChekSandbox
from sandbox_helpers import fetch_all, token_for

# Key order as PainChek's samples show it (keys the samples lack follow them).
COMMON_TAIL = "created_by_id modified_by_id device_id"
SHAPES = {
    "patients": "uuid license license_name first_name last_name nickname gender birth_date "
    "death_date created_at modified_at deleted_at deleted_reason update_stamp image "
    f"external_id training_record {COMMON_TAIL}",
    "assessments": "uuid patient patient_first_name patient_last_name patient_external_id user "
    "user_first_name user_last_name user_external_id user_position user_source json_version "
    "created_at modified_at deleted_at update_stamp device device_id license license_name "
    "created_by_id modified_by_id data",
    "sites": "uuid license license_name type name phone email address postcode city state "
    f"country num_beds created_at modified_at deleted_at update_stamp external_id {COMMON_TAIL}",
    "admissions": "uuid patient site start end unit room bed ward created_at modified_at "
    f"deleted_at update_stamp license license_name {COMMON_TAIL}",
    "comments": "uuid patient assessment user text created_at modified_at deleted_at "
    f"update_stamp license license_name {COMMON_TAIL}",
    "users": "uuid license license_name email first_name last_name phone institution "
    "institution_name position avatar has_activated role is_active date_joined modified_at "
    f"full_site_access external_id created_at deleted_at update_stamp {COMMON_TAIL}",
    "licenses": "uuid number start expiry is_expiring type holder deleted_at created_at "
    "modified_at update_stamp",
}
# Descriptor keys as the domain pages spell them; face after wrinkling_nose and activity
# are the sandbox's assumption (the pages are cut off or missing).
DESCRIPTORS = {
    "face": "brow_lowering cheek_raising tightening_eyelids wrinkling_nose raising_upper_lip "
    "pulling_corner_lip horizontal_mouth_stretch parting_lips closing_eyes",
    "voice": "noisy_sounds requesting_help groaning moaning crying screaming loudtalk howling "
    "sighing",
    "movement": "altered_random_movement restlessness freezing guarding_touching moving_away "
    "abnormal_movement pacing_wandering",
    "behaviour": "introvert verbally_offensive aggressive fear_or_dislike inappropriate_behaviour "
    "confused distressed",
    "activity": "resisting_care prolonged_resting altered_sleep_cycle altered_routines",
    "body": "profuse_sweating pale_flushed feverish_cold rapid_breathing painful_injuries "
    "painful_conditions",
}
HOLDER = (
    "first_name last_name email phone mobile company_name company_address company_postcode "
    "company_city company_state company_country company_phone"
)


def _keys(table: str, row: dict) -> list[str]:
    keys = SHAPES[table].split()
    if table == "assessments" and row["data"]["assessment"]["mode"] == "nrs":
        keys.remove("user_position")  # the NRS field table has none
    return keys


def test_bearer_and_basic_auth(http, painchek_sandbox):
    sb = painchek_sandbox
    token = token_for(http, sb)
    assert len(token) >= 32
    url = f"{sb.url}/api/patients/"
    assert http.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert http.get(url, auth=(sb.username, sb.password)).status_code == 200
    assert sb.stats()["tokens_issued"] == 1
    assert sb.stats()["auth_requests"] == 1


def test_auth_rejections(http, painchek_sandbox):
    sb = painchek_sandbox
    bad = http.post(
        f"{sb.url}/api/integration/auth/", data={"client_id": sb.client_id, "client_secret": "x"}
    )
    assert bad.status_code == 401
    assert bad.json() == {
        "code": "invalid_client",
        "detail": "Invalid client credentials.",
        "errors": [],
    }
    url = f"{sb.url}/api/patients/"
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic " + base64.b64encode(b"sandbox-user:wrong").decode()},
        {"Authorization": "Basic !!!"},
    ):
        response = http.get(url, headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"


def test_token_ttl_expires(http, make_painchek_sandbox):
    sb = make_painchek_sandbox(patients=5, token_ttl=0)
    token = token_for(http, sb)
    response = http.get(f"{sb.url}/api/sites/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


def test_revoke_tokens(authed, painchek_sandbox):
    sb = painchek_sandbox
    assert authed.get(f"{sb.url}/api/sites/").status_code == 200
    sb.revoke_tokens()
    response = authed.get(f"{sb.url}/api/sites/")
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"
    authed.headers["Authorization"] = f"Bearer {token_for(authed, sb)}"
    assert authed.get(f"{sb.url}/api/sites/").status_code == 200


@pytest.mark.parametrize("table", TABLES)
def test_every_table_serves_its_truth(authed, painchek_sandbox, table):
    sb = painchek_sandbox
    rows = fetch_all(authed, f"{sb.url}{PATHS[table]}?page_size=7")
    truth = sb.truth(table)
    assert rows
    assert sorted(rows, key=lambda r: r["uuid"]) == sorted(truth, key=lambda r: r["uuid"])
    assert all(list(row) == _keys(table, row) for row in rows)


def test_sync_is_strictly_greater(authed, painchek_sandbox):
    sb = painchek_sandbox
    truth = sb.truth("assessments")
    stamps = sorted(row["update_stamp"] for row in truth)
    pivot = stamps[len(stamps) // 2]
    rows = fetch_all(authed, f"{sb.url}/api/assessments/?sync={pivot}&page_size=13")
    assert {r["uuid"] for r in rows} == {r["uuid"] for r in truth if r["update_stamp"] > pivot}
    assert min(r["update_stamp"] for r in rows) > pivot
    empty = authed.get(f"{sb.url}/api/assessments/?sync={stamps[-1]}").json()
    assert empty == {"count": 0, "next": None, "previous": None, "results": []}


def test_pagination_links_and_errors(authed, painchek_sandbox):
    sb = painchek_sandbox
    url = f"{sb.url}/api/patients/"
    first = authed.get(url, params={"sync": 0, "page_size": 20}).json()
    assert first["count"] == 50
    assert len(first["results"]) == 20
    assert first["previous"] is None
    assert first["next"] == f"{url}?page=2&page_size=20&sync=0"
    second = authed.get(first["next"]).json()
    assert second["previous"] == f"{url}?page_size=20&sync=0"
    third = authed.get(second["next"]).json()
    assert len(third["results"]) == 10
    assert third["next"] is None
    assert third["previous"] == f"{url}?page=2&page_size=20&sync=0"
    assert len(authed.get(url).json()["results"]) == 50  # default page size
    past = authed.get(url, params={"page": 4, "page_size": 20})
    assert past.status_code == 404
    assert past.json() == {"code": "not_found", "detail": "Invalid page.", "errors": []}
    assert authed.get(url, params={"page": 0}).status_code == 404
    for name in ("sync", "page", "page_size"):
        bad = authed.get(url, params={name: "abc"})
        assert bad.status_code == 400
        assert bad.json()["code"] == "invalid"
        assert bad.json()["errors"][0]["field"] == name


def test_page_size_is_capped(authed, painchek_sandbox):
    sb = painchek_sandbox
    sb.configure(max_page_size=10)
    body = authed.get(f"{sb.url}/api/patients/?page_size=1000").json()
    assert len(body["results"]) == 10
    assert body["count"] == 50
    assert "page_size=1000" in body["next"]


@pytest.mark.parametrize(
    ("order", "key", "reverse"),
    [("desc", "update_stamp", True), ("asc", "update_stamp", False), ("uuid", "uuid", False)],
)
def test_orders(authed, painchek_sandbox, order, key, reverse):
    sb = painchek_sandbox
    sb.configure(order=order)
    pivot = 20
    rows = fetch_all(authed, f"{sb.url}/api/assessments/?page_size=9&sync={pivot}")
    expected = sorted(
        (r for r in sb.truth("assessments") if r["update_stamp"] > pivot),
        key=lambda r: r[key],
        reverse=reverse,
    )
    assert [r["uuid"] for r in rows] == [r["uuid"] for r in expected]


def test_default_order_is_desc(authed, painchek_sandbox):
    rows = authed.get(f"{painchek_sandbox.url}/api/patients/").json()["results"]
    stamps = [r["update_stamp"] for r in rows]
    assert stamps == sorted(stamps, reverse=True)


@pytest.mark.parametrize("mode", ["painchek", "nrs"])
def test_mode_filter(authed, painchek_sandbox, mode):
    sb = painchek_sandbox
    rows = fetch_all(authed, f"{sb.url}/api/assessments/?mode={mode}&page_size=100")
    truth = [r for r in sb.truth("assessments") if r["data"]["assessment"]["mode"] == mode]
    assert rows
    assert sorted(r["uuid"] for r in rows) == sorted(r["uuid"] for r in truth)
    for row in rows:
        score = row["data"]["assessment"]["pain_score"]
        assert 0 <= score <= (42 if mode == "painchek" else 10)
    bad = authed.get(f"{sb.url}/api/assessments/?mode=other")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "mode"


def test_mutate_stamps_and_soft_delete(authed, painchek_sandbox):
    sb = painchek_sandbox
    top = max(r["update_stamp"] for r in sb.truth("patients"))
    updated = sb.mutate("patients", "update", count=2)
    assert [r["update_stamp"] for r in updated] == [top + 1, top + 2]
    assert all(r["modified_at"] > "2025-06" for r in updated)
    deleted = sb.mutate("patients", "delete", uuids=[updated[0]["uuid"]])
    assert deleted[0]["update_stamp"] == top + 3
    assert deleted[0]["deleted_at"] is not None
    inserted = sb.mutate("patients", "insert", count=1)
    assert inserted[0]["update_stamp"] == top + 4
    assert inserted[0]["deleted_at"] is None
    # Another table keeps its own sequence.
    site_top = max(r["update_stamp"] for r in sb.truth("sites"))
    assert sb.mutate("sites", "update")[0]["update_stamp"] == site_top + 1
    delta = fetch_all(authed, f"{sb.url}/api/patients/?sync={top}")
    by_uuid = {r["uuid"]: r for r in delta}
    assert len(delta) == 3
    assert by_uuid[updated[0]["uuid"]]["deleted_at"] == deleted[0]["deleted_at"]
    assert by_uuid[updated[1]["uuid"]] == updated[1]
    assert inserted[0]["uuid"] in by_uuid
    assert len(sb.truth("patients")) == 51


def test_mutate_rejects_bad_input(painchek_sandbox):
    with pytest.raises(ValueError, match="table"):
        painchek_sandbox.mutate("nope", "insert")
    with pytest.raises(ValueError, match="op"):
        painchek_sandbox.mutate("patients", "drop")
    with pytest.raises(ValueError, match="unknown uuids"):
        painchek_sandbox.mutate("patients", "update", uuids=["missing"])


def test_schedule_applies_between_pages(authed, painchek_sandbox):
    sb = painchek_sandbox
    url = f"{sb.url}/api/patients/?page_size=10"
    ordered = sorted(sb.truth("patients"), key=lambda r: r["update_stamp"], reverse=True)
    movers = [r["uuid"] for r in ordered[-3:]]
    sb.schedule(
        after_requests=1,
        ops=[{"table": "patients", "op": "update", "uuids": movers}],
        path="/api/patients/",
    )
    first = authed.get(url).json()
    assert [r["uuid"] for r in first["results"]] == [r["uuid"] for r in ordered[:10]]
    assert {
        r["uuid"] for r in sb.truth("patients") if r["update_stamp"] > ordered[0]["update_stamp"]
    } == set(movers)
    second = authed.get(first["next"]).json()
    # The three edited rows jumped to the front, pushing page 1's tail onto page 2.
    assert [r["uuid"] for r in second["results"][:3]] == [r["uuid"] for r in ordered[7:10]]


def test_fail_next_statuses(authed, painchek_sandbox):
    sb = painchek_sandbox
    sb.set_faults(rate=0, retry_after=3, slow_seconds=0.01)
    sb.fail_next("429", "500", "502", "503", "slow")
    url = f"{sb.url}/api/sites/"
    throttled = authed.get(url)
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "3"
    assert throttled.json() == {
        "code": "throttled",
        "detail": "Request was throttled.",
        "errors": [],
    }
    assert [authed.get(url).status_code for _ in range(4)] == [500, 502, 503, 200]
    assert authed.get(url).status_code == 200
    stats = sb.stats()
    assert stats["faults_injected"] == 5
    assert stats["by_path"]["/api/sites/"] == 6


def test_fail_next_drop_and_truncate(http, painchek_sandbox):
    sb = painchek_sandbox
    url = f"{sb.url}/api/patients/?page_size=50"
    auth = (sb.username, sb.password)
    sb.fail_next("drop", "truncate")
    with pytest.raises(requests.ConnectionError):
        requests.get(url, auth=auth, timeout=5)
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        requests.get(url, auth=auth, timeout=5)
    assert http.get(url, auth=auth).status_code == 200


def test_fail_next_expire_and_auth_requests(http, authed, painchek_sandbox):
    sb = painchek_sandbox
    sb.fail_next("expire", "503")
    response = authed.get(f"{sb.url}/api/sites/")
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"
    assert authed.get(f"{sb.url}/api/sites/").status_code == 503  # stale token was not checked
    assert authed.get(f"{sb.url}/api/sites/").status_code == 401
    sb.fail_next("500")
    assert http.post(f"{sb.url}/api/integration/auth/", data={}).status_code == 500


def test_random_faults_are_seeded(http, make_painchek_sandbox):
    def run() -> list[int]:
        sb = make_painchek_sandbox(patients=5)
        sb.set_faults(rate=0.5, seed=3, kinds=("500", "503"))
        return [
            http.get(f"{sb.url}/api/sites/", auth=(sb.username, sb.password)).status_code
            for _ in range(20)
        ]

    first = run()
    assert first == run()
    assert {200, 500, 503} == set(first)


def test_forbid_and_unknown_paths(authed, painchek_sandbox):
    sb = painchek_sandbox
    sb.configure(forbid=["users"])
    forbidden = authed.get(f"{sb.url}/api/account/users/")
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "permission_denied"
    missing = authed.get(f"{sb.url}/api/nothing/")
    assert missing.status_code == 404
    assert missing.json() == {"code": "not_found", "detail": "Not found.", "errors": []}
    assert authed.post(f"{sb.url}/api/patients/").status_code == 405


def test_latency_config_applies(authed, painchek_sandbox):
    sb = painchek_sandbox
    sb.configure(latency_ms=30)
    response = authed.get(f"{sb.url}/api/sites/")
    assert response.status_code == 200
    assert response.elapsed.total_seconds() >= 0.03


def test_same_seed_same_truth():
    first, second, other = (PainChekSandbox(seed=s, patients=30) for s in (1, 1, 2))
    for table in TABLES:
        assert first.truth(table) == second.truth(table)
    assert first.truth("patients") != other.truth("patients")
    assert first.mutate("assessments", "insert", 2) == second.mutate("assessments", "insert", 2)


def test_sizes_and_data_quirks():
    sb = PainChekSandbox(seed=1, patients=400, sizes={"comments": 3})
    sizes = {table: len(sb.truth(table)) for table in TABLES}
    assert sizes == {
        "patients": 400,
        "assessments": 1600,
        "sites": 8,
        "admissions": 400,
        "comments": 3,
        "users": 20,
        "licenses": 4,
    }
    patients = sb.truth("patients")
    reasons = [p["deleted_reason"] for p in patients]
    assert "null" in reasons
    assert None in reasons
    assert any(p["deleted_reason"] == "null" and p["deleted_at"] is None for p in patients)
    deleted = sum(p["deleted_at"] is not None for p in patients)
    assert 0 < deleted < 40
    assert any((p["external_id"] or "").startswith("0") for p in patients)
    assert {p["gender"] for p in patients} <= {"m", "f", "x"}
    stamps = [p["update_stamp"] for p in patients]
    assert len(set(stamps)) == len(stamps)
    assert min(stamps) < 5
    nrs = [a for a in sb.truth("assessments") if a["data"]["assessment"]["mode"] == "nrs"]
    assert nrs
    assert all(set(a["data"]) == {"assessment", "device"} for a in nrs)
    with pytest.raises(ValueError, match="unknown table"):
        PainChekSandbox(sizes={"nope": 1})


@pytest.fixture(scope="module")
def big() -> PainChekSandbox:
    return PainChekSandbox(seed=5, patients=600)


def test_painchek_assessments_carry_the_documented_sections(big):
    rows = [a for a in big.truth("assessments") if a["data"]["assessment"]["mode"] == "painchek"]
    assert len(rows) > 1000
    for row in rows:
        data = row["data"]
        assert list(data) == ["assessment", "device", *DESCRIPTORS]
        assert set(data["assessment"]) == {
            "date",
            "mode",
            "pain_score",
            "pain_level",
            "is_editable",
            "timing",
        }
        assert data["assessment"]["is_editable"] is False
        for domain, keys in DESCRIPTORS.items():
            section = data[domain]
            assert list(section["descriptors"]) == keys.split()
            assert section["score"] == sum(section["descriptors"].values())
        assert data["assessment"]["pain_score"] == sum(data[d]["score"] for d in DESCRIPTORS)
        assert set(data["face"]) == {
            "score",
            "comment",
            "mode",
            "initial_mode",
            "camera",
            "capture_seconds",
            "frames",
            "frame_errors",
            "descriptors",
        }
        assert set(data["voice"]) == {"score", "comment", "voice_recording", "descriptors"}
        assert set(data["body"]) == {"score", "comment", "descriptors"}
        assert row["json_version"] == "v2"
    # Optional fields are sometimes set and sometimes not.
    for path in (
        ("assessment", "timing"),
        ("face", "comment"),
        ("face", "camera"),
        ("face", "capture_seconds"),
        ("voice", "voice_recording"),
    ):
        values = [r["data"][path[0]][path[1]] for r in rows]
        assert None in values
        assert any(v is not None for v in values), path
    assert {r["data"]["face"]["mode"] for r in rows} == {"video", "photo", "manual"}
    assert {r["data"]["assessment"]["pain_level"] for r in rows} >= {"none", "mild", "moderate"}


def test_nrs_assessments_have_a_body_location_and_no_domains_or_position(big):
    rows = [a for a in big.truth("assessments") if a["data"]["assessment"]["mode"] == "nrs"]
    assert len(rows) > 300
    for row in rows:
        assert "user_position" not in row
        assert 0 <= row["data"]["assessment"]["pain_score"] <= 10
    locations = [r["data"]["assessment"]["body_location"] for r in rows]
    assert None in locations
    assert "neck and shoulders" in locations


def test_assessment_device_patient_and_user_fields_agree(big):
    patients = {p["uuid"]: p for p in big.truth("patients")}
    users = {u["uuid"]: u for u in big.truth("users")}
    device_keys = ["manufacturer", "model", "os_type", "os_version", "app_version", "device_id"]
    sources = set()
    for row in big.truth("assessments"):
        device = row["data"]["device"]
        assert list(device) == device_keys
        assert row["device"] == row["device_id"] == device["device_id"]
        if device["os_type"] == "ios":
            assert device["device_id"] == device["device_id"].upper()
        assert re.fullmatch(r"\d+\.\d+\.\d+ \(\d+\)", device["app_version"])
        patient, user = patients[row["patient"]], users[row["user"]]
        assert row["patient_first_name"] == patient["first_name"]
        assert row["patient_external_id"] == patient["external_id"]
        assert (row["user_first_name"], row["user_external_id"]) == (
            user["first_name"],
            user["external_id"],
        )
        internal = user["license"] == patient["license"]
        assert row["user_source"] == ("internal" if internal else "external")
        sources.add(row["user_source"])
        assert row["created_by_id"] == row["user"]
        assert row["modified_by_id"] in users
    assert sources == {"internal", "external"}


def test_common_fields_name_users_and_devices(big):
    users = {u["uuid"] for u in big.truth("users")}
    for table in ("patients", "sites", "users", "admissions", "comments"):
        rows = big.truth(table)
        authors = {r["created_by_id"] for r in rows} | {r["modified_by_id"] for r in rows}
        assert authors - {None} <= users, table
        assert authors - {None}, table
    devices = [p["device_id"] for p in big.truth("patients")]
    assert None in devices
    assert any(d and d == d.upper() for d in devices)
    assert all(s["device_id"] is None for s in big.truth("sites"))


def test_licences_are_documented_shapes(big):
    licences = big.truth("licenses")
    by_uuid = {lic["uuid"]: lic for lic in licences}
    assert {lic["type"] for lic in licences} <= {1, 2}
    assert all(list(lic["holder"]) == HOLDER.split() for lic in licences)
    assert all(lic["number"] == lic["uuid"][:13].upper() for lic in licences)
    assert all(isinstance(lic["is_expiring"], bool) for lic in licences)
    for row in big.truth("patients"):
        lic = by_uuid[row["license"]]
        name = f"{lic['number']}/{lic['holder']['company_name']}/{lic['start']}"
        assert row["license_name"] == name


def test_users_are_documented_shapes(big):
    users = big.truth("users")
    sites = {s["uuid"]: s for s in big.truth("sites")}
    assert {u["role"] for u in users} == {"license_admin", "admin", "user"}
    assert "" in {u["phone"] for u in users}
    assert "" in {u["position"] for u in users}
    placed = [u for u in users if u["institution"]]
    assert placed
    assert len(placed) < len(users)
    assert all(sites[u["institution"]]["name"] == u["institution_name"] for u in placed)
    assert {type(u[k]) for u in users for k in ("has_activated", "full_site_access")} == {bool}


def test_admissions_embed_the_current_patient_and_site(authed, painchek_sandbox):
    sb = painchek_sandbox
    admission = sb.truth("admissions")[0]
    patients = {p["uuid"]: p for p in sb.truth("patients")}
    sites = {s["uuid"]: s for s in sb.truth("sites")}
    assert admission["patient"] == patients[admission["patient"]["uuid"]]
    assert admission["site"] == sites[admission["site"]["uuid"]]
    (renamed,) = sb.mutate("patients", "update", uuids=[admission["patient"]["uuid"]])
    served = {
        row["uuid"]: row for row in fetch_all(authed, f"{sb.url}/api/admissions/?page_size=100")
    }
    now = served[admission["uuid"]]
    assert now["patient"] == renamed
    assert now == next(a for a in sb.truth("admissions") if a["uuid"] == admission["uuid"])
    # A nested serializer: the admission itself did not change.
    assert now["update_stamp"] == admission["update_stamp"]


def test_vendor_fields_are_added_to_every_record(authed, painchek_sandbox):
    sb = painchek_sandbox
    sb.add_vendor_fields("/api/", {"site_group": "North"})
    body = authed.get(f"{sb.url}/api/sites/").json()
    assert body["results"]
    assert all(row["site_group"] == "North" for row in body["results"])
    assert "site_group" not in body
    token = authed.post(
        f"{sb.url}/api/integration/auth/",
        data={"client_id": sb.client_id, "client_secret": sb.client_secret},
    ).json()
    assert "site_group" not in token  # the auth answer holds no record
    sb.clear_vendor_fields()
    assert all("site_group" not in r for r in authed.get(f"{sb.url}/api/sites/").json()["results"])


def test_external_ids_are_unique_and_the_first_patients_share_theirs_at_any_size():
    """More patients than short external ids (100,000 > 99,998): still one id each."""
    from sandbox.vocabulary import SHARED_PEOPLE, shared_identifier  # noqa: PLC0415

    small = {
        "assessments": 0,
        "admissions": 0,
        "comments": 0,
        "users": 1,
        "sites": 1,
        "licenses": 1,
    }
    sandbox = PainChekSandbox(seed=3, patients=100_000, sizes=small)
    patients = sandbox.truth("patients")
    ids = [p["external_id"] for p in patients if p["external_id"] is not None]
    assert len(ids) == len(set(ids))
    shared = {shared_identifier(i) for i in range(SHARED_PEOPLE)}
    assert shared <= set(ids)
