"""The singer-sdk standard tap tests, against the HealthEx sandbox (API and S3)."""

from __future__ import annotations

import atexit

from sandbox.healthex import HealthExSandbox
from singer_sdk.testing import get_tap_test_class
from tap_healthex.tap import TapHealthEx
from test_healthex_sandbox import config_for

_SANDBOX = HealthExSandbox(seed=1, patients_per_project=6, delivery="s3")
_SANDBOX.start()
atexit.register(_SANDBOX.stop)

TestTapHealthEx = get_tap_test_class(
    tap_class=TapHealthEx,
    config=config_for(_SANDBOX, "s3", request_updates=True),
)
