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
    # Gets every lab and answers none: what a learner can read, with nothing of her own.
    "tread": ("learner", "", "learner-pass-tread"),
    # A civil servant's first hour (test_browser_first_hour.py): never used the sandbox before.
    "tfirst": ("learner", "", "learner-pass-tfirst"),
}


def in_ci():
    """True in CI (``CI=true``): there, a missing dependency is a failure, not a skip."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI, turn every skip into a failure that says why.

    ``./sandbox test`` installs and starts all the suite needs (root, cgroups,
    Chromium, Node.js, PostgreSQL): a skip there hides a missing piece. A test
    that may rightly skip in CI says so with ``@pytest.mark.ci_may_skip``.
    """
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and in_ci()) or hasattr(report, "wasxfail"):
        return
    if item.get_closest_marker("ci_may_skip") is not None:
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped in CI (CI=true), where nothing may be missing: {reason}"


@pytest.fixture(autouse=True)
def _no_javascript_errors(request):
    """Fail a browser test that left a JavaScript error on our pages (see browsertest.py)."""
    browser = request.node.get_closest_marker("browser") is not None
    if browser:
        import browsertest

        browsertest.take_errors()  # not ours: an earlier test's late events
    yield
    if browser:
        errors = browsertest.take_errors()
        if errors:
            pytest.fail("JavaScript errors on our pages:\n" + "\n".join(errors), pytrace=False)


@pytest.fixture(scope="session")
def lab_sandbox():
    """The grading sandbox as the course service runs it, with room for the real labs."""
    if os.geteuid() != 0:
        pytest.fail("the grading sandbox runs as root: run the tests as root (./sandbox test)")
    from ai4scale.grading.autograde import default_executor

    return default_executor(sandbox=True, cell_timeout=120, notebook_timeout=600)


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
        try:
            hubtest.stop_hub(running)  # raises, after stopping all, if a server hung
        finally:
            log = running.log_text()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / "jupyterhub.log").write_text(log)
            hubtest.remove_accounts(TEST_USER_PREFIX, TEST_CGROUP_PARENT)
            shutil.rmtree(state, ignore_errors=True)
            shutil.rmtree(settings["paths"]["datasets_dir"], ignore_errors=True)
