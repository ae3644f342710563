"""Instructor material out of learners' reach: no line of any lab's solutions or hidden tests.

The distinctive lines of every lab are the lines (30 characters or more,
stripped) of its source notebooks that its learner notebooks do not have,
and the code of lab 04's reference rule (``alevels.standardise``), less
those learners may read anyway: in the Python libraries (``with
warnings.catch_warnings():``) or as part of a learner notebook's line. As
a learner's system account, from a learner's kernel and from a team
workspace's kernel, ``grep`` then searches every file that account may read
(all of ``/`` but ``/proc``, ``/sys``, ``/dev`` and ``/run``; the checkout
wherever it is) for those lines, also as they are escaped in a notebook's
JSON, and must find none in the sandbox's files: the checkout, the Python
environments, ``/etc``, ``/opt``, ``/srv``, ``/usr``, ``/var/lib``, the
homes, and the hub's and the suite's folders in ``/tmp``. A hit elsewhere is
a file the machine's other software wrote (a CI runner keeping the diff it
checks, which holds the test suite's own copies of answers): it is printed,
not failed.

The patterns reach ``grep`` on its standard input, never in a file: a
pattern file a learner can read would be a leak of its own.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import pwd
import site
import stat
import subprocess
import sys
import sysconfig
import zlib
from pathlib import Path

import hubtest
import nbformat
import pytest
from conftest import ROSTER, TEST_USER_PREFIX

REPO = Path(__file__).resolve().parent.parent
MIN_CHARS = 30

#: Run as the account under test: search all it may read; print {file: [patterns]}.
WALKER = r"""
import json, os, subprocess, sys
from concurrent.futures import ThreadPoolExecutor

def walk(patterns):
    data = "\n".join(patterns).encode()
    roots = [
        os.path.join("/", n) for n in sorted(os.listdir("/"))
        if n not in ("proc", "sys", "dev", "run") and not os.path.islink(os.path.join("/", n))
    ]

    def grep(root):
        # -r: no symbolic link followed; -I: binary files skipped; -D skip: no
        # FIFOs, sockets or devices; -Z: a NUL after the file name.
        cmd = ["grep", "-rIHoFZs", "-D", "skip", "-f", "-", "--", root]
        return subprocess.run(cmd, input=data, capture_output=True).stdout

    hits = {}
    with ThreadPoolExecutor(2) as pool:
        for out in pool.map(grep, roots):
            for line in out.decode("utf-8", "replace").splitlines():
                path, _, pattern = line.partition("\0")
                hits.setdefault(path, set()).add(pattern)
    return {path: sorted(found) for path, found in sorted(hits.items())}
"""


def _variants(line):
    """The line as it is, and as a notebook's JSON escapes it."""
    return {line, json.dumps(line, ensure_ascii=False)[1:-1], json.dumps(line)[1:-1]}


def _cell_lines(path):
    nb = nbformat.read(path, as_version=4)
    return {ln.strip() for cell in nb.cells for ln in cell.source.splitlines()}


