"""Load test: N simulated learners and an instructor on a real hub; prints per-step figures.

A hubtraf-style simulation that talks only to 127.0.0.1. It starts its own
hub (as root, own state directory, free ports, system users ``ai4l-*``,
cgroups under ``ai4scale-load``), imports a roster of ``--users`` learners
and one instructor, and releases the lab ``example-intro``. Then every
learner, starting at a random moment within ``--ramp`` seconds, in a thread:

1. ``login`` -- the hub's login form (with its XSRF cookie), then an API
   token made with that session (the simulated browser's key to the APIs);
2. ``spawn`` -- starts its server (POST) and follows the progress stream
   until the server is ready;
3. ``kernel-open`` -- starts a kernel and opens its websocket;
4. ``import-cell`` -- runs a cell importing what the labs import;
5. ``fetch`` -- fetches the released lab (course service);
6. ``save`` -- writes its answers into the notebook (its server's contents API);
7. ``submit`` -- submits the lab (course service).

Meanwhile the instructor ``collect``-s and ``autograde``-s (waiting for each
job) whenever a third of the learners have submitted something new, and once
more after the last learner ends. A failed step ends that learner's run; its
error is counted, the first few are printed, the run goes on.

Prints per step the successes, the rate, p50/p95/max latency; the CPU time
(seconds, and % of one core over the run) and peak RSS of the hub, the proxy
and the course service; and the machine's peak used memory. The run stops by
itself after ``--timeout`` seconds at the latest, then stops every server,
the hub, and removes the accounts, cgroups and state it created.
Exit status 0 when every step of every learner succeeded, 1 otherwise.

Usage (as root)::

    /opt/ai4scale/venv/bin/python benchmarks/load.py [--users 30] [--ramp 30] \
        [--timeout 1800] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import nbformat
import requests
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # also under python -P
import hubtest  # noqa: E402
from _hubprocs import ProcessMonitor, course_pid, proxy_pid  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "ai4l-"
CGROUP_PARENT = "ai4scale-load"
LAB = "example-intro"
NOTEBOOK = "approval-rates.ipynb"
INSTRUCTOR = "loadteach"
LAB_IMPORTS = "import pandas, sklearn, fairlearn, shap, matplotlib, ai4scale\nprint('imported')"
LEARNER_STEPS = ["login", "spawn", "kernel-open", "import-cell", "fetch", "save", "submit"]
STEPS = LEARNER_STEPS + ["collect", "autograde"]
ANSWERS = {
    "approval_rates": (
        'def approval_rates(df):\n    return df.groupby("district")["approved"].mean()\n'
    ),
    "disparity_ratio": "def disparity_ratio(rates):\n    return rates.min() / rates.max()\n",
    "gap_meaning": "Not by itself: the districts may differ in who applies.",
}
SHOWN_ERRORS = 3  # per step


class StepFailed(Exception):
    """A step failed (already recorded): the learner stops there."""


class Run:
    """What the simulation shares: the hub, the deadline, and each step's outcomes."""

    def __init__(self, hub, users, deadline, progress):
        self.hub, self.users, self.deadline, self.progress = hub, users, deadline, progress
        self.lock = threading.Lock()
        self.times = defaultdict(list)  # step -> seconds of each success
        self.errors = defaultdict(list)  # step -> "who: what"
        self.submitted = 0  # submissions so far
        self.learners_done = threading.Event()
        self.kernels = []
        self.tasks = {s: progress.add_task(s, total=users) for s in LEARNER_STEPS}
        self.tasks["instructor"] = progress.add_task("collect+autograde rounds", total=None)

    def remaining(self, cap):
        """Seconds left before the deadline, at most ``cap``; StepFailed when none is left."""
        left = self.deadline - time.monotonic()
        if left <= 1:
            raise TimeoutError("the run's --timeout was reached before this step")
        return min(cap, left)

    @contextmanager
    def step(self, name, who):
        """Time one step of ``who``; record success or the error, then StepFailed."""
        t0 = time.monotonic()
        try:
            yield
        except Exception as e:
            what = f"{who}: {type(e).__name__}: {str(e)[:300]}"
            with self.lock:
                self.errors[name].append(what)
                if len(self.errors[name]) <= SHOWN_ERRORS:
                    self.progress.console.print(f"[red]{name} failed[/red] {what}")
            if name in self.tasks:
                self.progress.advance(self.tasks[name])
            raise StepFailed(name) from e
        with self.lock:
            self.times[name].append(time.monotonic() - t0)
        if name in self.tasks:
            self.progress.advance(self.tasks[name])


