"""Keyset paging for ascending servers, page numbers otherwise, and the safe bookmark."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from painchek_helpers import API, page, row

PATIENTS = f"{API}/api/patients/"


@pytest.fixture(autouse=True)
def _token(requests_mock):
    requests_mock.post(f"{API}/api/integration/auth/", json={"access_token": "t", "expires_in": 9})


def _serve(requests_mock, rows: list[dict], order: str, page_size: int = 10) -> list[tuple]:
    """A tiny DRF server over `rows` in the given order; returns the (sync, page) asked."""
    asked: list[tuple] = []

    def respond(request, context):
        query = {k: int(v[0]) for k, v in parse_qs(urlparse(request.url).query).items()}
        asked.append((query["sync"], query["page"]))
        matching = [r for r in rows if r["update_stamp"] > query["sync"]]
        key = {
            "asc": lambda r: r["update_stamp"],
            "desc": lambda r: -r["update_stamp"],
            "uuid": lambda r: r["uuid"],
        }[order]
        matching.sort(key=key)
        start = (query["page"] - 1) * page_size
        more = start + page_size < len(matching)
        return page(
            matching[start : start + page_size],
            count=len(matching),
            next_url=f"{PATIENTS}?page={query['page'] + 1}" if more else None,
        )

    requests_mock.get(PATIENTS, json=respond)
    return asked


def _rows(n: int) -> list[dict]:
    # uuids deliberately not in stamp order
    return [
        row(stamp * 3, uuid=f"{(stamp * 7919) % 1000:04d}-{stamp}") for stamp in range(1, n + 1)
    ]


def test_ascending_server_is_paged_by_key(requests_mock, run_tap, base_config):
    asked = _serve(requests_mock, _rows(25), "asc")
    result = run_tap({**base_config, "page_size": 10}, streams=["patients"])
    assert asked == [(0, 1), (30, 1), (60, 1)]
    assert len(result.records("patients")) == 25
    assert result.bookmark("patients") == 75


def test_descending_server_is_paged_by_number_and_bookmarked_at_the_first_page(
    requests_mock, run_tap, base_config
):
    asked = _serve(requests_mock, _rows(25), "desc")
    result = run_tap({**base_config, "page_size": 10}, streams=["patients"])
    assert asked == [(0, 1), (0, 2), (0, 3)]
    assert len(result.records("patients")) == 25
    assert result.bookmark("patients") == 75


def test_uuid_ordered_server_bookmarks_only_the_first_pages_maximum(
    requests_mock, run_tap, base_config
):
    rows = _rows(25)
    asked = _serve(requests_mock, rows, "uuid")
    result = run_tap({**base_config, "page_size": 10}, streams=["patients"])
    first_page = sorted(rows, key=lambda r: r["uuid"])[:10]
    assert asked == [(0, 1), (0, 2), (0, 3)]
    assert len(result.records("patients")) == 25
    # Anything above it may have been written during the sync onto a page
    # already read: the next run reads it again rather than risk losing it.
    assert result.bookmark("patients") == max(r["update_stamp"] for r in first_page)
    assert result.bookmark("patients") < 75


def test_a_page_that_only_looks_ascending_falls_back_to_page_numbers(
    requests_mock, run_tap, base_config
):
    # Page 1 is ascending by chance, but 11 sits on page 2: the keyset request
    # (sync=12) counts 3 rows where an ascending order leaves 4, so the tap
    # reads the delta again by page number and loses nothing.
    rows = [row(s) for s in (1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 11, 20, 30, 40)]
    asked: list[tuple] = []

    def respond(request, context):
        query = {k: int(v[0]) for k, v in parse_qs(urlparse(request.url).query).items()}
        asked.append((query["sync"], query["page"]))
        matching = [r for r in rows if r["update_stamp"] > query["sync"]]
        start = (query["page"] - 1) * 10
        more = start + 10 < len(matching)
        return page(
            matching[start : start + 10],
            count=len(matching),
            next_url=f"{PATIENTS}?page=x" if more else None,
        )

    requests_mock.get(PATIENTS, json=respond)
    result = run_tap({**base_config, "page_size": 10}, streams=["patients"])
    assert asked == [(0, 1), (12, 1), (0, 1), (0, 2)]
    assert {r["update_stamp"] for r in result.records("patients")} == {
        r["update_stamp"] for r in rows
    }
    assert result.bookmark("patients") == 12
