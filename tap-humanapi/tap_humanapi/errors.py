"""Human API's own errors; the shared ones (and safe messages) are in ``tapkit.errors``."""

from __future__ import annotations

from tapkit.errors import TapError, Unauthorized
from tapkit.retry import RetryPolicy


class HumanAPIError(TapError):
    """A Human API failure that ends the run; its message is safe to log."""


class UserFailure(Exception):  # noqa: N818 - a per-user outcome, not a crash
    """One user's requests failed; that user is skipped and reported, the run goes on."""


class UserRetryPolicy(RetryPolicy):
    """Retries as every tap's; but a token refused again is one user's problem."""

    def refused_again(self, exc: Unauthorized) -> Exception:
        """Tokens are per user: a fresh one refused is that user's failure, not the run's."""
        return UserFailure(f"{exc}: refused again with a freshly minted token")
