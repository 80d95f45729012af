"""pytest fixtures serving the fake vendor APIs on 127.0.0.1 (registered via pytest11)."""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from sandbox.healthex import HealthExSandbox
    from sandbox.humanapi import HumanAPISandbox
    from sandbox.painchek import PainChekSandbox

T = t.TypeVar("T")


@contextmanager
def _sandboxes(vendor: Callable[..., T]) -> Iterator[Callable[..., T]]:
    """A factory of started sandboxes of one vendor; all are stopped afterwards."""
    started: list[Any] = []

    def make(**kwargs: Any) -> T:
        sandbox: Any = vendor(**kwargs)
        sandbox.start()
        started.append(sandbox)
        return t.cast("T", sandbox)

    try:
        yield make
    finally:
        for sandbox in started:
            sandbox.stop()


@pytest.fixture
def make_painchek_sandbox() -> Iterator[Callable[..., PainChekSandbox]]:
    """Return a factory: ``make_painchek_sandbox(**kwargs)`` gives a started sandbox."""
    from sandbox.painchek import PainChekSandbox  # noqa: PLC0415

    with _sandboxes(PainChekSandbox) as make:
        yield make


@pytest.fixture
def painchek_sandbox(make_painchek_sandbox: Callable[..., PainChekSandbox]) -> PainChekSandbox:
    """Serve a PainChek sandbox (seed 1, 50 patients) for one test."""
    return make_painchek_sandbox(seed=1, patients=50)


@pytest.fixture
def make_humanapi_sandbox() -> Iterator[Callable[..., HumanAPISandbox]]:
    """Return a factory: ``make_humanapi_sandbox(**kwargs)`` gives a started sandbox."""
    from sandbox.humanapi import HumanAPISandbox  # noqa: PLC0415

    with _sandboxes(HumanAPISandbox) as make:
        yield make


@pytest.fixture
def humanapi_sandbox(make_humanapi_sandbox: Callable[..., HumanAPISandbox]) -> HumanAPISandbox:
    """Serve a Human API sandbox (seed 1, 20 users) for one test."""
    return make_humanapi_sandbox(seed=1, users=20)


@pytest.fixture
def make_healthex_sandbox() -> Iterator[Callable[..., HealthExSandbox]]:
    """Return a factory: ``make_healthex_sandbox(**kwargs)`` gives a started sandbox."""
    from sandbox.healthex import HealthExSandbox  # noqa: PLC0415

    with _sandboxes(HealthExSandbox) as make:
        yield make


@pytest.fixture
def healthex_sandbox(make_healthex_sandbox: Callable[..., HealthExSandbox]) -> HealthExSandbox:
    """Serve a HealthEx sandbox (seed 1, 2 projects of 10 patients, S3 and SFTP delivery)."""
    return make_healthex_sandbox(seed=1, patients_per_project=10, delivery="both")