def _generic(patterns):
    """Return the patterns learners may read anyway.

    In the Python libraries (``with warnings.catch_warnings():``) and, as a
    part of a longer line, in the learner notebooks.
    """
    roots = {*site.getsitepackages(), *(sysconfig.get_paths()[k] for k in ("stdlib", "purelib"))}
    roots |= {p for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages")}
    roots = sorted(r for r in roots if os.path.isdir(r)) + [str(REPO / "notebooks")]
    proc = subprocess.run(
        ["grep", "-rhoIFs", "-D", "skip", "--exclude-dir=ai4scale", "-f", "-", "--", *roots],
        input="\n".join(patterns).encode(),
        capture_output=True,
    )
    return set(proc.stdout.decode("utf-8", "replace").splitlines())


@pytest.fixture(scope="module")
def lab_lines():
    """{pattern: "lab/notebook: line"} for every distinctive line of every lab."""
    found = {}
    labs = sorted(p.parent for p in (REPO / "labs").glob("*/lab.toml"))
    assert len(labs) >= 9, labs
    for lab in labs:
        learner = set()
        for path in (REPO / "notebooks" / lab.name).glob("*.ipynb"):
            learner |= _cell_lines(path)
        for path in sorted(lab.glob("*.ipynb")):
            for line in _cell_lines(path) - learner:
                if len(line) >= MIN_CHARS:
                    for pattern in _variants(line):
                        found.setdefault(pattern, f"{lab.name}/{path.name}: {line}")
    # Lab 04's reference rule (its hidden tests import it; the grading account only).
    text = (REPO / "datasets" / "synthetic" / "alevels.py").read_text()
    rule = next(n for n in ast.parse(text).body if getattr(n, "name", "") == "standardise")
    for stmt in rule.body[1:]:  # the code, after the docstring
        for line in ast.get_source_segment(text, stmt).splitlines():
            if len(line.strip()) >= MIN_CHARS:
                for pattern in _variants(line.strip()):
                    found.setdefault(
                        pattern, f"04-algorithms-not-ml/reference rule: {line.strip()}"
                    )
    generic = _generic(found)
    secret = {p: where for p, where in found.items() if p not in generic}
    # Every lab has lines to look for, or the search proves nothing.
    per_lab = {where.split("/")[0] for where in secret.values()}
    assert per_lab == {lab.name for lab in labs}, sorted(per_lab)
    return secret


def _report(hits, secret):
    lines = []
    for path, patterns in hits.items():
        lines.append(f"{path}:")
        lines += [f"    {secret.get(p, p)}" for p in patterns[:5]]
        if len(patterns) > 5:
            lines.append(f"    ... and {len(patterns) - 5} more lines")
    return "\n".join(lines)


def _ours(path):
    """Whether ``path`` is one of the files the sandbox or its test suite writes."""
    roots = [REPO, Path(sys.prefix), Path(sys.base_prefix)]
    roots += [Path(p) for p in ("/etc", "/opt", "/srv", "/usr", "/var/lib", "/home", "/root")]
    path = Path(path)
    if any(path == r or r in path.parents for r in roots):
        return True
    parts = path.parts
    return len(parts) > 2 and parts[1] == "tmp" and parts[2].startswith(("ai4scale", "pytest-of-"))


def _ours_only(hits):
    """The hits in the sandbox's files; the others are printed."""
    foreign = {p: found for p, found in hits.items() if not _ours(p)}
    if foreign:
        print("lines of lab solutions in files the sandbox did not write (not failed):")
        print("\n".join(f"  {p}: {len(found)} line(s)" for p, found in foreign.items()))
    return {p: found for p, found in hits.items() if p not in foreign}


def _pack(secret):
    return base64.b64encode(zlib.compress(json.dumps(sorted(secret)).encode(), 9)).decode()


def _kernel_code(secret):
    # Compressed: the kernel's code holds no plain line to find.
    return (
        WALKER
        + "import base64, zlib\n"
        + f"_p = json.loads(zlib.decompress(base64.b64decode({_pack(secret)!r})))\n"
        + "print('HITS', json.dumps(walk(_p)))\n"
    )


def _hits_from(out):
    assert out["error"] is None, out["stderr"][-3000:]
    line = next((ln for ln in out["stdout"].splitlines() if ln.startswith("HITS ")), None)
    assert line is not None, out
    return json.loads(line[5:])


def _learner(hub, name):
    s, r = hubtest.login(hub, name, ROSTER[name][2])
    assert r.status_code == 302, r.text
    token = hubtest.user_token(s, hub, name)
    hubtest.spawn(hub, name, token=token)
    return token


def _run_as(account, code, *, stdin=b""):
    pw = pwd.getpwnam(account)
    cmd = [
        "setpriv",
        f"--reuid={pw.pw_uid}",
        f"--regid={pw.pw_gid}",
        "--init-groups",
        "--",
        sys.executable,
        "-I",
        "-c",
        code,
    ]
    env = {"PATH": "/usr/bin:/bin", "HOME": pw.pw_dir, "LANG": "C.UTF-8"}
    return subprocess.run(cmd, input=stdin, capture_output=True, env=env, cwd="/", timeout=600)


# -- the checkout and the installed package, without a hub ---------------------


def test_the_search_finds_a_readable_copy_and_tells_ours_from_the_machines(tmp_path, capsys):
    """A planted line is found as another account; only our folders fail the tests."""
    import secrets
    import shutil
    import tempfile

    token = "planted-" + secrets.token_hex(16)
    ours = Path(tempfile.mkdtemp(prefix="ai4scale-reach-", dir="/tmp"))
    other = Path(tempfile.mkdtemp(prefix="reach-other-", dir="/tmp"))
    try:
        for folder in (ours, other):
            folder.chmod(0o755)
            (folder / "out").mkdir(mode=0o755)
            (folder / "out" / "added").write_text(f"x = 1\n{token}\n")
            (folder / "out" / "added").chmod(0o644)
        (ours / "locked").write_text(token)
        (ours / "locked").chmod(0o600)
        proc = _run_as(
            "nobody",
            WALKER + "print(json.dumps(walk(json.load(sys.stdin))))\n",
            stdin=json.dumps([token]).encode(),
        )
        assert proc.returncode == 0, proc.stderr.decode()[-3000:]
        hits = json.loads(proc.stdout)
        assert hits == {str(ours / "out" / "added"): [token], str(other / "out" / "added"): [token]}
        assert list(_ours_only(hits)) == [str(ours / "out" / "added")]
        assert str(other / "out" / "added") in capsys.readouterr().out
    finally:
        shutil.rmtree(ours)
        shutil.rmtree(other)


def test_the_checkout_is_locked_to_its_owner():
    """``./sandbox`` (install, up, test) takes group and other access away."""
    mode = stat.S_IMODE(REPO.stat().st_mode)
    assert mode & 0o077 == 0, f"{REPO} is {oct(mode)}: run ./sandbox install"


def test_the_installed_package_is_a_copy_with_learner_files_only_readable():
    from ai4scale.hub.package_access import access_of, package_dir

    import ai4scale

    pkg = package_dir()
    assert REPO not in pkg.parents, f"{pkg}: an editable install exposes the checkout"
    assert pkg.parent.name == "site-packages"
    wrong = []
    for path in pkg.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        if path.is_dir():
            want = 0o755
        else:
            want = {"learner": 0o644, "grader": 0o640, "root": 0o600}[
                access_of(path.relative_to(pkg).as_posix())
            ]
        if mode != want:
            wrong.append(f"{path}: {oct(mode)}, not {oct(want)}")
    assert not wrong, "\n".join(wrong[:20])
    assert Path(ai4scale.__file__).parent == pkg


def test_the_files_learners_may_read_of_the_package_hold_no_lab_line(lab_lines):
    """Without a hub: the installed files every account reads (dataset loaders, assess, ...)."""
    from ai4scale.hub.package_access import access_of, package_dir

    pkg = package_dir()
    hits = {}
    for path in sorted(pkg.rglob("*")):
        rel = path.relative_to(pkg).as_posix()
        if path.is_dir() or "__pycache__" in rel or access_of(rel) != "learner":
            continue
        text = path.read_text(errors="replace")
        found = sorted(p for p in lab_lines if p in text)
        if found:
            hits[str(path)] = found
    assert not hits, "learner-readable files of ai4scale hold lab solution lines:\n" + _report(
        hits, lab_lines
    )


def test_the_grading_account_reads_lab_04s_reference_rule_and_no_hub_module():
    from ai4scale.grading.sandbox import GRADER_ACCOUNT, ensure_grader_account

    ensure_grader_account(GRADER_ACCOUNT)
    code = (
        "import importlib, json\n"
        "out = {}\n"
        "for m in ['ai4scale.datasets.synthetic.alevels', 'ai4scale.datasets.synthetic.ams',"
        " 'ai4scale.hub.memory_notice', 'ai4scale.grading', 'ai4scale.hub.course']:\n"
        "    try:\n"
        "        importlib.import_module(m); out[m] = 'imported'\n"
        "    except Exception as e:\n"
        "        out[m] = type(e).__name__\n"
        "print(json.dumps(out))\n"
    )
    proc = _run_as(GRADER_ACCOUNT, code)
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads(proc.stdout) == {
        "ai4scale.datasets.synthetic.alevels": "imported",
        "ai4scale.datasets.synthetic.ams": "imported",
        "ai4scale.hub.memory_notice": "imported",
        "ai4scale.grading": "PermissionError",
        "ai4scale.hub.course": "PermissionError",
    }


# -- learners on a live hub ----------------------------------------------------

LEARNER_IMPORTS = """
import importlib, json, os
import ai4scale
from ai4scale import datasets
out = {"file": os.path.realpath(ai4scale.__file__), "datasets": len(datasets.list())}
for m in ["ai4scale.grading", "ai4scale.grading.autograde", "ai4scale.hub.course",
          "ai4scale.hub.installer", "ai4scale.cli", "ai4scale.datasets.synthetic.alevels",
          "ai4scale.datasets.synthetic.child_welfare", "ai4scale.hub.memory_notice"]:
    try:
        importlib.import_module(m)
        out[m] = "imported"
    except Exception as e:
        out[m] = type(e).__name__
print("IMPORTS", json.dumps(out))
"""


@pytest.mark.hub
def test_a_learners_kernel_imports_a_copy_without_instructor_modules(hub):
    token = _learner(hub, "theo")
    kernel = hubtest.Kernel(hub, "theo", token)
    try:
        out = kernel.execute(LEARNER_IMPORTS)
    finally:
        kernel.shutdown()
    assert out["error"] is None, out["stderr"]
    got = json.loads(out["stdout"].split("IMPORTS ", 1)[1])
    assert not got.pop("file").startswith(str(REPO) + os.sep)
    assert got.pop("datasets") > 0
    assert got == {
        "ai4scale.grading": "PermissionError",
        "ai4scale.grading.autograde": "PermissionError",
        "ai4scale.hub.course": "PermissionError",
        "ai4scale.hub.installer": "PermissionError",
        "ai4scale.cli": "PermissionError",
        "ai4scale.datasets.synthetic.alevels": "PermissionError",
        "ai4scale.datasets.synthetic.child_welfare": "imported",
        "ai4scale.hub.memory_notice": "imported",
    }


def _reader(hub):
    """Start tread's server (the hub creates her account) and get every lab she may get.

    Other learners of the suite hand in right answers: their homes hold lines of
    the solutions that are their own work. tread only gets the labs.
    """
    from coursetest import api

    token = _learner(hub, "tread")
    me = api(hub, "tread", server=True)
    labs = me.get("/labs")
    assert labs.status_code == 200, labs.text
    for lab in labs.json():
        if not lab.get("team"):
            r = me.post(f"/labs/{lab['id']}/fetch")
            assert r.status_code in (200, 409), r.text  # 409: already fetched
    return token


@pytest.mark.hub
def test_a_learners_account_reads_no_solution_or_hidden_test(hub, lab_lines):
    _reader(hub)
    account = f"{TEST_USER_PREFIX}tread"
    code = WALKER + "print(json.dumps(walk(json.load(sys.stdin))))\n"
    proc = _run_as(account, code, stdin=json.dumps(sorted(lab_lines)).encode())
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    hits = _ours_only(json.loads(proc.stdout))
    assert not hits, f"{account} can read lab solutions or hidden tests:\n" + _report(
        hits, lab_lines
    )


@pytest.mark.hub
def test_a_learners_kernel_reads_no_solution_or_hidden_test(hub, lab_lines):
    token = _reader(hub)
    kernel = hubtest.Kernel(hub, "tread", token)
    try:
        hits = _ours_only(_hits_from(kernel.execute(_kernel_code(lab_lines), timeout=600)))
    finally:
        kernel.shutdown()
    assert not hits, "a learner's kernel can read lab solutions or hidden tests:\n" + _report(
        hits, lab_lines
    )


@pytest.mark.hub
def test_a_team_workspace_reads_no_solution_or_hidden_test(hub, lab_lines):
    token = _learner(hub, "tom")
    workspace = "team-t1"
    hubtest.spawn(hub, workspace)
    kernel = hubtest.Kernel(hub, workspace, token)
    try:
        hits = _ours_only(_hits_from(kernel.execute(_kernel_code(lab_lines), timeout=600)))
    finally:
        kernel.shutdown()
    assert not hits, "a team workspace can read lab solutions or hidden tests:\n" + _report(
        hits, lab_lines
    )
