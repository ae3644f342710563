"""The hub keeps its database in PostgreSQL when ``hub.db_url`` says so.

``./sandbox test`` starts PostgreSQL and exports AI4SCALE_TEST_POSTGRES_URL.
The hub here is started with the repository's own ``jupyterhub_config.py``,
as ``jupyterhub -f jupyterhub_config.py`` would.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from conftest import TEST_CGROUP_PARENT, TEST_USER_PREFIX
from hubtest import start_hub, stop_hub, write_settings

pytestmark = [pytest.mark.hub, pytest.mark.postgres]

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def pg_url():
    base = os.environ.get("AI4SCALE_TEST_POSTGRES_URL")
    if not base:
        if os.environ.get("CI"):
            pytest.fail("AI4SCALE_TEST_POSTGRES_URL is unset: run the suite with ./sandbox test")
        pytest.skip("no PostgreSQL: ./sandbox test starts one")
    import psycopg2

    name = "ai4scale_test_" + uuid.uuid4().hex[:8]
    conn = psycopg2.connect(base + "/postgres")
    conn.autocommit = True
    conn.cursor().execute(f"CREATE DATABASE {name}")
    try:
        yield f"{base}/{name}"
    finally:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.close()


def test_hub_database_in_postgresql(pg_url):
    import psycopg2

    state = Path(tempfile.mkdtemp(prefix="ai4scale-pg-"))
    settings_file, settings = write_settings(
        state,
        user_prefix=TEST_USER_PREFIX,
        cgroup_parent=TEST_CGROUP_PARENT,
        culler_timeout=0,
        hub_extra=f'db_url = "{pg_url}"',
    )
    assert settings["hub"]["db_url"] == pg_url
    hub = start_hub(settings, settings_file, config_file=REPO / "jupyterhub_config.py")
    try:
        r = hub.admin("POST", "/users/pgcheck")
        assert r.status_code == 201, r.text
        with psycopg2.connect(pg_url) as conn, conn.cursor() as cur:
            cur.execute("SELECT name FROM users ORDER BY name")
            names = [row[0] for row in cur.fetchall()]
        assert "pgcheck" in names
        assert not (state / "jupyterhub.sqlite").exists()
    finally:
        stop_hub(hub)
        shutil.rmtree(state, ignore_errors=True)
        shutil.rmtree(settings["paths"]["datasets_dir"], ignore_errors=True)
