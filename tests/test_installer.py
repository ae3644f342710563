"""``ai4scale up`` preparation steps, the README's two commands and CI."""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from ai4scale.hub import load_settings
from ai4scale.hub.accounts import AccountStore, LoginResult
from ai4scale.hub.installer import DISABLED_SERVER_EXTENSIONS, demo_passwords_file

from ai4scale.cli import main

REPO = Path(__file__).resolve().parent.parent


def settings_file(tmp_path, venv):
    path = tmp_path / "ai4scale.toml"
    path.write_text(
        f'[paths]\nstate_dir = "{tmp_path / "state"}"\n'
        f'datasets_dir = "{tmp_path / "datasets"}"\nvenv = "{venv}"\n'
    )
    return path


def demo_passwords(settings):
    lines = demo_passwords_file(settings).read_text().splitlines()
    return {ln.split()[0]: ln.split()[-1] for ln in lines if ln and not ln.startswith("#")}


def test_up_prepares_demo_course_with_generated_passwords(tmp_path):
    venv = tmp_path / "venv"
    path = settings_file(tmp_path, venv)
    assert main(["--config", str(path), "up", "--no-start", "--no-datasets"]) == 0
    settings = load_settings(path)
    state = Path(settings["paths"]["state_dir"])
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE(Path(settings["paths"]["datasets_dir"]).stat().st_mode) == 0o755
    pw_file = demo_passwords_file(settings)
    assert stat.S_IMODE(pw_file.stat().st_mode) == 0o600
    passwords = demo_passwords(settings)
    assert set(passwords) == {"ines", "anna", "ben", "chloe"}
    assert len(set(passwords.values())) == 4  # generated, not a shared default

    store = AccountStore.from_settings(settings)
    groups = store.groups()
    assert groups["instructors"] == ["ines"]
    assert sorted(groups["learners"]) == ["anna", "ben", "chloe"]
    assert sorted(groups["team-fraud-audit"]) == ["anna", "ben"]
    for name, password in passwords.items():
        assert store.verify_login(name, password, max_attempts=5, lockout_seconds=60) == (
            LoginResult.OK
        )

    # the learner environment: nbgrader's instructor extensions off, kernels get the notice
    server_cfg = json.loads(
        (venv / "etc/jupyter/jupyter_server_config.d/zz-ai4scale.json").read_text()
    )
    assert all(
        server_cfg["ServerApp"]["jpserver_extensions"][ext] is False
        for ext in DISABLED_SERVER_EXTENSIONS
    )
    assert (
        "ai4scale.hub.memory_notice" in (venv / "etc/ipython/ipython_kernel_config.py").read_text()
    )

    # the demo instructor has released every lab to the learners, one a week
    from ai4scale.hub.course import Course

    course = Course.from_settings(settings)
    releases = sorted(course.gradebook.releases(), key=lambda r: r.due_at)
    labs = sorted(p.parent.name for p in (REPO / "labs").glob("*/lab.toml"))
    assert len(labs) >= 9
    assert [(r.lab, r.group, r.released_by) for r in releases] == [
        (lab, "learners", "ines")
        for lab in ["example-intro"] + [lab for lab in labs if lab != "example-intro"]
    ]
    gaps = {(b.due_at - a.due_at).days for a, b in zip(releases, releases[1:], strict=False)}
    assert gaps == {7}
    released = state / "course" / "releases" / "example-intro" / "approval-rates.ipynb"
    assert "BEGIN SOLUTION" not in released.read_text()
    assert stat.S_IMODE((state / "course").stat().st_mode) == 0o700

    # the course service reads its own root-only copy of the lab sources, not the checkout
    copy = state / "labs"
    assert Path(course.config.labs_dir) == copy
    assert stat.S_IMODE(copy.stat().st_mode) == 0o700
    assert sorted(p.parent.name for p in copy.glob("*/lab.toml")) == labs
    assert not (copy / "_authoring").exists()
    nb = Path("example-intro", "approval-rates.ipynb")
    assert (copy / nb).read_bytes() == (REPO / "labs" / nb).read_bytes()

    # the demo team's finished use case, with its dossier, for a new user to look at
    from ai4scale.hub.course._people import Person
    from ai4scale.hub.usecase._demo import DEMO_TEAM, DEMO_USECASE
    from ai4scale.hub.usecase._store import UseCaseStore

    anna = Person("anna", frozenset({"learners", f"team-{DEMO_TEAM}"}))
    case = UseCaseStore(course).get(anna, DEMO_USECASE)
    assert case["datasets"][0]["status"] == "ready" and case["results"] is not None
    assert list((state / "course" / "usecases" / DEMO_USECASE / "dossier").glob("*.html"))

    # re-running is safe: same passwords, nothing re-imported or re-released
    assert main(["--config", str(path), "up", "--no-start", "--no-datasets"]) == 0
    assert demo_passwords(settings) == passwords
    assert sorted(course.gradebook.releases(), key=lambda r: r.due_at) == releases
    course.close()


