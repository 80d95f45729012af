"""pytest fixtures serving the fake vendor APIs on 127.0.0.1 (registered via pytest11)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from sandbox.humanapi import HumanAPISandbox
    from sandbox.painchek import PainChekSandbox


@pytest.fixture
def painchek_sandbox() -> Iterator[PainChekSandbox]:
    """Serve a PainChek sandbox (seed 1, 50 patients) for one test."""
    from sandbox.painchek import PainChekSandbox  # noqa: PLC0415

    sandbox = PainChekSandbox(seed=1, patients=50)
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def make_painchek_sandbox() -> Iterator[Callable[..., PainChekSandbox]]:
    """Return a factory: ``make_painchek_sandbox(**kwargs)`` gives a started sandbox."""
    from sandbox.painchek import PainChekSandbox  # noqa: PLC0415

    started: list[PainChekSandbox] = []

    def make(**kwargs: Any) -> PainChekSandbox:
        sandbox = PainChekSandbox(**kwargs)
        sandbox.start()
        started.append(sandbox)
        return sandbox

    try:
        yield make
    finally:
        for sandbox in started:
            sandbox.stop()


@pytest.fixture
def humanapi_sandbox() -> Iterator[HumanAPISandbox]:
    """Serve a Human API sandbox (seed 1, 20 users) for one test."""
    from sandbox.humanapi import HumanAPISandbox  # noqa: PLC0415

    sandbox = HumanAPISandbox(seed=1, users=20)
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def make_humanapi_sandbox() -> Iterator[Callable[..., HumanAPISandbox]]:
    """Return a factory: ``make_humanapi_sandbox(**kwargs)`` gives a started sandbox."""
    from sandbox.humanapi import HumanAPISandbox  # noqa: PLC0415

    started: list[HumanAPISandbox] = []

    def make(**kwargs: Any) -> HumanAPISandbox:
        sandbox = HumanAPISandbox(**kwargs)
        sandbox.start()
        started.append(sandbox)
        return sandbox

    try:
        yield make
    finally:
        for sandbox in started:
            sandbox.stop()
