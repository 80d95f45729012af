"""A spool commits its bookmark after its group's last stream; tokens refresh early."""

from __future__ import annotations

import json
import logging
import typing as t

import pytest
import requests
from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from tapkit.auth import MintedTokenAuth, TokenCache, TokenRequest
from tapkit.errors import TapError
from tapkit.retry import RetryPolicy
from tapkit.spool import Spool, SpooledStream

GROUP = ("alpha", "beta", "gamma")


class Read:
    """One read feeding the three streams; its bookmark covers them all."""

    def __init__(self, selected: set[str]) -> None:
        self.spool = Spool("tapkit-test-", lambda: selected)
        self.runs = 0

    def read(self) -> Spool:
        if not self.spool.ready:
            self.runs += 1
            self.spool.open(GROUP)
            for n, name in enumerate(GROUP):
                self.spool.write(name, [{"id": f"{name}-{i}", "n": n} for i in range(3)])
            marks = self.spool.mark()
            self.spool.write("alpha", [{"id": "half-read", "n": 9}])
            self.spool.roll_back(marks)  # a bad file: nothing of it is kept
            self.spool.seal()
        return self.spool


class Grouped(SpooledStream):
    primary_keys = ("id",)
    schema: t.ClassVar[dict] = th.PropertiesList(
        th.Property("id", th.StringType), th.Property("n", th.IntegerType)
    ).to_dict()

    def __init__(self, tap: Tap, name: str, source: Read) -> None:
        self.name = name
        super().__init__(tap)
        self._source = source

    def spool(self) -> Spool:
        return self._source.read()

    def commit(self, bookmarks: dict[str, t.Any]) -> None:
        bookmarks.setdefault("group", {})["watermark"] = "2025-01-02T00:00:00+00:00"


class GroupTap(Tap):
    name = "tap-group"
    config_jsonschema: t.ClassVar[dict] = {"type": "object", "properties": {}}
    source = Read(set(GROUP))

    def discover_streams(self) -> list[Stream]:
        return [Grouped(self, name, self.source) for name in GROUP]


def test_the_bookmark_enters_the_state_only_after_the_last_stream_of_the_group(capsys):
    GroupTap.source = Read(set(GROUP))
    tap = GroupTap(config={})
    capsys.readouterr()
    tap.sync_all()
    messages = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    kinds = [(m["type"], m.get("stream") or m.get("record", {}).get("id")) for m in messages]
    last_record = max(i for i, (kind, _) in enumerate(kinds) if kind == "RECORD")
    committed = [
        i
        for i, m in enumerate(messages)
        if m["type"] == "STATE" and "group" in m["value"].get("bookmarks", {})
    ]
    assert committed
    assert min(committed) > last_record  # never before a record it covers
    records = [m["record"]["id"] for m in messages if m["type"] == "RECORD"]
    assert len(records) == 9
    assert "half-read" not in records  # rolled back
    assert GroupTap.source.runs == 1  # one read for the three streams
    GroupTap.source.spool.close()


def test_a_group_with_a_stream_not_selected_still_commits_after_the_selected_ones():
    read = Read({"alpha", "gamma"})
    spool = read.read()
    assert not spool.finished("alpha")
    assert spool.finished("gamma")
    spool.close()
    assert not (spool._dir and spool._dir.exists())


def test_a_cached_token_is_reused_and_minted_again_inside_the_margin():
    now = [0.0]
    minted: list[str] = []

    def mint(key: str) -> tuple[str, float]:
        minted.append(key)
        return f"{key}-{len(minted)}", 1000.0

    cache = TokenCache(mint, clock=lambda: now[0])
    assert cache.get("u1") == "u1-1"
    now[0] = 899.0  # 101 s left of 1000: outside the 10% margin
    assert cache.get("u1") == "u1-1"
    now[0] = 901.0  # inside it: mint before it lapses mid-request
    assert cache.get("u1") == "u1-2"
    assert cache.get("u2") == "u2-3"  # one token per key
    cache.invalidate("u2")  # a 401
    assert cache.get("u2") == "u2-4"
    assert cache.minted == 4


@pytest.mark.parametrize("form", [True, False])
def test_a_minted_token_takes_the_vendors_request_shape(requests_mock, form):
    seen = []

    def respond(request, context):
        seen.append((request.headers["Content-Type"], request.text))
        return {"jwt": "token-1", "ttl": 60}

    requests_mock.post("https://api.example.test/auth", json=respond)
    auth = MintedTokenAuth(
        api_url="https://api.example.test",
        request=TokenRequest(
            path="/auth",
            body={"key": "k", "secret": "s"},
            form=form,
            read=lambda body: (body["jwt"], float(body["ttl"])),
            refused="check the key and secret settings",
            token_field="jwt",
        ),
        timeout=5,
        user_agent="test",
        retry=RetryPolicy(max_retry_seconds=0, logger=logging.getLogger("t")),
    )
    prepared = auth(requests.Request("GET", "https://api.example.test/x").prepare())
    assert prepared.headers["Authorization"] == "Bearer token-1"
    content_type, text = seen[0]
    if form:
        assert content_type == "application/x-www-form-urlencoded"
        assert text == "key=k&secret=s"
    else:
        assert content_type == "application/json"
        assert json.loads(text) == {"key": "k", "secret": "s"}


def test_refused_credentials_name_the_settings_and_never_the_secret(requests_mock):
    requests_mock.post("https://api.example.test/auth", status_code=401, json={"code": "bad"})
    auth = MintedTokenAuth(
        api_url="https://api.example.test",
        request=TokenRequest(
            path="/auth",
            body={"key": "k", "secret": "very-secret-value"},
            read=lambda body: (body["jwt"], 60.0),
            refused="check the key and secret settings",
            token_field="jwt",
        ),
        timeout=5,
        user_agent="test",
        retry=RetryPolicy(max_retry_seconds=0, logger=logging.getLogger("t")),
    )
    with pytest.raises(TapError) as caught:
        auth.log_in()
    assert str(caught.value) == (
        "POST /auth answered 401 (vendor code 'bad'): check the key and secret settings"
    )
