"""What every tap shares lives once, in the core: tap folders copy next to nothing."""

from __future__ import annotations

import importlib.util
import types

import pytest
from harness import ROOT

LIMIT = 100  # lines of a tap folder in runs of six or more found in another, all pairs


@pytest.fixture(scope="module")
def copied_lines() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("copied_lines", ROOT / "scripts/copied_lines.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tap_folders_repeat_fewer_than_a_hundred_lines_of_each_other(copied_lines):
    pairs = copied_lines.total(ROOT)
    assert sum(pairs.values()) < LIMIT, pairs


def test_the_count_sees_a_copy_and_only_runs_of_six(copied_lines, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for folder in (first, second):
        folder.mkdir()
    (first / "m.py").write_text("\n".join(f"value_{i} = {i}" for i in range(8)))
    (second / "m.py").write_text("\n".join(f"value_{i} = {i}" for i in range(8)))
    assert copied_lines.copied(first, second) == 8
    (second / "m.py").write_text("\n".join(f"value_{i} = {i}" for i in range(5)))
    assert copied_lines.copied(first, second) == 0
