import base64

import pytest
import requests
from sandbox.painchek import PATHS, TABLES, PainChekSandbox
from sandbox_helpers import fetch_all, token_for

SHAPES = {
    "patients": "uuid license license_name first_name last_name nickname gender birth_date "
    "death_date created_at modified_at deleted_at deleted_reason update_stamp image "
    "external_id training_record",
    "assessments": "uuid patient patient_first_name patient_last_name user user_position "
    "json_version created_at modified_at deleted_at update_stamp device license license_name "
    "data",
    "sites": "uuid type name phone email address postcode city state country num_beds "
    "external_id license license_name created_at modified_at deleted_at update_stamp",
    "admissions": "uuid patient site start end unit room bed ward created_at modified_at "
    "deleted_at update_stamp",
    "comments": "uuid patient assessment user text created_at modified_at deleted_at update_stamp",
    "users": "uuid email first_name last_name position role is_active date_joined created_at "
    "modified_at deleted_at update_stamp external_id license license_name",
    "licenses": "uuid number start expiry type holder created_at modified_at deleted_at "
    "update_stamp",
}


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
    assert all(list(row) == SHAPES[table].split() for row in rows)


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
    assert any(p["external_id"].startswith("0") for p in patients)
    assert {p["gender"] for p in patients} <= {"m", "f", "x"}
    stamps = [p["update_stamp"] for p in patients]
    assert len(set(stamps)) == len(stamps)
    assert min(stamps) < 5
    nrs = [a for a in sb.truth("assessments") if a["data"]["assessment"]["mode"] == "nrs"]
    assert nrs
    assert set(nrs[0]["data"]) == {"assessment", "body"}
    with pytest.raises(ValueError, match="unknown table"):
        PainChekSandbox(sizes={"nope": 1})
