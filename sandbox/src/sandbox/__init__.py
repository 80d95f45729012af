"""Fake vendor APIs for trying and testing the healthcare taps without a vendor contract."""
