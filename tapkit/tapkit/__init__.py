"""The core the healthcare taps share."""
