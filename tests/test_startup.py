"""Start-up: a no-change run, what a minute schedule pays every minute, imports little.

A tap imports a delivery's client (boto3, paramiko) and its streaming JSON parser
(ijson) only when a run reads a delivery; importing a tap loads none of them.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Loaded only by the code that needs them (tap_healthex.stores and tap_healthex.fhir).
ON_USE = ("boto3", "botocore", "paramiko", "ijson")


def _loaded_after(module: str) -> list[str]:
    """Which of ON_USE a fresh interpreter has loaded after importing ``module``."""
    code = (
        f"import json, sys, {module}\n"
        f"print(json.dumps([m for m in {ON_USE!r} if m in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


@pytest.mark.parametrize("module", ["tap_painchek.tap", "tap_humanapi.tap", "tap_healthex.tap"])
def test_importing_a_tap_loads_no_delivery_client(module):
    assert _loaded_after(module) == []


def test_the_check_sees_a_module_that_is_loaded():
    assert _loaded_after("ijson") == ["ijson"]