def test_up_leaves_a_real_roster_alone(tmp_path):
    path = settings_file(tmp_path, tmp_path / "venv")
    roster = tmp_path / "course.csv"
    roster.write_text("username,full_name,role,team\nmaria,Maria Rossi,instructor,\n")
    assert main(["--config", str(path), "roster", "import", str(roster)]) == 0
    assert main(["--config", str(path), "up", "--no-start", "--no-datasets"]) == 0
    settings = load_settings(path)
    assert AccountStore.from_settings(settings).usernames() == ["maria"]
    assert not demo_passwords_file(settings).exists()


def test_bad_settings_file_is_refused_naming_the_key(tmp_path, capsys):
    path = tmp_path / "ai4scale.toml"
    path.write_text('[limits]\nmemroy = "2G"\n')
    assert main(["--config", str(path), "up", "--no-start", "--no-datasets"]) == 2
    err = capsys.readouterr().err
    assert "limits" in err and "memroy" in err


def test_readme_opens_with_two_commands_and_ci_runs_the_test_one():
    readme = (REPO / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", readme, re.S).group(1)
    commands = [ln.split("#")[0].strip() for ln in block.splitlines() if ln.strip()]
    assert commands == ["./sandbox up", "./sandbox test"]
    assert readme.index("```bash") < 200  # the first lines
    # .ci/run runs the README's test command itself, nothing else
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^exec \./sandbox test$", ci, re.M), ci


def test_no_generic_top_level_modules_are_installed(tmp_path):
    # A fresh interpreter outside the checkout sees what a learner's kernel sees.
    code = """
import importlib.util, ai4scale.hub, ai4scale.datasets, ai4scale.grading
for name in ("hub", "grading", "datasets"):
    spec = importlib.util.find_spec(name)
    where = spec and (spec.origin or str(spec.submodule_search_locations))
    if where and "ai4scale" in where or where and name != "datasets":
        print(name, where)
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_up_prepares_the_datasets_read_only_for_learners(tmp_path):
    path = settings_file(tmp_path, tmp_path / "venv")
    assert main(["--config", str(path), "up", "--no-start", "--no-demo"]) == 0
    datasets = Path(load_settings(path)["paths"]["datasets_dir"])
    manifest = json.loads((datasets / "manifest.json").read_text())
    from ai4scale.datasets import card_ids

    assert set(manifest["datasets"]) == set(card_ids())
    parquet = datasets / "compas-recidivism" / "data.parquet"
    assert stat.S_IMODE(parquet.stat().st_mode) == 0o644 and parquet.stat().st_uid == 0


def test_the_lab_sources_copy_follows_the_sources_and_keeps_other_labs(tmp_path):
    from ai4scale.hub.installer import ensure_directories, ensure_lab_sources

    settings = load_settings(settings_file(tmp_path, tmp_path / "venv"))
    ensure_directories(settings)
    copy = Path(settings["paths"]["state_dir"]) / "labs"
    first = ensure_lab_sources(settings)
    assert "updated" in first and str(copy) in first
    assert ensure_lab_sources(settings).endswith("all current)")
    # An edited copy is replaced by the sources; a lab only in the copy is kept.
    nb = copy / "example-intro" / "approval-rates.ipynb"
    nb.write_text("{}")
    shutil.copytree(copy / "example-intro", copy / "instructors-own")
    assert ensure_lab_sources(settings).endswith("1 updated)")
    assert nb.read_bytes() == (REPO / "labs" / "example-intro" / nb.name).read_bytes()
    assert (copy / "instructors-own" / "lab.toml").exists()
    assert sorted(p.name for p in copy.iterdir() if p.name.startswith(".")) == []


def test_an_explicit_labs_dir_is_used_as_it_is(tmp_path):
    from ai4scale.hub.course import Course
    from ai4scale.hub.installer import ensure_lab_sources

    mine = tmp_path / "my-labs"
    shutil.copytree(REPO / "labs" / "example-intro", mine / "example-intro")
    path = settings_file(tmp_path, tmp_path / "venv")
    path.write_text(path.read_text() + f'[course]\nlabs_dir = "{mine}"\n')
    settings = load_settings(path)
    assert "kept" in ensure_lab_sources(settings)
    assert not (Path(settings["paths"]["state_dir"]) / "labs").exists()
    course = Course.from_settings(settings)
    try:
        assert course.config.labs_dir == str(mine)
        assert course.lab_ids() == ["example-intro"]
    finally:
        course.close()
