"""Shared fixtures for the toolkit's own tests."""

pytest_plugins = ["pytester"]
