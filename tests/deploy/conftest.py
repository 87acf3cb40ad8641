"""Deployment tests: the image replayed without Docker, and the load balancer's config."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "slow: installs the app into a fresh virtualenv (a few minutes); "
        "deselect with -m 'not slow'",
    )
