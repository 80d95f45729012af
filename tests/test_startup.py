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


@pytest.mark.parametrize("module", ["tap_painchek.tap", "tap_humanapi.tap", "tap_healthex.tap"])
def test_importing_a_tap_loads_no_delivery_client(module):
    code = (
        f"import json, sys, {module}\n"
        f"print(json.dumps([m for m in {ON_USE!r} if m in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


def test_the_check_sees_a_module_that_is_loaded():
    code = (
        f"import json, sys, ijson\nprint(json.dumps([m for m in {ON_USE!r} if m in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == ["ijson"]
