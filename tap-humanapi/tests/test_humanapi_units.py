"""Change detection, per-user isolation, paging and tokens against a requests-mock fake."""

from __future__ import annotations

import pytest
from humanapi_helpers import FakeHumanAPI
from tap_humanapi.coordinator import in_shard
from tap_humanapi.tap import TapHumanAPI
from tapkit.cli import InputError


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"client_secret": None}, "client_secret"),
        ({"api_url": "http://api.example.test/v1/human"}, "api_url must use https"),
        ({"shard_count": 2, "shard_index": 2}, "shard_index must be less than shard_count"),
        ({"page_size": 501}, "page_size"),
        ({"start_date": "yesterday"}, "start_date"),
        ({"request_timeout": "soon"}, "config['request_timeout']"),
        ({"client_secret": 31415926}, "config['client_secret']"),
        ({"client_secret": ["unit-test-client-secret"]}, "config['client_secret']"),
    ],
)
def test_bad_settings_name_the_setting_in_one_line_hiding_secrets(base_config, change, expected):
    config = {k: v for k, v in {**base_config, **change}.items() if v is not None}
    with pytest.raises(InputError) as caught:
        TapHumanAPI(config=config)
    message = str(caught.value)
    assert expected in message
    assert message.startswith("invalid settings: ")
    assert "\n" not in message
    assert "unit-test-client-secret" not in message
    assert "31415926" not in message


def test_first_run_reads_everything_then_no_change_is_two_requests_per_user(
    requests_mock, run_tap, base_config
):
    fake = FakeHumanAPI(requests_mock, users=3)
    fake.add("/medical/allergies", "cu-1", 2)
    first = run_tap(base_config)
    assert len(first.records("allergies")) == 2
    assert {r["human_id"] for r in first.records("allergies")} == {fake.users[0]["humanId"]}
    assert set(first.outcomes().values()) == {"synced"}

    fake.calls.clear()
    second = run_tap(base_config, state=first.state)
    assert fake.data_calls() == []
    assert fake.count("token") == 3
    assert fake.count("/sources") == 3
    assert set(second.outcomes().values()) == {"unchanged"}


def test_a_newer_synched_at_reads_only_that_user_since_the_marker_minus_lookback(
    requests_mock, run_tap, base_config
):
    fake = FakeHumanAPI(requests_mock, users=3)
    first = run_tap(base_config)
    fake.synched["cu-2"] = "2026-01-02T00:00:00.000Z"
    fake.add("/medical/allergies", "cu-2", 1, updated="2026-01-01T12:00:00.000Z")
    fake.add("/medical/allergies", "cu-2", 1, updated="2025-12-31T23:55:00.000Z")  # in lookback
    fake.add("/medical/allergies", "cu-2", 1, updated="2025-12-30T00:00:00.000Z")  # older
    fake.calls.clear()
    second = run_tap(base_config, state=first.state)
    assert {u for _, u in fake.data_calls()} == {"cu-2"}
    assert len(second.records("allergies")) == 2
    assert second.outcomes() == {"cu-1": "unchanged", "cu-2": "synced", "cu-3": "unchanged"}


def test_a_refused_user_is_reported_and_the_others_sync(requests_mock, run_tap, base_config):
    fake = FakeHumanAPI(requests_mock, users=3)
    fake.refused.add("cu-2")
    fake.add("/medical/allergies", "cu-3", 1)
    result = run_tap(base_config)
    assert result.outcomes() == {"cu-1": "synced", "cu-2": "token_rejected", "cu-3": "synced"}
    (status,) = [r for r in result.records("user_sync_status") if r["client_user_id"] == "cu-2"]
    assert "404" in status["detail"]
    assert fake.users[1]["humanId"] not in result.state["bookmarks"]["user_sync_status"]["users"]
    assert len(result.records("allergies")) == 1


def test_a_401_mints_that_users_token_again_once(requests_mock, run_tap, base_config):
    fake = FakeHumanAPI(requests_mock, users=1)
    fake.reject_once.add("cu-1")
    run_tap(base_config, streams=["sources"])
    assert fake.count("token") == 2


def test_pages_follow_link_next_and_stop_on_a_short_page(requests_mock, run_tap, base_config):
    fake = FakeHumanAPI(requests_mock, users=1)
    fake.add("/medical/allergies", "cu-1", 5)
    result = run_tap({**base_config, "page_size": 2}, streams=["allergies"])
    assert len(result.records("allergies")) == 5
    assert [p for p, _ in fake.data_calls()] == ["/medical/allergies"] * 3


def test_profile_is_one_object_or_404_and_demographics_a_list(requests_mock, run_tap, base_config):
    fake = FakeHumanAPI(requests_mock, users=2)
    fake.serve("/profile", "cu-1", {"humanId": "h1", "updatedAt": "2025-12-31T00:00:00.000Z"})
    fake.add("/medical/demographics", "cu-2", 3)  # e.g. one per medical source
    result = run_tap({**base_config, "page_size": 2}, streams=["profile", "demographics"])
    assert [r["client_user_id"] for r in result.records("profile")] == ["cu-1"]
    demographics = result.records("demographics")
    assert [r["client_user_id"] for r in demographics] == ["cu-2"] * 3
    assert len({r["id"] for r in demographics}) == 3  # keyed (human_id, id)
    calls = [p for p, u in fake.data_calls() if u == "cu-2"]
    assert calls.count("/medical/demographics") == 2  # page by page, like every list
    assert calls.count("/profile") == 1  # answered 404: no record


def test_concurrent_output_equals_sequential(requests_mock, run_tap, base_config):
    fake = FakeHumanAPI(requests_mock, users=7)
    for i in range(1, 8):
        fake.add("/medical/allergies", f"cu-{i}", i)
        fake.add("/heart_rate/readings", f"cu-{i}", 8 - i)

    def stable(run):
        return [
            (m["stream"], m["record"])
            for m in run.messages
            if m["type"] == "RECORD" and m["stream"] != "user_sync_status"
        ]

    one = run_tap({**base_config, "max_workers": 1})
    many = run_tap({**base_config, "max_workers": 8})
    assert stable(one) == stable(many)
    assert len(stable(one)) > 40


def test_shards_split_users_stably():
    ids = [f"user-{i}" for i in range(200)]
    shards = [[u for u in ids if in_shard(u, 3, k)] for k in range(3)]
    assert sorted(u for shard in shards for u in shard) == sorted(ids)
    assert all(len(s) > 40 for s in shards)
