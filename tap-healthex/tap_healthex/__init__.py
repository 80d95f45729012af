"""Singer tap for HealthEx."""
