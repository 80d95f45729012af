"""Bad input ends in one HumanAPIError naming it: files, state, answers, credentials."""

from __future__ import annotations

import json
import logging
import re

import pytest
import tapkit.errors
from humanapi_helpers import API, AUTH, FakeHumanAPI
from tap_humanapi.errors import HumanAPIError
from tap_humanapi.tap import TapHumanAPI, cli
from tapkit.cli import InputError
from tapkit.errors import ResponseTooLargeError

MARKERS = {"users": {"0" * 24: "2026-01-01T00:00:00.000Z"}, "streams": ["allergies"]}


def _state(**bookmarks: object) -> dict:
    return {"bookmarks": bookmarks}


# -- the state ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (_state(orders={"replication_key": "id", "replication_key_value": 5}), "another tap"),
        ({"bookmarks": []}, "'bookmarks' is not an object"),
        (_state(user_sync_status=[]), "'user_sync_status' is not an object"),
        (_state(user_sync_status={"users": [1]}), "'users' is not a map"),
        (_state(user_sync_status={"users": {"a": 5}}), "synchedAt that is not an ISO-8601"),
        (_state(user_sync_status={"users": {"a": "yesterday"}}), "synchedAt that is not"),
        (_state(user_sync_status={**MARKERS, "streams": "allergies"}), "'streams' is not a list"),
        (_state(user_sync_status={**MARKERS, "streams": [1]}), "'streams' is not a list"),
        (
            _state(allergies={"replication_key": "update_stamp", "replication_key_value": "1"}),
            "'allergies' is bookmarked by 'update_stamp', not by 'updatedAt'",
        ),
        (
            _state(allergies={"replication_key": "updatedAt", "replication_key_value": 17}),
            "updatedAt bookmark is a int",
        ),
        (
            _state(users={"replication_key": "id", "replication_key_value": 5}),
            "'users' is bookmarked by 'id', but the stream has no replication key",
        ),
        (_state(sources={"partitions": {}}), "'sources' is not an object with a list"),
    ],
)
def test_a_bad_state_is_refused_before_any_request(requests_mock, base_config, state, expected):
    with pytest.raises(InputError) as caught:
        TapHumanAPI(config=base_config, state=state)
    message = str(caught.value)
    assert expected in message, message
    assert "\n" not in message
    assert requests_mock.request_history == []


def test_the_tap_accepts_its_own_state_and_warns_of_streams_it_lacks(
    requests_mock, run_tap, base_config, caplog
):
    FakeHumanAPI(requests_mock, users=2).add("/medical/allergies", "cu-1", 2)
    first = run_tap(base_config)
    assert first.state["bookmarks"]["allergies"]["replication_key"] == "updatedAt"
    foreign = {"replication_key": "id", "replication_key_value": 5}
    with caplog.at_level(logging.WARNING):
        second = run_tap(
            base_config, state={"bookmarks": {**first.state["bookmarks"], "orders": foreign}}
        )
    assert "Ignoring the state of stream 'orders'" in caplog.text
    assert set(second.outcomes().values()) == {"unchanged"}


# -- answers -----------------------------------------------------------------------------


NO_ID = [{"updatedAt": "2026-01-01T00:00:00Z", "name": "Peanut"}]
EMPTY_ID = [{"id": "", "updatedAt": "2026-01-01T00:00:00Z"}]
NO_UPDATED_AT = [{"id": "a1", "name": "Peanut"}]
STREAM_OF = {"/sources": "sources", "/medical/allergies": "allergies", "/profile": "profile"}
SHAPE = "JSON of an unexpected shape"


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/sources", [{"source": "portal"}], "a source without a string 'id'"),
        ("/sources", [{"id": "s1"}], "a source without a string 'source'"),
        ("/sources", {"data": []}, SHAPE),
        ("/medical/allergies", NO_ID, "a record without a string 'id' (part of its primary key)"),
        ("/medical/allergies", EMPTY_ID, "a record without a string 'id'"),
        ("/medical/allergies", NO_UPDATED_AT, "without a string 'updatedAt' (its replication key)"),
        ("/medical/allergies", {"data": []}, SHAPE),
        ("/profile", [{"id": "p1"}], SHAPE),
    ],
)
def test_answers_without_their_keys_end_the_run_naming_stream_and_path(
    requests_mock, capsys, base_config, path, body, expected
):
    FakeHumanAPI(requests_mock, users=2)
    requests_mock.get(f"{API}{path}", json=body)
    tap = TapHumanAPI(config=base_config)
    with pytest.raises(HumanAPIError) as caught:
        tap.sync_all()
    message = str(caught.value)
    assert message.startswith(f"stream '{STREAM_OF[path]}': GET {path} answered "), message
    assert expected in message, message
    for patient_data in ("Peanut", "Ann", "portal", "tok-", "?"):
        assert patient_data not in message
    out = capsys.readouterr().out
    states = [json.loads(line) for line in out.splitlines() if line.startswith('{"type":"STATE"')]
    assert not any("user_sync_status" in m["value"].get("bookmarks", {}) for m in states)


