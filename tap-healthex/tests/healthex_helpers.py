"""Shared values of the tap-healthex unit tests."""

API = "https://api.example.test"
