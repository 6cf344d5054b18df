"""The cluster tests need HAProxy (Debian package ``haproxy``; `make system-packages` installs it
as root).

Without /usr/sbin/haproxy they are skipped, except under CI=true, where they fail (like the
browser tests without Chromium).
"""
from __future__ import annotations

import os

import pytest

from bot.cluster.cluster import haproxy_binary

MISSING = "HAProxy is not installed (apt-get install haproxy): the cluster tests need it"


@pytest.fixture(scope="session", autouse=True)
def _haproxy_installed() -> None:
    """Skip (or under CI=true fail) before anything starts when HAProxy is missing."""
    if haproxy_binary() is not None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{MISSING} (`make system-packages` installs it as root)", pytrace=False)
    pytest.skip(MISSING)
