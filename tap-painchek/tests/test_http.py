"""Paging, retries and error messages against requests-mock."""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from painchek_helpers import API, page, row
from tap_painchek.errors import PainChekError
from tapkit.cli import InputError

SITES = f"{API}/api/sites/"


@pytest.fixture(autouse=True)
def _token(requests_mock):
    requests_mock.post(
        f"{API}/api/integration/auth/", json={"access_token": "unit-token-abc", "expires_in": 36000}
    )


def _params(request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(request.url).query).items()}


def _gets(requests_mock) -> list[dict[str, str]]:
    return [_params(r) for r in requests_mock.request_history if r.method == "GET"]


def test_first_run_asks_from_start_update_stamp_with_the_page_size(
    requests_mock, run_tap, base_config
):
    requests_mock.get(SITES, json=page([row(7)]))
    run_tap({**base_config, "start_update_stamp": 5, "page_size": 250}, streams=["sites"])
    assert _gets(requests_mock) == [{"sync": "5", "page": "1", "page_size": "250"}]


def test_a_fractional_timeout_is_kept_for_every_request(requests_mock, run_tap, base_config):
    requests_mock.get(SITES, json=page([row(7)]))
    run_tap({**base_config, "request_timeout": 0.5}, streams=["sites"])
    # 0.5 s, not int(0.5) == 0, which requests refuses: the token request and the page.
    assert [r.timeout for r in requests_mock.request_history] == [0.5, 0.5]


def test_paging_stops_when_next_is_null_without_an_extra_request(
    requests_mock, run_tap, base_config
):
    pages = {
        "1": page([row(30), row(29)], count=3, next_url=f"{SITES}?page=2"),
        "2": page([row(28)], count=3),
    }
    requests_mock.get(SITES, json=lambda req, ctx: pages[_params(req)["page"]])
    result = run_tap(base_config, streams=["sites"])
    assert [r["update_stamp"] for r in result.records("sites")] == [30, 29, 28]
    assert len(_gets(requests_mock)) == 2
    assert result.bookmark("sites") == 30


def test_nothing_new_is_one_request_and_keeps_the_bookmark(requests_mock, run_tap, base_config):
    requests_mock.get(SITES, json=page([]))
    state = {
        "bookmarks": {"sites": {"replication_key": "update_stamp", "replication_key_value": 41}}
    }
    result = run_tap(base_config, streams=["sites"], state=state)
    assert _gets(requests_mock) == [{"sync": "41", "page": "1", "page_size": "100"}]
    assert result.bookmark("sites") == 41


def test_429_waits_exactly_retry_after(requests_mock, run_tap, base_config):
    requests_mock.get(
        SITES,
        [
            {"status_code": 429, "headers": {"Retry-After": "7"}, "json": {"code": "throttled"}},
            {"status_code": 503, "text": "<html>down</html>"},
            {"json": page([row(3)])},
        ],
    )
    sleeps: list[float] = []
    result = run_tap(base_config, streams=["sites"], sleeps=sleeps)
    assert sleeps[0] == 7.0  # the server's wait, no jitter
    assert 0.5 <= sleeps[1] <= 2.0  # then exponential backoff with jitter
    assert [r["update_stamp"] for r in result.records("sites")] == [3]


def test_dropped_connections_and_timeouts_are_retried(requests_mock, run_tap, base_config):
    requests_mock.get(
        SITES,
        [
            {"exc": requests.exceptions.ConnectionError("reset")},
            {"exc": requests.exceptions.ReadTimeout("slow")},
            {"json": page([row(3)])},
        ],
    )
    result = run_tap(base_config, streams=["sites"])
    assert [r["update_stamp"] for r in result.records("sites")] == [3]


def test_exhausted_retries_fail_the_run_and_keep_the_bookmark(requests_mock, run_tap, base_config):
    requests_mock.get(SITES, status_code=503, json={"code": "unavailable"})
    state = {
        "bookmarks": {"sites": {"replication_key": "update_stamp", "replication_key_value": 12}}
    }
    requests_mock.get(f"{API}/api/licenses/", json=page([row(99)]))
    sleeps: list[float] = []
    result = run_tap(
        {**base_config, "max_retry_seconds": 20},
        streams=["sites"],
        state=state,
        sleeps=sleeps,
        expect_error=True,
    )
    message = str(result.error)
    assert isinstance(result.error, PainChekError)
    assert "stream 'sites': GET /api/sites/ answered 503" in message
    assert "max_retry_seconds=20" in message
    assert len(sleeps) >= 3
    assert sum(sleeps) <= 20
    assert result.records("sites") == []
    assert all(
        m["value"]["bookmarks"]["sites"].get("replication_key_value") in (None, 12)
        for m in result.messages
        if m["type"] == "STATE"
    )


