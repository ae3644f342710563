"""Fixtures for the dataset tests: the real datasets prepared once per session.

Use them from a test module with
``pytest_plugins = ["datasets_fixtures"]``.
Downloads go to a session cache (``$AI4SCALE_TEST_SOURCES`` to reuse one
between runs); nothing is written outside pytest's temporary directories.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from datasets_helpers import real_ids


@pytest.fixture(scope="session")
def source_cache(tmp_path_factory):
    cache = os.environ.get("AI4SCALE_TEST_SOURCES")
    return Path(cache) if cache else tmp_path_factory.mktemp("sources")


@pytest.fixture(scope="session")
def prepared(tmp_path_factory, source_cache):
    """A data directory with every real dataset prepared; returns (dir, results)."""
    from ai4scale.datasets import prepare

    data_dir = tmp_path_factory.mktemp("datasets")
    results = prepare(real_ids(), data_dir=data_dir, cache_dir=source_cache)
    return data_dir, results
