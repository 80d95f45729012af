"""Both auth methods; one token shared by all streams; refresh before expiry and on 401."""

from __future__ import annotations

import base64
import logging
import re

import pytest
import requests
from painchek_helpers import API, page, row
from tap_painchek.auth import client_credentials
from tap_painchek.errors import PainChekError
from tapkit.retry import RetryPolicy

TOKEN_URL = f"{API}/api/integration/auth/"


def _empty_lists(requests_mock):
    requests_mock.get(re.compile(f"{API}/api/.*"), json=page([]))  # nothing new anywhere


def test_one_token_for_every_stream(requests_mock, run_tap, base_config):
    requests_mock.post(TOKEN_URL, json={"access_token": "tok-1", "expires_in": 36000})
    _empty_lists(requests_mock)
    run_tap(base_config)
    token_calls = [r for r in requests_mock.request_history if r.method == "POST"]
    assert len(token_calls) == 1
    assert token_calls[0].headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "client_secret=unit-test-client-secret" in token_calls[0].text
    data_calls = [r for r in requests_mock.request_history if r.method == "GET"]
    assert len(data_calls) == 7
    assert {r.headers["Authorization"] for r in data_calls} == {"Bearer tok-1"}


def test_basic_auth_sends_no_token_request(requests_mock, run_tap, base_config):
    config = {k: v for k, v in base_config.items() if not k.startswith("client")}
    config |= {"username": "nurse", "password": "pw"}
    _empty_lists(requests_mock)
    run_tap(config, streams=["sites"])
    (call,) = requests_mock.request_history
    assert call.headers["Authorization"] == "Basic " + base64.b64encode(b"nurse:pw").decode()


def test_401_mints_a_new_token_once(requests_mock, run_tap, base_config):
    requests_mock.post(
        TOKEN_URL,
        [
            {"json": {"access_token": "old", "expires_in": 36000}},
            {"json": {"access_token": "new", "expires_in": 36000}},
        ],
    )
    seen: list[str] = []  # the retried request object is reused: record at send time

    def sites(request, context):
        seen.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer old":
            context.status_code = 401
            return {"code": "token_expired"}
        return page([row(5)])

    requests_mock.get(f"{API}/api/sites/", json=sites)
    result = run_tap(base_config, streams=["sites"])
    assert [r["update_stamp"] for r in result.records("sites")] == [5]
    assert seen == ["Bearer old", "Bearer new"]


def test_a_second_401_fails_without_moving_the_bookmark(requests_mock, run_tap, base_config):
    requests_mock.post(TOKEN_URL, json={"access_token": "t", "expires_in": 36000})
    requests_mock.get(f"{API}/api/sites/", status_code=401, json={"code": "not_authenticated"})
    state = {
        "bookmarks": {"sites": {"replication_key": "update_stamp", "replication_key_value": 10}}
    }
    with pytest.raises(
        PainChekError,
        match=r"stream 'sites': GET /api/sites/ answered 401.*"
        r"not_authenticated",
    ):
        run_tap(base_config, streams=["sites"], state=state)


def test_refused_client_credentials_name_the_settings(requests_mock, run_tap, base_config):
    requests_mock.post(
        TOKEN_URL,
        status_code=401,
        json={"code": "invalid_client", "detail": "secret unit-test-client-secret"},
    )
    with pytest.raises(PainChekError) as caught:
        run_tap(base_config, streams=["sites"])
    message = str(caught.value)
    assert "client_id and client_secret" in message
    assert "invalid_client" in message
    assert "unit-test-client-secret" not in message


def test_token_is_minted_again_shortly_before_expiry(requests_mock):
    now = [0.0]
    requests_mock.post(
        TOKEN_URL,
        [
            {"json": {"access_token": "a", "expires_in": 1000}},
            {"json": {"access_token": "b", "expires_in": 1000}},
        ],
    )
    auth = client_credentials(
        api_url=API,
        client_id="c",
        client_secret="s",
        timeout=5,
        user_agent="t",
        retry=RetryPolicy(max_retry_seconds=0, logger=logging.getLogger("test")),
        clock=lambda: now[0],
    )

    def bearer() -> str:
        return auth(requests.Request("GET", f"{API}/api/sites/").prepare()).headers["Authorization"]

    assert bearer() == "Bearer a"
    now[0] = 800.0  # 200 s left of 1000: still more than the 10% margin
    assert bearer() == "Bearer a"
    now[0] = 901.0  # inside the margin: mint before it lapses mid-request
    assert bearer() == "Bearer b"
    assert auth.tokens_minted == 2