def _expect(r, *codes):
    if r.status_code not in codes:
        raise RuntimeError(f"{r.request.method} {r.url} answered {r.status_code}: {r.text[:300]}")
    return r


def wait_ready(run, name, token):
    """Follow the spawn's progress stream (as the spawn page does) until the server is ready."""
    url = f"{run.hub.api}/users/{name}/server/progress"
    headers = {"Authorization": f"token {token}"}
    with requests.get(url, headers=headers, stream=True, timeout=(30, run.remaining(600))) as r:
        _expect(r, 200)
        for line in r.iter_lines():
            if not line.startswith(b"data:"):
                continue
            event = json.loads(line[5:])
            if event.get("ready"):
                return
            if event.get("failed"):
                raise RuntimeError(f"spawn failed: {event.get('message')}")
    raise RuntimeError("the progress stream ended before the server was ready")


def answered(data):
    """Return the learner notebook (JSON ``data``) with the answers filled in."""
    nb = nbformat.from_dict(data)
    for cell in nb.cells:
        gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
        if gid in ANSWERS:
            cell.source = ANSWERS[gid]
    return nb


def learner(run, name, password, delay):
    """One simulated learner's session; stops at the first failed step."""
    time.sleep(delay)
    hub = run.hub
    try:
        with run.step("login", name):
            run.remaining(60)
            s, r = hubtest.login(hub, name, password)
            _expect(r, 302)
            token = hubtest.user_token(s, hub, name)
        auth = {"Authorization": f"token {token}"}
        course = f"{hub.url}/services/course/api"
        with run.step("spawn", name):
            r = requests.post(
                f"{hub.api}/users/{name}/server", headers=auth, timeout=run.remaining(120)
            )
            _expect(r, 201, 202)
            wait_ready(run, name, token)
        with run.step("kernel-open", name):
            run.remaining(120)
            kernel = hubtest.Kernel(hub, name, token)
            with run.lock:
                run.kernels.append(kernel)
        with run.step("import-cell", name):
            out = kernel.execute(LAB_IMPORTS, timeout=run.remaining(600))
            if out["status"] != "ok" or "imported" not in out["stdout"]:
                raise RuntimeError(f"cell {out['status']}: {out['error']} {out['stderr'][-300:]}")
        with run.step("fetch", name):
            r = _expect(
                requests.post(
                    f"{course}/labs/{LAB}/fetch", headers=auth, timeout=run.remaining(300)
                ),
                200,
            )
            if f"{LAB}/{NOTEBOOK}" not in r.json()["written"] + r.json()["kept"]:
                raise RuntimeError(f"fetch wrote {r.json()}")
        with run.step("save", name):
            url = f"{hub.url}/user/{name}/api/contents/{LAB}/{NOTEBOOK}"
            r = _expect(requests.get(url, headers=auth, timeout=run.remaining(120)), 200)
            body = {"type": "notebook", "format": "json", "content": answered(r.json()["content"])}
            _expect(requests.put(url, json=body, headers=auth, timeout=run.remaining(120)), 200)
        with run.step("submit", name):
            r = requests.post(
                f"{course}/labs/{LAB}/submit", headers=auth, timeout=run.remaining(300)
            )
            _expect(r, 201)
            with run.lock:
                run.submitted += 1
    except StepFailed:
        pass


def wait_job(run, course, job):
    """Poll an autograding job until it ends; return its last state."""
    while True:
        state = _expect(
            course.get(f"/instructor/jobs/{job}", timeout=run.remaining(60)), 200
        ).json()
        if state["state"] not in ("queued", "running"):
            return state
        time.sleep(1)


