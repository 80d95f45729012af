"""Helpers shared by the sandbox tests."""

from __future__ import annotations

import requests


def token_for(http: requests.Session, sb) -> str:
    response = http.post(
        f"{sb.url}/api/integration/auth/",
        data={"client_id": sb.client_id, "client_secret": sb.client_secret},
    )
    assert response.status_code == 200
    return response.json()["access_token"]


def fetch_all(session: requests.Session, url: str) -> list[dict]:
    rows: list[dict] = []
    while url:
        response = session.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        rows.extend(body["results"])
        url = body["next"]
    return rows
