from collections.abc import Iterator

import pytest
import requests


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def token_for(http: requests.Session, sb) -> str:
    response = http.post(
        f"{sb.url}/api/integration/auth/",
        data={"client_id": sb.client_id, "client_secret": sb.client_secret},
    )
    assert response.status_code == 200
    return response.json()["access_token"]


@pytest.fixture
def authed(http, painchek_sandbox) -> requests.Session:
    http.headers["Authorization"] = f"Bearer {token_for(http, painchek_sandbox)}"
    return http


def fetch_all(session: requests.Session, url: str) -> list[dict]:
    rows: list[dict] = []
    while url:
        response = session.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        rows.extend(body["results"])
        url = body["next"]
    return rows
