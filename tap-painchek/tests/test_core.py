"""The singer-sdk standard tap tests, against the PainChek sandbox over real HTTP."""

from __future__ import annotations

import atexit

import pytest
from sandbox.painchek import PainChekSandbox
from singer_sdk.testing import get_tap_test_class
from tap_painchek.tap import TapPainChek

_SANDBOX = PainChekSandbox(seed=3, patients=30)
_SANDBOX.start()
atexit.register(_SANDBOX.stop)

# The assessment sections are declared twice: inside `data`, where the sandbox serves
# them (PainChek's webhook sample), and at the top level, the other reading of the
# field table (tested with requests-mock). Only those seven may be missing from records.
_TOP_LEVEL_SECTIONS = "assessment|face|voice|movement|behaviour|activity|body"
_ONLY_TOP_LEVEL_SECTIONS_UNSEEN = (
    r"ignore:Fields in transformed catalog but not in records. "
    rf"\(\{{('({_TOP_LEVEL_SECTIONS})'(, )?){{7}}\}}\)$:UserWarning"
)

TestTapPainChek = pytest.mark.filterwarnings(_ONLY_TOP_LEVEL_SECTIONS_UNSEEN)(
    get_tap_test_class(
        tap_class=TapPainChek,
        config=_SANDBOX.tap_config(page_size=50),
    )
)