def test_single_objects_need_no_id_their_key_is_the_users(requests_mock, run_tap, base_config):
    fake = FakeHumanAPI(requests_mock, users=1)
    profile = {"firstName": "Ann"}  # the reference's sample has no updatedAt either
    requests_mock.get(f"{API}/profile", json=profile)
    result = run_tap(base_config, streams=["profile"])
    assert [r["human_id"] for r in result.records("profile")] == [fake.users[0]["humanId"]]


def test_a_body_over_the_cap_is_refused_and_is_not_a_per_user_failure(
    requests_mock, run_tap, capsys, base_config, monkeypatch
):
    fake = FakeHumanAPI(requests_mock, users=3)
    fake.add("/medical/allergies", "cu-1", 1)
    first = run_tap(base_config)
    markers = first.state["bookmarks"]["user_sync_status"]
    assert len(markers["users"]) == 3

    fake.synched["cu-2"] = "2026-01-02T00:00:00.000Z"
    # One page of ~6 kB, newer than the marker: over the cap.
    fake.add("/medical/allergies", "cu-2", 40, updated="2026-01-01T12:00:00.000Z")
    monkeypatch.setattr(tapkit.errors, "MAX_RESPONSE_BYTES", 2000)
    tap = TapHumanAPI(config=base_config, state=first.state)
    capsys.readouterr()
    with pytest.raises(ResponseTooLargeError) as caught:
        tap.sync_all()
    assert str(caught.value) == (
        "stream 'allergies': GET /medical/allergies answered a body over 0 MiB; refusing to read it"
    )
    states = [
        json.loads(line)["value"]
        for line in capsys.readouterr().out.splitlines()
        if line.startswith('{"type":"STATE"')
    ]
    assert states  # the streams before allergies finished and wrote theirs
    assert all(s["bookmarks"]["user_sync_status"] == markers for s in states)


def test_a_declared_length_over_the_cap_is_refused_unread(requests_mock, base_config, monkeypatch):
    FakeHumanAPI(requests_mock, users=1)
    requests_mock.get(
        re.compile(f"{API}/medical/allergies.*"),
        content=b"[]",
        headers={"Content-Length": str(200 << 20)},
    )
    tap = TapHumanAPI(config=base_config)
    for name, stream in tap.streams.items():
        stream.selected = name == "allergies"
    with pytest.raises(ResponseTooLargeError, match="over 64 MiB"):
        tap.sync_all()


# -- credentials -------------------------------------------------------------------------


def test_refused_app_credentials_end_the_run_naming_the_settings(requests_mock, base_config):
    FakeHumanAPI(requests_mock, users=2)
    requests_mock.post(f"{AUTH}/v1/admin/token", status_code=401, json={"error": "invalid_client"})
    tap = TapHumanAPI(config=base_config)
    with pytest.raises(HumanAPIError) as caught:
        tap.sync_all()
    message = str(caught.value)
    assert "client_id and client_secret settings" in message
    assert "unit-test-client-secret" not in message


# -- the command -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"config.json": "{'a': 1"}, "config file '{dir}/config.json' is not JSON"),
        ({}, "config file '{dir}/config.json' cannot be read"),
        ({"config.json": "SECRET", "state.json": "[]"}, "state file '{dir}/state.json' holds"),
        ({"config.json": "SECRET", "catalog.json": "{"}, "catalog file '{dir}/catalog.json'"),
        ({"config.json": "TYPED"}, "invalid settings: (hidden) is not of type 'string'"),
    ],
)
def test_the_command_ends_bad_input_in_one_line_and_exit_1(
    tmp_path, monkeypatch, caplog, capsys, base_config, files, expected
):
    contents = {
        "SECRET": json.dumps(base_config),
        "TYPED": json.dumps({**base_config, "client_secret": 31415926}),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(contents.get(text, text))
    argv = ["tap-humanapi", "--config", str(tmp_path / "config.json")]
    for option in ("state", "catalog"):
        if f"{option}.json" in files:
            argv += [f"--{option}", str(tmp_path / f"{option}.json")]
    monkeypatch.setattr("sys.argv", argv)
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as caught:
        cli()
    assert caught.value.code == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [errors[0]]
    assert expected.format(dir=tmp_path) in errors[0]
    assert "31415926" not in errors[0]
    assert "unit-test-client-secret" not in errors[0]
    assert '"type":"STATE"' not in capsys.readouterr().out.replace(" ", "")
