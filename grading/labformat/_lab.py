"""Lab-level operations: list items, build learner versions, validate, import."""

from __future__ import annotations

import math
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ._autograde import autograde_locally
from ._labtoml import LabError, dump_lab_toml, load_lab
from ._learner import learner_version, notebook_bytes, read_source_notebook
from ._metadata import MetadataError, is_grade, is_task
from ._tracks import DEFAULT_TRACK, GUIDED_MAX_LINES, TRACKS, guided_changes, has_guided

__all__ = [
    "BuildReport",
    "build_lab",
    "check_guided",
    "find_labs",
    "import_nbgrader",
    "lab_items",
    "lab_tracks",
    "read_lab_notebooks",
    "stale_orphans",
    "track_dir",
    "validate_lab",
]

_SKIP = {"lab.toml"}


def read_lab_notebooks(lab):
    """Read and validate every source notebook of a lab, checking the points total.

    Returns
    -------
    dict
        Notebook file name -> validated ``NotebookNode``, in lab.toml order.

    Raises
    ------
    LabError
        When a notebook is malformed, the item points do not add up to
        ``points`` in lab.toml, or a rubric names an item that is not graded by
        a person or gives other points than the item.
    """
    notebooks = {}
    for name in lab.notebooks:
        try:
            notebooks[name] = read_source_notebook(lab.path / name, name=f"{lab.id}/{name}")
        except MetadataError as e:
            raise LabError(str(e)) from None
    total = sum(item["points"] for item in lab_items(notebooks))
    if not math.isclose(total, lab.points, abs_tol=1e-9):
        raise LabError(
            f"{lab.path / 'lab.toml'}: points = {lab.points:g} but the notebooks' items add up "
            f"to {total:g}"
        )
    _check_rubrics(lab, lab_items(notebooks))
    return notebooks


def _check_rubrics(lab, items):
    manual = {i["grade_id"]: i for i in items if i["kind"] in ("manual", "task")}
    where = lab.path / "lab.toml"
    for grade_id, rubric in lab.rubrics.items():
        item = manual.get(grade_id)
        if item is None:
            raise LabError(
                f"{where}: rubrics.{grade_id}: no manually graded item has this grade_id "
                f"(manual items: {', '.join(sorted(manual)) or 'none'})"
            )
        if not math.isclose(rubric.max_points, item["points"], abs_tol=1e-9):
            raise LabError(
                f"{where}: rubrics.{grade_id}: the highest level gives {rubric.max_points:g} "
                f"points but the item is worth {item['points']:g}"
            )


def lab_items(notebooks):
    """Return the graded items (grade and task cells) of validated notebooks.

    Parameters
    ----------
    notebooks : dict
        Notebook name -> validated notebook.

    Returns
    -------
    list of dict
        ``{"notebook", "grade_id", "points", "kind", "cell_type"}`` with kind ``"auto"``,
        ``"manual"`` (an answer cell a person grades) or ``"task"``.
    """
    items = []
    for name, nb in notebooks.items():
        for cell in nb.cells:
            if not (is_grade(cell) or is_task(cell)):
                continue
            meta = cell.metadata.nbgrader
            if is_task(cell):
                kind = "task"
            elif meta["solution"] or cell.cell_type != "code":
                kind = "manual"
            else:
                kind = "auto"
            items.append(
                {
                    "notebook": name,
                    "grade_id": meta["grade_id"],
                    "points": float(meta["points"]),
                    "kind": kind,
                    "cell_type": cell.cell_type,
                }
            )
    return items


def find_labs(labs_root, ids=None):
    """Return the lab folders under ``labs_root`` (those with a lab.toml), or the named ones.

    Raises
    ------
    LabError
        When a named lab has no folder.
    """
    labs_root = Path(labs_root)
    if ids:
        missing = [i for i in ids if not (labs_root / i / "lab.toml").is_file()]
        if missing:
            raise LabError(f"no lab {missing[0]!r} in {labs_root} (no {missing[0]}/lab.toml)")
        return [labs_root / i for i in ids]
    return sorted(p.parent for p in labs_root.glob("*/lab.toml"))


def _resource_files(lab_dir):
    """Non-notebook files a learner also gets (data files, images), relative paths."""
    files = []
    for path in sorted(Path(lab_dir).rglob("*")):
        rel = path.relative_to(lab_dir)
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue
        if path.is_file() and path.suffix != ".ipynb" and str(rel) not in _SKIP:
            files.append(rel)
    return files