def instructor(run, course, users):
    """Collect and autograde whenever a third of the learners submitted anew, and at the end."""
    collected = 0
    while True:
        final = run.learners_done.wait(2)
        with run.lock:
            new = run.submitted - collected
        if not (new >= max(1, users // 3) or (final and new)):
            if final or time.monotonic() > run.deadline:
                return
            continue
        try:
            with run.step("collect", INSTRUCTOR):
                with run.lock:
                    collected = run.submitted
                _expect(
                    course.post(f"/instructor/labs/{LAB}/collect", timeout=run.remaining(300)), 200
                )
            with run.step("autograde", INSTRUCTOR):
                r = _expect(course.post(f"/instructor/labs/{LAB}/autograde", timeout=60), 202)
                job = wait_job(run, course, r.json()["job"])
                if job["state"] != "done" or job["done"] != job["total"]:
                    raise RuntimeError(
                        f"job {job['state']}, {job['done']}/{job['total']}: {job['errors']}"
                    )
        except StepFailed:
            pass
        run.progress.advance(run.tasks["instructor"])


class Course:
    """The course service's API as one user."""

    def __init__(self, hub, token):
        self.base = f"{hub.url}/services/course/api"
        self.headers = {"Authorization": f"token {token}"}

    def get(self, path, **kw):  # noqa: D102
        return requests.get(self.base + path, headers=self.headers, **kw)

    def post(self, path, **kw):  # noqa: D102
        return requests.post(self.base + path, headers=self.headers, **kw)


def set_up(state, roster):
    """Write settings, run the install steps, import ``roster``; return (file, settings)."""
    from ai4scale.hub.accounts import AccountStore
    from ai4scale.hub.installer import install_steps
    from ai4scale.hub.roster import read_roster

    # The course service's labs: this checkout's lab, in the root-only state directory.
    labs = state / "labs"
    settings_file, settings = hubtest.write_settings(
        state,
        user_prefix=PREFIX,
        cgroup_parent=CGROUP_PARENT,
        culler_timeout=0,
        course_extra=f'labs_dir = "{labs}"',
    )
    for step in install_steps(demo=False, datasets=False):
        step(settings)
    shutil.copytree(ROOT / "labs" / LAB, labs / LAB)
    store = AccountStore.from_settings(settings)
    store.import_roster(read_roster(hubtest.write_roster(state / "roster.csv", roster)))
    for name, (_, _, password) in roster.items():
        store.set_password(name, password)
    return settings_file, settings


def pct(values, q):
    """Nearest-rank percentile ``q`` of ``values``."""
    values = sorted(values)
    return values[max(0, min(len(values) - 1, round(q / 100 * (len(values) - 1))))]


def figures(run, users, monitor, graded):
    """Return the run's figures as a dict (steps, processes, machine)."""
    steps = {}
    for name in STEPS:
        times, errors = run.times[name], run.errors[name]
        expected = users if name in LEARNER_STEPS else len(times) + len(errors)
        steps[name] = {
            "ok": len(times),
            "expected": expected,
            "errors": len(errors),
            "first_errors": errors[:SHOWN_ERRORS],
            "p50_s": round(pct(times, 50), 2) if times else None,
            "p95_s": round(pct(times, 95), 2) if times else None,
            "max_s": round(max(times), 2) if times else None,
        }
    return {"users": users, "graded": graded, "steps": steps, **monitor.figures()}


def report(data):
    """Print the figures of :func:`figures`."""
    print(f"\nload test: {data['users']} learners, {data['machine']['wall_s']} s")
    for name, s in data["steps"].items():
        rate = f"{100 * s['ok'] / s['expected']:.0f}%" if s["expected"] else "n/a"
        lat = (
            f"p50 {s['p50_s']:.2f} s  p95 {s['p95_s']:.2f} s  max {s['max_s']:.2f} s"
            if s["ok"]
            else "no successes"
        )
        print(
            f"  {name:<12} {s['ok']:>3}/{s['expected']:<3} ok ({rate:>4})  {lat}  "
            f"errors {s['errors']}"
        )
    print(f"  graded       {data['graded']}/{data['users']} learners' submissions")
    for proc in ("hub", "proxy", "course"):
        p = data[proc]
        if p is None:
            print(f"  {proc:<12} n/a (process not found)")
        else:
            print(
                f"  {proc:<12} CPU {p['cpu_s']:.1f} s ({p['cpu_pct']:.0f}% of one core), "
                f"peak RSS {p['peak_rss_mib']} MiB"
            )
    m = data["machine"]
    print(f"  machine      peak used memory {m['peak_used_mib']} MiB of {m['total_mib']} MiB")
    for name, s in data["steps"].items():
        for e in s["first_errors"]:
            print(f"  error in {name}: {e}")


def graded_count(course):
    """Return how many learners' collected submissions are graded."""
    try:
        rows = course.get(f"/instructor/labs/{LAB}/status", timeout=60).json()
        return sum(1 for row in rows if row.get("status") == "graded")
    except (requests.RequestException, ValueError):
        return 0


def simulate(hub, args, roster):
    """Release the lab, run the learners and the instructor; return the figures."""
    s, r = hubtest.login(hub, INSTRUCTOR, roster[INSTRUCTOR][2])
    _expect(r, 302)
    course = Course(hub, hubtest.user_token(s, hub, INSTRUCTOR))
    _expect(course.post("/instructor/releases", json={"lab": LAB}, timeout=120), 201)
    monitor = ProcessMonitor(
        {"hub": hub.proc.pid, "proxy": proxy_pid(hub), "course": course_pid(hub)}
    )
    learners = [n for n, (role, _, _) in roster.items() if role == "learner"]
    rng = random.Random(args.seed)
    columns = [TextColumn("{task.description:<26}"), BarColumn(), MofNCompleteColumn()]
    with Progress(*columns, TimeElapsedColumn()) as progress:
        run = Run(hub, len(learners), time.monotonic() + args.timeout, progress)
        monitor.start()
        threads = [
            threading.Thread(
                target=learner, args=(run, n, roster[n][2], rng.uniform(0, args.ramp)), daemon=True
            )
            for n in learners
        ]
        teacher = threading.Thread(
            target=instructor, args=(run, course, len(learners)), daemon=True
        )
        for t in [*threads, teacher]:
            t.start()
        for t in threads:
            t.join(max(0, run.deadline - time.monotonic()))
        run.learners_done.set()
        teacher.join(max(0, run.deadline - time.monotonic()))
        monitor.stop()
    for kernel in run.kernels:
        try:
            kernel.ws.close()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
    return figures(run, len(learners), monitor, graded_count(course))


def all_ok(data):
    """True when every step of every learner succeeded and every submission was graded."""
    steps = data["steps"].values()
    return all(not s["errors"] and s["ok"] == s["expected"] for s in steps) and (
        data["graded"] == data["users"]
    )


def keep_logs(state, folder=None):
    """Copy the run's logs (``<state>/*.log``) to ``folder`` (default: a new temporary one)."""
    folder = Path(folder or tempfile.mkdtemp(prefix="ai4scale-load-logs-"))
    folder.mkdir(parents=True, exist_ok=True)
    for log in Path(state).glob("*.log"):
        shutil.copyfile(log, folder / log.name)
    print(f"logs kept in {folder}", flush=True)


def remove_cgroup_parent():
    """Remove the (empty) parent cgroups of the run's learners."""
    for controller in ("memory", "cpu", "pids"):
        try:
            (Path("/sys/fs/cgroup") / controller / CGROUP_PARENT).rmdir()
        except OSError:
            pass


def _interrupt(signum, frame):
    """SIGTERM (a service manager's stop, ``timeout``): clean up as for Ctrl-C."""
    raise KeyboardInterrupt


def main(argv=None):
    """Run the load test; return the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=30, help="simulated learners (default 30)")
    ap.add_argument("--ramp", type=float, default=30, help="learners start within this many s")
    ap.add_argument("--timeout", type=float, default=1800, help="the whole run's limit in s")
    ap.add_argument("--seed", type=int, default=13, help="seed of the learners' start times")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    ap.add_argument(
        "--logs", type=Path, help="keep the hub's and proxy's logs here (kept anyway on errors)"
    )
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        ap.error("run as root: the hub creates system users and cgroups")
    if not 1 <= args.users <= 99:
        ap.error("--users must be between 1 and 99")
    signal.signal(signal.SIGTERM, _interrupt)

    roster = {
        f"load{i:02d}": ("learner", "", f"load-pass-{i:02d}-x") for i in range(1, args.users + 1)
    }
    roster[INSTRUCTOR] = ("instructor", "", "load-teach-pass-1")
    state = Path(tempfile.mkdtemp(prefix="ai4scale-load-"))
    hub = settings = data = None
    try:
        settings_file, settings = set_up(state, roster)
        hub = hubtest.start_hub(settings, settings_file)
        data = simulate(hub, args, roster)
    finally:
        print("cleaning up: servers, hub, accounts, cgroups, state", flush=True)
        try:
            if hub is not None:
                hubtest.stop_hub(hub)
        finally:
            hubtest.remove_accounts(PREFIX, CGROUP_PARENT)
            remove_cgroup_parent()
            if args.logs or data is None or not all_ok(data):
                keep_logs(state, args.logs)
            shutil.rmtree(state, ignore_errors=True)
            if settings is not None:
                shutil.rmtree(settings["paths"]["datasets_dir"], ignore_errors=True)
    report(data)
    if args.json:
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    return 0 if all_ok(data) else 1


if __name__ == "__main__":
    sys.exit(main())
