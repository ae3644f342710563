"""Backup and restore of a course-sized state directory: time and size; prints figures.

Builds a state directory with the real course library, as a term of a
course leaves it: every lab of ``labs/`` released, ``--learners`` learners
(default 30) each submitting every lab ``--versions`` times (the learner
notebooks as released, with a 40 kB plot output each, as learners' notebooks
carry), each submission graded (one result per item),
accounts for everyone with password hashes, the labs folder and the
secrets. Then it times ``ai4scale backup``, ``ai4scale backup --verify``
and ``ai4scale restore`` into a fresh state directory, each as its own
process, and prints the archive's size against the files it holds.

Usage: sudo /opt/ai4scale/venv/bin/python benchmarks/backup.py [--learners 30] [--versions 2]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from ai4scale.grading.gradebook import ItemResult
from ai4scale.hub import load_settings
from ai4scale.hub._state import read_or_create_secret
from ai4scale.hub.accounts import AccountStore
from ai4scale.hub.course import Course, Owner, release, source_labs_dir, store_submission
from ai4scale.hub.roster import read_roster

AI4SCALE = str(Path(sys.executable).with_name("ai4scale"))

#: Bytes of the plot each submission carries (a learner's notebook with outputs).
PLOT_BYTES = 40_000


def build(root, learners, versions):
    """Write settings and fill a state directory under ``root``; return the settings file."""
    state = root / "state"
    labs = state / "labs"
    shutil.copytree(source_labs_dir(), labs, ignore=shutil.ignore_patterns("_*", ".*"))
    config = root / "ai4scale.toml"
    config.write_text(
        f'[paths]\nstate_dir = "{state}"\ndatasets_dir = "{root}"\n'
        f'[course]\nlabs_dir = "{labs}"\nsandbox = "none"\n'
    )
    settings = load_settings(config)
    names = [f"learner{i:02d}" for i in range(learners)]
    roster = root / "roster.csv"
    roster.write_text(
        "username,full_name,role,team\n" + "".join(f"{n},Learner {n},learner,\n" for n in names)
    )
    store = AccountStore.from_settings(settings)
    store.import_roster(read_roster(roster))
    for n in names:
        store.set_password(n, f"password-of-{n}")
    read_or_create_secret(state / "jupyterhub_cookie_secret")
    read_or_create_secret(state / "admin-service-token")
    course = Course.from_settings(settings)
    try:
        for lab in course.lab_ids():
            glab = course.lab(lab)
            if glab.lab.team:
                continue
            rel = release(course, lab, group="learners", released_by="bench")
            files = {
                nb: (Path(course.config.course_dir) / "releases" / lab / nb).read_bytes()
                for nb in glab.lab.notebooks
            }
            items = [
                (nb, it.grade_id)
                for nb in glab.lab.notebooks
                for it in _auto_items(course, lab, nb)
            ]
            for n in names:
                for _ in range(versions):
                    mine = {nb: with_plot(data) for nb, data in files.items()}
                    info = store_submission(
                        course, lab, Owner("learner", n, n, n), mine, releases=[rel]
                    )
                    course.gradebook.record_results(
                        info.id, [ItemResult(g, 1.0, notebook=nb) for nb, g in items]
                    )
    finally:
        course.close()
    return config


def with_plot(data, size=PLOT_BYTES):
    """Return notebook ``data`` with a learner's plot output (incompressible, like a PNG)."""
    nb = nbformat.reads(data.decode(), as_version=4)
    cell = nbformat.v4.new_code_cell("plot_rates(df)")
    png = base64.b64encode(os.urandom(size)).decode()
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": png})]
    nb.cells.append(cell)
    return nbformat.writes(nb).encode()


def _auto_items(course, lab, nb):
    from ai4scale.grading.gradebook import Item, Lab, Notebook
    from sqlalchemy import select

    with course.gradebook.session() as s:
        q = (
            select(Item)
            .join(Notebook)
            .join(Lab)
            .where(Lab.slug == lab, Notebook.name == nb, Item.kind == "auto")
        )
        return list(s.scalars(q))


def timed(argv):
    start = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stderr}")
    return time.monotonic() - start, proc.stdout


def du(path):
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, default=30)
    parser.add_argument("--versions", type=int, default=2)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ai4scale-bench-backup-"))
    try:
        start = time.monotonic()
        config = build(root, args.learners, args.versions)
        print(f"state directory built in {time.monotonic() - start:.1f} s")
        state = root / "state"
        out = root / "course.tar.zst"
        t_backup, stdout = timed([AI4SCALE, "--config", str(config), "backup", str(out)])
        print(stdout.strip())
        t_verify, _ = timed([AI4SCALE, "backup", "--verify", str(out)])
        new = root / "restored"
        argv = [AI4SCALE, "--config", str(new / "ai4scale.toml"), "restore", str(out)]
        t_restore, _ = timed([*argv, "--state-dir", str(new / "state")])
        size, raw = out.stat().st_size, du(state)
        members = json.loads(
            subprocess.check_output(["tar", "--zstd", "-xOf", str(out), "manifest.json"])
        )
        print(
            f"\nlearners {args.learners}, versions {args.versions}: "
            f"{members['gradebook']['submissions']} submissions, "
            f"{members['gradebook']['results']} results"
        )
        print(f"state directory  {raw / 2**20:8.1f} MiB")
        print(f"archive          {size / 2**20:8.1f} MiB  ({size / raw:.0%} of the files)")
        print(f"backup           {t_backup:8.1f} s   (process, imports included)")
        print(f"verify           {t_verify:8.1f} s")
        print(f"restore          {t_restore:8.1f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