@dataclass
class BuildReport:
    """What :func:`build_lab` wrote (or, with ``check``, found stale)."""

    lab_id: str
    changed: list = field(default_factory=list)
    removed: list = field(default_factory=list)

    @property
    def stale(self):
        """All paths that differ from what the lab generates."""
        return self.changed + self.removed


def track_dir(notebooks_root, lab_id, track=DEFAULT_TRACK):
    """Return the folder of a lab's learner version for ``track``.

    The default (guided) track is ``<root>/<lab>/``; another track is
    ``<root>/_<track>/<lab>/`` (lab ids cannot start with ``_``).
    """
    root = Path(notebooks_root)
    return root / lab_id if track == DEFAULT_TRACK else root / f"_{track}" / lab_id


def lab_tracks(notebooks):
    """Return the tracks whose learner versions differ for these source notebooks."""
    return TRACKS if any(has_guided(nb) for nb in notebooks.values()) else (DEFAULT_TRACK,)


def check_guided(lab, notebooks):
    """Raise LabError when a guided cell asks for more than ``GUIDED_MAX_LINES`` lines."""
    for name, nb in notebooks.items():
        for cell in nb.cells:
            n = guided_changes(cell)
            if n > GUIDED_MAX_LINES:
                gid = cell.metadata["nbgrader"]["grade_id"]
                raise LabError(
                    f"{lab.id}/{name}: item {gid!r}: the guided version differs from the "
                    f"reference in {n} code lines (at most {GUIDED_MAX_LINES})"
                )


def build_lab(lab_dir, notebooks_root, *, check=False, tracks=None):
    """Write a lab's learner notebooks (and resource files) to ``notebooks_root/<id>/``.

    Output is deterministic: building twice changes no byte. Files in the
    output folder that the lab no longer produces are removed. A lab with
    guided cells also gets its analyst version, in ``notebooks_root/_analyst/<id>/``
    (see :func:`track_dir`).

    Parameters
    ----------
    lab_dir : str or Path
        The lab folder.
    notebooks_root : str or Path
        The ``notebooks/`` folder.
    check : bool
        Write nothing; report the files that are stale.
    tracks : sequence of str, optional
        Build only these tracks (default: every track the lab has).

    Returns
    -------
    BuildReport
    """
    lab = load_lab(lab_dir)
    notebooks = read_lab_notebooks(lab)
    check_guided(lab, notebooks)
    report = BuildReport(lab.id)
    wanted = lab_tracks(notebooks) if tracks is None else tuple(tracks)
    for track in wanted:
        _build_track(lab, notebooks, track, track_dir(notebooks_root, lab.id, track), check, report)
    if tracks is None:
        for track in TRACKS:
            stale = track_dir(notebooks_root, lab.id, track)
            if track not in wanted and stale.is_dir():
                report.removed.extend(p for p in sorted(stale.rglob("*")) if p.is_file())
                if not check:
                    shutil.rmtree(stale)
    return report


def _build_track(lab, notebooks, track, out_dir, check, report):
    expected = {}
    for name, nb in notebooks.items():
        try:
            version = learner_version(nb, name=f"{lab.id}/{name}", track=track)
        except MetadataError as e:
            raise LabError(str(e)) from None
        expected[name] = notebook_bytes(version)
    for rel in _resource_files(lab.path):
        expected[str(rel)] = (lab.path / rel).read_bytes()
    for rel, data in expected.items():
        target = out_dir / rel
        if target.is_file() and target.read_bytes() == data:
            continue
        report.changed.append(target)
        if not check:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(target)
    if out_dir.is_dir():
        for path in sorted(out_dir.rglob("*")):
            rel = str(path.relative_to(out_dir))
            if path.is_file() and rel not in expected and rel != "README.md":
                report.removed.append(path)
                if not check:
                    path.unlink()


def stale_orphans(labs_root, notebooks_root):
    """Return folders in ``notebooks_root`` whose lab no longer exists in ``labs_root``."""
    labs = {p.name for p in find_labs(labs_root)}
    root = Path(notebooks_root)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name not in labs]
    for track in TRACKS:
        tdir = root / f"_{track}"
        if track != DEFAULT_TRACK and tdir in found:
            found.remove(tdir)
            found.extend(p for p in tdir.iterdir() if p.is_dir() and p.name not in labs)
    return sorted(found)


