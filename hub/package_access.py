"""Who may read which installed file of ``ai4scale``: learners only what their kernels import.

``./sandbox install`` installs the project into the shared virtualenv as a
copy, never editable (the checkout holds every lab's solutions and hidden
tests), with umask 077 so that every file starts root-only, then runs this
module as root (``python -m ai4scale.hub.package_access``), which opens up:

- every directory of the package, 0755 (so that a learner's
  ``import ai4scale.grading`` fails reading its ``__init__.py`` rather than
  finding an empty namespace package);
- the files learners' kernels import (:data:`LEARNER_FILES`: the dataset
  loader, its client of the course service and the synthetic generators,
  the kernels' memory notice), 0644;
- lab 04's reference rule (:data:`GRADER_FILES`), 0640 with the grading
  account's group: the lab's hidden tests import it in the grading sandbox;
- everything else (hub, course service, grading engine, command line,
  templates), 0600, root only;
- compiled files in ``__pycache__`` as their sources, the ``.dist-info``
  folder world-readable (package metadata, read by tools that list
  distributions).

Every account imports the same files from the same place, so the grading
engine (root) and the grading kernel (the grading account) agree on where
``ai4scale`` lives. Calling it again is harmless.
"""

from __future__ import annotations

import argparse
import fnmatch
import grp
import os
import stat
import sys
from pathlib import Path

__all__ = [
    "GRADER_FILES",
    "LEARNER_FILES",
    "access_of",
    "apply_access",
    "installed_from",
    "package_dir",
    "record_checkout",
]

#: Installed files every account may read, relative to the package folder
#: (``fnmatch`` patterns): what learners' kernels import, and the kernel
#: provisioner their servers import (``[kernels] fork``).
LEARNER_FILES = (
    "__init__.py",
    "hub/__init__.py",
    "hub/_errors.py",
    "hub/memory_notice.py",
    "hub/plain_errors.py",
    "hub/forkserver/__init__.py",
    "hub/forkserver/_client.py",
    "hub/forkserver/_confine.py",
    "hub/forkserver/provisioner.py",
    "datasets/__init__.py",
    "datasets/_errors.py",
    "datasets/_load.py",
    "datasets/_service.py",
    "datasets/_cards.py",
    "datasets/card.schema.yaml",
    "datasets/cards/*.yaml",
    "datasets/synthetic/*.py",
    "assess/*.py",
)

#: Files only root and the grading account may read (they win over
#: :data:`LEARNER_FILES`): lab 04's reference implementation of the rule
#: learners re-implement, imported by its hidden tests.
GRADER_FILES = ("datasets/synthetic/alevels.py",)

#: File of the installed package naming the checkout it was installed from.
CHECKOUT_FILE = "checkout.txt"


def package_dir():
    """Return the folder of the imported ``ai4scale`` package."""
    import ai4scale

    return Path(ai4scale.__file__).resolve().parent


def installed_from():
    """Return the checkout the installed package was installed from, or None.

    Returns
    -------
    Path or None
        Written by ``./sandbox install`` (root-only, like the checkout).
    """
    try:
        text = (package_dir() / CHECKOUT_FILE).read_text().strip()
    except OSError:
        return None
    return Path(text) if text else None


def access_of(relpath):
    """Return ``"grader"``, ``"learner"`` or ``"root"`` for a file of the package.

    Parameters
    ----------
    relpath : str
        Path relative to the package folder, with ``/``. A compiled file
        (``x/__pycache__/m.cpython-311.pyc``) counts as its source (``x/m.py``).

    Examples
    --------
    >>> access_of("datasets/_load.py"), access_of("grading/__init__.py")
    ('learner', 'root')
    >>> access_of("datasets/synthetic/__pycache__/alevels.cpython-311.pyc")
    'grader'
    """
    parts = relpath.split("/")
    if len(parts) >= 2 and parts[-2] == "__pycache__":
        parts = [*parts[:-2], parts[-1].split(".", 1)[0] + ".py"]
    path = "/".join(parts)
    if any(fnmatch.fnmatchcase(path, p) for p in GRADER_FILES):
        return "grader"
    if any(fnmatch.fnmatchcase(path, p) for p in LEARNER_FILES):
        return "learner"
    return "root"


def _set(path, mode, gid=0):
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise OSError(f"{path} is a symbolic link: refusing to change its access")
    if st.st_uid != 0 or st.st_gid != gid:
        os.chown(path, 0, gid)
    if stat.S_IMODE(st.st_mode) != mode:
        os.chmod(path, mode)


def apply_access(pkg, *, grader_gid):
    """Give every file and folder of the installed package ``pkg`` its access.

    Parameters
    ----------
    pkg : Path
        The installed ``ai4scale`` folder, in a ``site-packages`` folder.
    grader_gid : int
        Group of the grading account.

    Returns
    -------
    dict
        ``{"learner": n, "grader": n, "root": n}`` files.

    Raises
    ------
    ValueError
        When ``pkg`` is not an installed copy (an editable install points into
        a checkout, whose files must stay as they are).
    """
    pkg = Path(pkg)
    site = pkg.parent
    if site.name not in ("site-packages", "dist-packages"):
        raise ValueError(
            f"{pkg} is not in a site-packages folder (an editable install?): "
            "install ai4scale as a copy (./sandbox install)"
        )
    modes = {"learner": (0o644, 0), "grader": (0o640, grader_gid), "root": (0o600, 0)}
    counts = dict.fromkeys(modes, 0)
    _set(pkg, 0o755)
    for root, dirs, files in os.walk(pkg):
        for name in dirs:
            _set(os.path.join(root, name), 0o755)
        for name in files:
            path = os.path.join(root, name)
            kind = access_of(os.path.relpath(path, pkg).replace(os.sep, "/"))
            _set(path, *modes[kind])
            counts[kind] += 1
    for info in site.glob("ai4scale_sandbox-*.dist-info"):
        _set(info, 0o755)
        for path in info.rglob("*"):
            _set(path, 0o755 if path.is_dir() else 0o644)
    return counts


def record_checkout(checkout):
    """Write the checkout the package was installed from (root only)."""
    path = package_dir() / CHECKOUT_FILE
    path.write_text(f"{Path(checkout).resolve()}\n")
    _set(path, 0o600)
    return path


def main(argv=None):
    """Command line: ``python -P -m ai4scale.hub.package_access [--checkout DIR]``."""
    parser = argparse.ArgumentParser(
        prog="python -m ai4scale.hub.package_access",
        description="Give learners read access to only what their kernels import.",
    )
    parser.add_argument("--checkout", help="record the checkout this copy was installed from")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("package_access: run as root", file=sys.stderr)
        return 1
    from ai4scale.grading.sandbox import GRADER_ACCOUNT, ensure_grader_account

    pw = ensure_grader_account(GRADER_ACCOUNT)
    if args.checkout:
        record_checkout(args.checkout)
    try:
        counts = apply_access(package_dir(), grader_gid=pw.pw_gid)
    except ValueError as e:
        print(f"package_access: {e}", file=sys.stderr)
        return 1
    group = grp.getgrgid(pw.pw_gid).gr_name
    print(
        f"ai4scale files: {counts['learner']} readable by learners, "
        f"{counts['grader']} by the grading account ({group}), {counts['root']} root only"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
