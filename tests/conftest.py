"""Fixtures: a real JupyterHub with the local profile, real system users, real kernels.

The session-wide ``hub`` fixture writes a settings file into a temporary
state directory, imports a test roster with known passwords, starts the hub
on free ports as root, and afterwards stops every server, the hub, removes
the test system users (prefix ``ai4t-``) and their cgroups.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import _installed  # noqa: F401 - first: the installed ai4scale, not the checkout's
import hubtest
import pytest

# Overridable so that two test runs on one machine (say, two developers' work
# trees) do not create and remove each other's system users and cgroups.
TEST_USER_PREFIX = os.environ.get("AI4SCALE_TEST_USER_PREFIX", "ai4t-")
TEST_CGROUP_PARENT = os.environ.get("AI4SCALE_TEST_CGROUP_PARENT", "ai4scale-test")
ARTIFACTS = Path(os.environ.get("AI4SCALE_TEST_ARTIFACTS", Path(__file__).parent / "artifacts"))

#: The test roster: username -> (role, team, password).
ROSTER = {
    "tina": ("instructor", "", "instructor-pass-123"),
    "tom": ("learner", "t1", "learner-pass-tom1"),
    "tara": ("learner", "t1", "learner-pass-tara"),
    "theo": ("learner", "", "learner-pass-theo"),
    "tlock": ("learner", "", "learner-pass-lock"),
    "tnew": ("learner", "", None),  # no password yet: first login with a one-time code
}


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def hub():
    """A running JupyterHub (local profile) with the test roster imported."""
    if os.geteuid() != 0:
        pytest.fail("the hub tests start JupyterHub as root: run them as root (./sandbox test)")
    from ai4scale.hub.accounts import AccountStore
    from ai4scale.hub.course import source_labs_dir
    from ai4scale.hub.installer import install_steps
    from ai4scale.hub.roster import read_roster

    state = Path(tempfile.mkdtemp(prefix="ai4scale-hub-"))
    # The course service's labs: a copy tests may add labs to, inside the
    # root-only state directory (sources hold solutions and hidden tests).
    labs = state / "labs"
    settings_file, settings = hubtest.write_settings(
        state,
        user_prefix=TEST_USER_PREFIX,
        cgroup_parent=TEST_CGROUP_PARENT,
        course_extra=f'labs_dir = "{labs}"',
    )
    for step in install_steps(demo=False, datasets=False):
        step(settings)
    shutil.copytree(source_labs_dir(), labs, ignore=shutil.ignore_patterns("_*", ".*"))
    store = AccountStore.from_settings(settings)
    store.import_roster(read_roster(hubtest.write_roster(state / "roster.csv", ROSTER)))
    for username, (_, _, password) in ROSTER.items():
        if password:
            store.set_password(username, password)
    running = hubtest.start_hub(settings, settings_file)
    running.store = store
    try:
        yield running
    finally:
        hubtest.stop_hub(running)
        log = running.log_text()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "jupyterhub.log").write_text(log)
        hubtest.remove_accounts(TEST_USER_PREFIX, TEST_CGROUP_PARENT)
        shutil.rmtree(state, ignore_errors=True)
        shutil.rmtree(settings["paths"]["datasets_dir"], ignore_errors=True)
