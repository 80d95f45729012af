"""The singer-sdk standard tap tests, against the PainChek sandbox over real HTTP."""

from __future__ import annotations

import atexit

from sandbox.painchek import PainChekSandbox
from singer_sdk.testing import get_tap_test_class
from tap_painchek.tap import TapPainChek

_SANDBOX = PainChekSandbox(seed=3, patients=30)
_SANDBOX.start()
atexit.register(_SANDBOX.stop)

TestTapPainChek = get_tap_test_class(
    tap_class=TapPainChek,
    config=_SANDBOX.tap_config(page_size=50),
)
