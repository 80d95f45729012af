"""HealthEx's own error; the shared ones (and safe messages) are in ``tapkit.errors``."""

from __future__ import annotations

from tapkit.errors import TapError


class HealthExError(TapError):
    """A HealthEx failure that ends the run; its message is safe to log."""