def test_retry_after_longer_than_the_budget_fails_at_once(requests_mock, run_tap, base_config):
    requests_mock.get(SITES, status_code=429, headers={"Retry-After": "3600"})
    sleeps: list[float] = []
    with pytest.raises(PainChekError, match="429"):
        run_tap(base_config, streams=["sites"], sleeps=sleeps)
    assert sleeps == []


def test_client_errors_name_stream_path_status_and_code_but_no_body(
    requests_mock, run_tap, base_config, caplog
):
    requests_mock.get(
        f"{API}/api/patients/",
        status_code=400,
        json={
            "code": "invalid",
            "detail": "Patient Margaret Smith born 1931-02-03 is invalid",
            "errors": [{"field": "sync", "detail": "Margaret"}],
        },
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(PainChekError) as caught:
        run_tap(base_config, streams=["patients"])
    message = str(caught.value)
    assert message == "stream 'patients': GET /api/patients/ answered 400 (vendor code 'invalid')"
    assert "Margaret" not in caplog.text
    assert "unit-token-abc" not in caplog.text


def test_403_on_users_skips_that_stream_only(requests_mock, run_tap, base_config, caplog):
    requests_mock.get(
        f"{API}/api/account/users/", status_code=403, json={"code": "permission_denied"}
    )
    requests_mock.get(SITES, json=page([row(2)]))
    with caplog.at_level(logging.WARNING):
        result = run_tap(base_config, streams=["users", "sites"])
    assert result.records("users") == []
    assert len(result.records("sites")) == 1
    assert "stream 'users': GET /api/account/users/ answered 403" in caplog.text


def test_403_elsewhere_fails_the_run(requests_mock, run_tap, base_config):
    requests_mock.get(SITES, status_code=403, json={"code": "permission_denied"})
    with pytest.raises(PainChekError, match="permission_denied"):
        run_tap(base_config, streams=["sites"])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<html>gateway</html>", None),  # not JSON: retried, then a clear failure
        ('{"detail": "no results key"}', "unexpected shape"),
        ('{"count": 1, "next": null, "results": [{"update_stamp": 1}]}', "without a string uuid"),
        (
            '{"count": 1, "next": null, "results": [{"uuid": "u1"}]}',
            "without an integer update_stamp",
        ),
    ],
)
def test_bad_bodies_fail_clearly(requests_mock, run_tap, base_config, body, expected):
    requests_mock.get(SITES, text=body)
    with pytest.raises(PainChekError) as caught:
        run_tap({**base_config, "max_retry_seconds": 3}, streams=["sites"])
    assert str(caught.value).startswith("stream 'sites': GET /api/sites/")
    assert (expected or "not JSON") in str(caught.value)


def test_records_get_is_deleted_and_vendor_quirks_fixed(requests_mock, run_tap, base_config):
    requests_mock.get(
        f"{API}/api/patients/",
        json=page(
            [
                row(2, first_name="A", deleted_reason="null", external_id=1),
                row(
                    3,
                    first_name="B",
                    deleted_reason="Discharged",
                    deleted_at="2025-02-01T00:00:00Z",
                    external_id="001",
                ),
            ]
        ),
    )
    requests_mock.get(
        f"{API}/api/assessments/",
        json=page(
            [
                row(
                    9,
                    data={
                        "assessment": {
                            "date": "2025-03-01T10:00:00Z",
                            "mode": "nrs",
                            "pain_score": 4,
                            "pain_level": "mild",
                        },
                        "face": {"anything": [1, 2]},
                    },
                )
            ]
        ),
    )
    result = run_tap(base_config, streams=["patients", "assessments"])
    live, deleted = result.records("patients")
    assert (live["is_deleted"], live["deleted_reason"], live["external_id"]) == (False, None, "1")
    assert (deleted["is_deleted"], deleted["deleted_reason"], deleted["external_id"]) == (
        True,
        "Discharged",
        "001",
    )
    (assessment,) = result.records("assessments")
    assert assessment["assessed_at"] == "2025-03-01T10:00:00Z"
    assert (assessment["mode"], assessment["pain_score"], assessment["pain_level"]) == (
        "nrs",
        4,
        "mild",
    )
    assert assessment["data"]["face"] == {"anything": [1, 2]}  # unknown nested kept whole


def test_a_foreign_state_fails_naming_the_stream(requests_mock, run_tap, base_config):
    requests_mock.get(re.compile(f"{API}/api/.*"), json=page([]))
    state = {
        "bookmarks": {
            "sites": {
                "replication_key": "update_stamp",
                "replication_key_value": "2025-01-01T00:00:00Z",
            }
        }
    }
    with pytest.raises(InputError, match="state for stream 'sites'"):
        run_tap(base_config, streams=["sites"], state=state)
