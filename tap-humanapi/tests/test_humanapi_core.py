"""The singer-sdk standard tap tests, against the Human API sandbox over real HTTP."""

from __future__ import annotations

import atexit

from sandbox.humanapi import HumanAPISandbox
from singer_sdk.testing import get_tap_test_class
from tap_humanapi.tap import TapHumanAPI

_SANDBOX = HumanAPISandbox(seed=1, users=40)  # a seed where every stream has records
_SANDBOX.start()
atexit.register(_SANDBOX.stop)

TestTapHumanAPI = get_tap_test_class(
    tap_class=TapHumanAPI,
    config=_SANDBOX.tap_config(),
)
