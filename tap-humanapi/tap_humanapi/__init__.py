"""Singer tap for Human API."""