def validate_lab(lab_dir, *, executor=None, timeout=60):
    """Check that the reference solution gets full marks and the blank version zero.

    Autograded items must score full points when the source notebook (with its
    solutions) is graded, and every item that is scored automatically (tests,
    and answer cells left as the placeholder) must score 0 when the learner
    version is graded with the hidden tests put back.

    Parameters
    ----------
    lab_dir : str or Path
        The lab folder.
    executor : callable, optional
        Passed to :func:`autograde_locally`.
    timeout : int
        Per-cell timeout in seconds.

    Returns
    -------
    list of str
        One line per problem, naming the notebook and item; empty when valid.
    """
    lab = load_lab(lab_dir)
    problems = []
    notebooks = read_lab_notebooks(lab)
    try:
        check_guided(lab, notebooks)
    except LabError as e:
        problems.append(str(e))
    for name, source in notebooks.items():
        kwargs = {"name": name, "resources_dir": lab.path, "executor": executor, "timeout": timeout}
        for result in autograde_locally(source, source, **kwargs):
            if result.kind == "auto" and result.score != result.max_score:
                problems.append(
                    f"{lab.id}/{name}: item {result.grade_id!r}: the reference solution scores "
                    f"{result.score:g}/{result.max_score:g} ({result.status}"
                    + (f": {result.message}" if result.message else "")
                    + ")"
                )
        tracks = lab_tracks({name: source})
        for track in tracks:
            label = f" ({track} track)" if len(tracks) > 1 else ""
            blank = learner_version(source, name=name, track=track)
            for result in autograde_locally(source, blank, **kwargs):
                if result.score is not None and result.score != 0:
                    problems.append(
                        f"{lab.id}/{name}: item {result.grade_id!r}: the blank learner version"
                        f"{label} scores {result.score:g}/{result.max_score:g} (the test passes "
                        "without an answer)"
                    )
    return problems


def _first_heading(nb):
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                m = re.match(r"#+\s+(.+)", line.strip())
                if m:
                    return m.group(1).strip()
    return None


def import_nbgrader(sources, *, lab_id, labs_root, title=None, resources=True):
    """Create ``labs_root/<lab_id>/`` from nbgrader source notebooks, as they are.

    The notebooks are copied byte for byte (older metadata schemas are upgraded
    when read); sibling non-notebook files (images, data) are copied when
    ``resources`` is true; a lab.toml is generated with the points total.

    Parameters
    ----------
    sources : list of str or Path
        nbgrader source notebooks (with solutions and hidden tests).
    lab_id : str
        The new lab's id (lowercase letters, digits, hyphens).
    labs_root : str or Path
        The ``labs/`` folder.
    title : str, optional
        The lab's title (default: the first Markdown heading, else the id).
    resources : bool
        Copy the other files next to the source notebooks.

    Returns
    -------
    Path
        The new lab folder.

    Raises
    ------
    LabError
        When the lab exists, names clash, or a notebook is malformed.
    """
    sources = [Path(s) for s in sources]
    if not sources:
        raise LabError("import-nbgrader needs at least one source notebook")
    lab_dir = Path(labs_root) / lab_id
    dump_lab_toml({"id": lab_id})  # checks the id before anything is written
    if lab_dir.exists():
        raise LabError(f"{lab_dir} already exists; choose another --lab id or remove it")
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise LabError("two source notebooks have the same file name")
    notebooks = {}
    for src in sources:
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\.ipynb", src.name):
            raise LabError(f"{src}: notebook names may use letters, digits, '_', '-', '.'")
        try:
            nb = read_source_notebook(src)
            learner_version(nb, name=str(src))
        except MetadataError as e:
            raise LabError(str(e)) from None
        notebooks[src.name] = nb
    points = sum(item["points"] for item in lab_items(notebooks))
    first = next(iter(notebooks.values()))
    data = {
        "id": lab_id,
        "title": title or _first_heading(first) or lab_id,
        "summary": "Imported from nbgrader source notebooks: " + ", ".join(names) + ".",
        "learning_objectives": [],
        "datasets": [],
        "estimated_minutes": 30 * len(sources),
        "points": int(points) if float(points).is_integer() else points,
        "notebooks": names,
    }
    lab_dir.mkdir(parents=True)
    try:
        for src in sources:
            shutil.copyfile(src, lab_dir / src.name)
        if resources:
            for folder in {s.parent for s in sources}:
                for path in sorted(folder.iterdir()):
                    if path.is_file() and path.suffix != ".ipynb" and not path.name.startswith("."):
                        if path.name != "lab.toml":
                            shutil.copyfile(path, lab_dir / path.name)
        (lab_dir / "lab.toml").write_text(dump_lab_toml(data), encoding="utf-8")
        load_lab(lab_dir)
    except Exception:
        shutil.rmtree(lab_dir)
        raise
    return lab_dir
