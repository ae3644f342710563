"""Each lab's reference solution, run end to end in a learner's server; prints seconds.

Starts a real hub (as root, local profile) with one roster learner whose
kernels load the prepared datasets (``/srv/ai4scale/datasets``; run
``sudo ai4scale datasets prepare --all`` first), spawns their server, uploads
every lab's source notebooks (solutions and hidden tests) and resource files
through the Jupyter contents API, and runs each notebook's code cells in a
fresh kernel of that server, as a learner pressing "Run all" would. Prints,
per lab, the wall time from the first cell to the last, the kernel's peak
memory, and whether it stayed within the budget (60 s by default).

Usage: sudo /opt/ai4scale/venv/bin/python benchmarks/labs.py [LAB ...] [--budget 60]
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
import hubtest  # noqa: E402

PREFIX = "ai4bl-"
CGROUP_PARENT = "ai4scale-bench-labs"
LEARNER, PASSWORD = "benchlab", "bench-lab-pass-1"


def upload(base, headers, path, content, *, kind):
    """PUT one file or folder into the learner's home through the contents API."""
    if kind == "directory":
        body = {"type": "directory"}
    elif kind == "notebook":
        body = {"type": "notebook", "format": "json", "content": content}
    else:
        body = {"type": "file", "format": "base64", "content": base64.b64encode(content).decode()}
    r = requests.put(f"{base}/api/contents/{path}", json=body, headers=headers, timeout=60)
    r.raise_for_status()


def upload_lab(base, headers, lab):
    folder = f"bench-labs/{lab.id}"
    upload(base, headers, "bench-labs", None, kind="directory")
    upload(base, headers, folder, None, kind="directory")
    for path in sorted(lab.path.rglob("*")):
        rel = path.relative_to(lab.path).as_posix()
        if path.is_dir():
            upload(base, headers, f"{folder}/{rel}", None, kind="directory")
        elif path.suffix == ".ipynb":
            upload(base, headers, f"{folder}/{rel}", json.loads(path.read_text()), kind="notebook")
        else:
            upload(base, headers, f"{folder}/{rel}", path.read_bytes(), kind="file")
    return folder


def run_notebook(hub, token, folder, nb_path, *, cell_timeout):
    """Run the notebook's code cells in a fresh kernel; return (seconds, peak MiB, error)."""
    nb = nbformat.read(nb_path, 4)
    kernel = hubtest.Kernel(hub, LEARNER, token)
    try:
        setup = kernel.execute(f"import os; os.chdir(os.path.expanduser({'~/' + folder!r}))")
        if setup["status"] != "ok":
            return 0.0, 0.0, f"chdir failed: {setup['stderr']}"
        t0 = time.monotonic()
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or not cell.source.strip():
                continue
            out = kernel.execute(cell.source, timeout=cell_timeout)
            if out["status"] != "ok":
                elapsed = time.monotonic() - t0
                return elapsed, 0.0, f"cell {i}: {out['status']} {out['error'] or ''}".strip()
        elapsed = time.monotonic() - t0
        peak = kernel.execute(
            "import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
        )
        return elapsed, int(peak["stdout"].split()[-1]) / 1024, None
    finally:
        kernel.shutdown()


def main():
    from ai4scale.grading.labformat import find_labs, load_lab

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("labs", nargs="*", help="lab ids (default: all)")
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per lab (default 60)")
    ap.add_argument("--memory", default="2G", help="the learner server's memory limit")
    ap.add_argument("--datasets", default="/srv/ai4scale/datasets")
    args = ap.parse_args()

    labs = [load_lab(p) for p in find_labs(REPO / "labs", args.labs or None)]
    state = Path(tempfile.mkdtemp(prefix="ai4scale-bench-labs-"))
    settings_file, settings = hubtest.write_settings(
        state,
        user_prefix=PREFIX,
        cgroup_parent=CGROUP_PARENT,
        memory=args.memory,
        culler_timeout=0,
        datasets_dir=args.datasets,
    )
    from ai4scale.hub.accounts import AccountStore
    from ai4scale.hub.installer import install_steps
    from ai4scale.hub.roster import read_roster

    for step in install_steps(demo=False, datasets=False):
        step(settings)
    store = AccountStore.from_settings(settings)
    roster = {LEARNER: ("learner", "", PASSWORD)}
    store.import_roster(read_roster(hubtest.write_roster(state / "roster.csv", roster)))
    store.set_password(LEARNER, PASSWORD)
    hub = hubtest.start_hub(settings, settings_file)
    failed = False
    try:
        hubtest.spawn(hub, LEARNER, timeout=300)
        session, _ = hubtest.login(hub, LEARNER, PASSWORD)
        token = hubtest.user_token(session, hub, LEARNER)
        base = f"{hub.url}/user/{LEARNER}"
        headers = {"Authorization": f"token {token}"}
        print(f"{'lab':34} {'notebook':34} {'seconds':>8} {'peak MiB':>9}  verdict")
        for lab in labs:
            folder = upload_lab(base, headers, lab)
            total = 0.0
            for name in lab.notebooks:
                seconds, peak, error = run_notebook(
                    hub, token, folder, lab.path / name, cell_timeout=args.budget * 2
                )
                total += seconds
                verdict = error or "ok"
                failed |= error is not None
                print(f"{lab.id:34} {name:34} {seconds:8.1f} {peak:9.0f}  {verdict}")
            within = total <= args.budget
            failed |= not within
            print(
                f"{lab.id:34} {'(whole lab)':34} {total:8.1f} {'':9}  "
                f"{'within' if within else 'OVER'} the {args.budget:g} s budget"
            )
    finally:
        hubtest.stop_hub(hub)
        hubtest.remove_accounts(PREFIX, CGROUP_PARENT)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
