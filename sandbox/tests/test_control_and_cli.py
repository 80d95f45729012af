import subprocess
import sys

import pytest
import requests


def test_control_api(http, painchek_sandbox):
    sb = painchek_sandbox
    control = f"{sb.url}/_control"
    truth = http.get(f"{control}/truth", params={"table": "sites"}).json()
    assert truth == sb.truth("sites")
    rows = http.post(f"{control}/mutate", json={"table": "sites", "op": "insert", "count": 2})
    assert len(rows.json()["rows"]) == 2
    assert len(sb.truth("sites")) == len(truth) + 2
    assert http.post(f"{control}/config", json={"forbid": ["sites"]}).status_code == 200
    auth = (sb.username, sb.password)
    assert http.get(f"{sb.url}/api/sites/", auth=auth).status_code == 403
    assert http.post(f"{control}/config", json={"forbid": [], "order": "asc"}).status_code == 200
    assert http.post(f"{control}/fail_next", json={"kinds": ["503"]}).status_code == 200
    assert http.get(f"{sb.url}/api/sites/", auth=auth).status_code == 503
    assert http.post(f"{control}/faults", json={"rate": 1, "kinds": ["502"]}).status_code == 200
    assert http.get(f"{sb.url}/api/sites/", auth=auth).status_code == 502
    assert http.get(f"{control}/stats").status_code == 200  # never faulted
    assert http.post(f"{control}/faults", json={"rate": 0}).status_code == 200
    http.post(
        f"{control}/schedule",
        json={
            "after_requests": 1,
            "path": "/api/sites/",
            "ops": [{"table": "sites", "op": "delete"}],
        },
    )
    before = sum(r["deleted_at"] is not None for r in sb.truth("sites"))
    assert http.get(f"{sb.url}/api/sites/", auth=auth).status_code == 200
    assert sum(r["deleted_at"] is not None for r in sb.truth("sites")) == before + 1
    token = http.post(
        f"{sb.url}/api/integration/auth/",
        data={"client_id": sb.client_id, "client_secret": sb.client_secret},
    )
    assert http.post(f"{control}/revoke_tokens").status_code == 200
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert http.get(f"{sb.url}/api/sites/", headers=bearer).status_code == 401
    stats = http.get(f"{control}/stats").json()
    assert stats["requests"] == 6
    assert stats["faults_injected"] == 2
    assert stats["auth_requests"] == 1
    assert stats["records_served"] > 0
    assert set(stats["by_path"]) == {"/api/sites/", "/api/integration/auth/"}
    assert http.post(f"{control}/stats/reset").status_code == 200
    assert sb.stats()["requests"] == 0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("mutate", {"table": "nope", "op": "insert"}),
        ("faults", {"rate": 0.5, "kinds": ["boom"]}),
        ("config", {"order": "sideways"}),
        ("schedule", {"after_requests": 0, "ops": []}),
        ("fail_next", {"kinds": "429"}),
    ],
)
def test_control_rejects_bad_requests(http, painchek_sandbox, path, body):
    response = http.post(f"{painchek_sandbox.url}/_control/{path}", json=body)
    assert response.status_code == 400


def test_malformed_answers_until_cleared(http, painchek_sandbox):
    sb = painchek_sandbox
    control, auth = f"{sb.url}/_control", (sb.username, sb.password)
    sites = f"{sb.url}/api/sites/"
    good = http.get(sites, auth=auth).json()
    assert http.post(f"{control}/malform", json={"path": "/api/", "kind": "html"}).ok
    page = http.get(sites, auth=auth)
    assert (page.status_code, page.headers["Content-Type"]) == (200, "text/html")
    sb.malform("/api/sites/", "shape")
    assert http.get(sites, auth=auth).json() == [good]
    sb.malform("/api/sites/", "drop_key", key="uuid")
    assert all("uuid" not in row for row in http.get(sites, auth=auth).json()["results"])
    sb.malform("/api/sites/", "huge", size=5_000_000)
    huge = http.get(sites, auth=auth)
    assert len(huge.content) == 5_000_000
    assert huge.json() == good
    assert http.post(f"{control}/malform", json={"clear": True}).ok
    assert http.get(sites, auth=auth).json() == good
    assert http.post(f"{control}/malform", json={"path": "/", "kind": "nope"}).status_code == 400


def test_cli_prints_url_and_serves():
    command = [
        sys.executable,
        "-m",
        "sandbox",
        "painchek",
        "--port",
        "0",
        "--patients",
        "20",
        "--username",
        "u",
        "--password",
        "p",
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            url = process.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            response = requests.get(f"{url}/api/patients/", auth=("u", "p"), timeout=10)
            assert response.status_code == 200
            assert response.json()["count"] == 20
        finally:
            process.terminate()
            assert process.wait(timeout=10) == 0
        assert process.stdout.read() == ""
