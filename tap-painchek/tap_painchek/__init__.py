"""Singer tap for PainChek."""
