"""PainChek's own errors; the shared ones (and safe messages) are in ``tapkit.errors``."""

from __future__ import annotations

from tapkit.errors import TapError


class PainChekError(TapError):
    """A PainChek failure that ends the run; its message is safe to log."""


class StreamForbidden(Exception):  # noqa: N818 - named after the HTTP status
    """The API answered 403 on an endpoint the tenant may restrict."""
