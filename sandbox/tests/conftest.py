from collections.abc import Iterator

import pytest
import requests
from sandbox_helpers import token_for


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture
def authed(http, painchek_sandbox) -> requests.Session:
    http.headers["Authorization"] = f"Bearer {token_for(http, painchek_sandbox)}"
    return http
