"""Shared fixtures. Each group lives in its own module; this file only makes pytest see them."""

pytest_plugins = [
    "pytester",
    "tests.servers",
    "tests.fixtures_data",
    "tests.workspaces",
    "tests.browser",
]
