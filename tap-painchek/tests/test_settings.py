"""Settings are validated up front, with one message naming the setting."""

from __future__ import annotations

import pytest
from tap_painchek.tap import TapPainChek
from tapkit.cli import InputError


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"api_url": None}, "api_url"),
        ({"api_url": "http://tenant.example.test"}, "api_url must use https"),
        ({"api_url": "https://tenant.example.test/api"}, "without /api"),
        ({"api_url": "tenant.example.test"}, "absolute URL"),
        ({"client_secret": None}, "client_id is set but client_secret is missing"),
        ({"username": "u", "password": "p"}, "not both"),
        ({"client_id": None, "client_secret": None}, "set client_id + client_secret"),
        ({"page_size": 5000}, "page_size"),
        ({"start_update_stamp": "ten"}, "start_update_stamp"),
        ({"client_secret": 31415926}, "config['client_secret']"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(base_config, change, expected):
    config = {k: v for k, v in {**base_config, **change}.items() if v is not None}
    with pytest.raises(InputError) as caught:
        TapPainChek(config=config)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message
    assert "unit-test-client-secret" not in message
    assert "31415926" not in message


@pytest.mark.parametrize("url", ["http://localhost:8765", "http://127.0.0.1:9"])
def test_plain_http_is_allowed_for_localhost_only(base_config, url):
    TapPainChek(config={**base_config, "api_url": url})


def test_credentials_are_secret_in_the_schema():
    props = TapPainChek.config_jsonschema["properties"]
    assert props["client_secret"].get("secret") is True
    assert props["password"].get("secret") is True
    assert all(p.get("title") and p.get("description") for p in props.values())
