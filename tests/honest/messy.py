"""Honest but messy submissions: what real learners hand in, for every lab.

Each variant starts from the lab's reference answers typed into the learner
version (as a learner who got everything right would have it) and adds what
honest learners do in JupyterLab: blank cells from Shift+Enter on the last
cell, whitespace-only cells, magics and shell commands, scratch cells that
fail, extra Markdown with accented text, CRLF line endings and tabs,
nbformat 4.4 files without cell ids, JupyterLab's cell metadata, outputs
and execution counts of their own runs, extra plots. Every variant must keep
full autograded marks with no flag at all.

``VARIANTS`` maps a variant name to ``build(solved_nb, lab_id) -> (nb, file_edit)``;
``file_edit`` (or None) turns the written file's text into what is handed in.
"""

from __future__ import annotations

import copy
import re

import nbformat
from ai4scale.grading.labformat import learner_version
from nbformat.v4 import new_code_cell, new_markdown_cell, new_output

_MARKER = re.compile(r"^\s*(#+|<!--)?\s*(BEGIN|END) (SOLUTION|MARK SCHEME)\b.*$")


def _without_markers(source):
    """The reference answer as a learner would type it: markers and mark schemes gone."""
    out, in_scheme = [], False
    for line in source.splitlines():
        m = _MARKER.match(line)
        if m:
            in_scheme = m.group(3) == "MARK SCHEME" and m.group(2) == "BEGIN"
            continue
        if not in_scheme:
            out.append(line)
    return "\n".join(out).strip("\n") + "\n"


def solved(source_nb, name):
    """Return the learner version of ``source_nb`` with the reference answers typed in."""
    nb = learner_version(source_nb, name=name)
    answers = {
        c.metadata["nbgrader"]["grade_id"]: _without_markers(c.source)
        for c in source_nb.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    return nb


def _meta(cell):
    return cell.metadata.get("nbgrader", {})


def _is_answer(cell):
    return cell.cell_type == "code" and _meta(cell).get("solution")


def _insert_after_answers(nb, make):
    """Insert ``make(i)`` after every answer code cell (the learner's own cells)."""
    cells, n = [], 0
    for cell in nb.cells:
        cells.append(cell)
        if _is_answer(cell):
            cells.extend(make(n))
            n += 1
    nb.cells = cells
    return nb


def blank_cells(nb, lab_id):
    """Shift+Enter on the last cell, a whitespace cell, empty cells between answers."""
    nb = _insert_after_answers(
        nb, lambda i: [new_code_cell("" if i % 2 else "   \n\t\n")] if i < 4 else []
    )
    nb.cells.append(new_code_cell(""))
    nb.cells.append(new_code_cell("\n"))
    return nb, None


def magics(nb, lab_id):
    """Magics and shell commands in the learner's own cells, and %%time on answers."""
    scratch = [
        "%matplotlib inline\n%load_ext autoreload\n%autoreload 2",
        "%who_ls",
        "!pwd\n!ls | head -3",
        "%%capture captured\nprint('kept quiet')",
        "%timeit -n1 -r1 sum(range(10))",
        "len?",
    ]
    nb = _insert_after_answers(
        nb, lambda i: [new_code_cell(scratch[i])] if i < len(scratch) else []
    )
    for cell in nb.cells:
        if _is_answer(cell) and not cell.source.lstrip().startswith("%%"):
            cell.source = "%%time\n" + cell.source
            break
    return nb, None


def scratch_errors(nb, lab_id):
    """Scratch cells that fail: typos, a syntax error, a division by zero, a bad column."""
    scratch = [
        "prnt('first try')",
        "x = (1, 2\n",
        "1 / 0",
        "import pandas as pd\npd.DataFrame({'a': [1]})['b']",
        "raise ValueError('I wanted to see what happens')",
        "undefined_variable + 1",
    ]
    nb = _insert_after_answers(nb, lambda i: [new_code_cell(scratch[i % len(scratch)])])
    return nb, None


def markdown_accents(nb, lab_id):
    """Notes in Markdown in several languages, and accented comments in answers."""
    notes = [
        "## Mes notes\nLe taux d'approbation diffère selon la région — à vérifier.",
        "Übergewichtung? Prüfen: *Größe* der Gruppen, Schätzung für Ämter.",
        "Notatki: łączna liczba wniosków, ocena ryzyka, współczynnik — 🙂",
        "Megjegyzés: ő és ű betűk, Ελληνικά σχόλια, ČŘŽ.",
    ]
    nb = _insert_after_answers(nb, lambda i: [new_markdown_cell(notes[i % len(notes)])])
    comment = "# Réponse — vérifiée avec mon équipe (Straße, łódź)\n"
    for cell in nb.cells:
        if _is_answer(cell):
            head, _, rest = cell.source.partition("\n")
            if head.startswith("%%"):  # a cell magic stays the first line
                cell.source = f"{head}\n{comment}{rest}"
            else:
                cell.source = comment + cell.source
    nb.cells.insert(0, new_markdown_cell("# Mon cahier\nCopie de travail de Zoë Ångström."))
    return nb, None


def _tabs(source):
    # Leading groups of four spaces become tabs: consistent, so still valid Python.
    lines = []
    for line in source.split("\n"):
        stripped = line.lstrip(" ")
        lead = len(line) - len(stripped)
        lines.append("\t" * (lead // 4) + " " * (lead % 4) + stripped)
    return "\n".join(lines)


def crlf_tabs_v44(nb, lab_id):
    """A Windows file: CRLF everywhere, tab indentation, nbformat 4.4 without cell ids."""
    for cell in nb.cells:
        if _is_answer(cell) and "\t" not in cell.source and '"""' not in cell.source:
            cell.source = _tabs(cell.source)
        if cell.cell_type == "code" and _is_answer(cell):
            cell.source = cell.source.replace("\n", "\r\n")
        cell.pop("id", None)
    nb.nbformat_minor = 4

    def file_edit(text):
        return text.replace("\r\n", "\n").replace("\n", "\r\n")

    return nb, file_edit


def lab_metadata_outputs(nb, lab_id):
    """JupyterLab's cell metadata, the learner's own outputs and counts, extra plots."""
    count = 0
    for cell in nb.cells:
        md = cell.metadata
        md.setdefault("tags", [])
        md["trusted"] = True
        md["jupyter"] = {"source_hidden": False, "outputs_hidden": False}
        if cell.cell_type == "code":
            count += 3  # re-run now and then: counts out of order and with gaps
            md["scrolled"] = True
            md["collapsed"] = False
            md["execution"] = {
                "iopub.execute_input": "2026-11-30T09:14:02.118Z",
                "iopub.status.busy": "2026-11-30T09:14:02.117Z",
                "iopub.status.idle": "2026-11-30T09:14:02.533Z",
                "shell.execute_reply": "2026-11-30T09:14:02.532Z",
            }
            cell.execution_count = count
            cell.outputs = [
                new_output("stream", name="stdout", text="what I saw when I ran it\n"),
                new_output(
                    "execute_result",
                    data={"text/plain": "0.42"},
                    execution_count=count,
                ),
            ]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb.metadata["toc-autonumbering"] = True
    nb.metadata["language_info"] = {
        "name": "python",
        "version": "3.11.2",
        "mimetype": "text/x-python",
        "file_extension": ".py",
        "codemirror_mode": {"name": "ipython", "version": 3},
    }
    plot = (
        "import matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots(figsize=(4, 3))\n"
        "ax.bar(['A', 'B', 'C'], [0.61, 0.48, 0.55])\n"
        "ax.set_title('Taux par groupe')\n"
        "plt.show()"
    )
    nb = _insert_after_answers(nb, lambda i: [new_code_cell(plot)] if i < 3 else [])
    return nb, None


BIG_OUTPUT = """\
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt

table = pd.DataFrame(np.random.default_rng(1).random((20_000, 8)))
print(table.to_string())  # about 2 MB of text
for k in range(15):
    fig, ax = plt.subplots(figsize=(8, 6), dpi=120)
    ax.scatter(*np.random.default_rng(k).random((2, 3000)), s=4)
    ax.set_title(f"Plot {k}")
    plt.show()
"""


def big_output(nb, lab_id):
    """A whole table printed and fifteen plots: more output than the grader keeps."""
    nb = _insert_after_answers(nb, lambda i: [new_code_cell(BIG_OUTPUT)] if i == 0 else [])
    return nb, None


OWN_CLASSES = """\
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import NamedTuple
import collections


@dataclass(order=True)
class Finding:
    group: str
    rate: float
    notes: list = field(default_factory=list)


@dataclass(frozen=True)
class Threshold:
    name: str
    value: float


class Row(NamedTuple):
    region: str
    share: float


Pair = collections.namedtuple("Pair", "left right")


class Risk(Enum):
    LOW = "low"
    HIGH = "high"


class Level(IntEnum):
    ONE = 1
    TWO = 2


class Note:
    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return f"Note({self.text!r})"


class DataProblem(Exception):
    pass


class Counts(dict):
    pass


findings = sorted([Finding("B", 0.4), Finding("A", 0.6)])
assert findings[0] == Finding("B", 0.4) and Threshold("t", 0.5) == Threshold("t", 0.5)
print(Row("North", 0.75), Pair(1, 2), Risk.HIGH, Level.TWO + 1, Note("à revoir"), Counts(a=1))
"""


def own_classes(nb, lab_id):
    """Classes of the learner's own: dataclasses, named tuples, enums, a plain class."""
    nb = _insert_after_answers(nb, lambda i: [new_code_cell(OWN_CLASSES)] if i == 0 else [])
    return nb, None


def everything(nb, lab_id):
    """All of the above in one notebook."""
    edit = None
    for build in (
        blank_cells,
        magics,
        scratch_errors,
        markdown_accents,
        lab_metadata_outputs,
        own_classes,
    ):
        nb, _ = build(nb, lab_id)
    nb, edit = crlf_tabs_v44(nb, lab_id)
    return nb, edit


VARIANTS = {
    "blank-cells": blank_cells,
    "magics": magics,
    "scratch-errors": scratch_errors,
    "markdown-accents": markdown_accents,
    "crlf-tabs-nbformat-4.4": crlf_tabs_v44,
    "lab-metadata-outputs-plots": lab_metadata_outputs,
    "own-classes": own_classes,
    "big-output": big_output,
    "everything": everything,
}


def write_variant(folder, learner, sources, variant, lab_id):
    """Write ``folder/<learner>/<notebook>`` for every source notebook of a lab.

    Parameters
    ----------
    folder : pathlib.Path
    learner : str
    sources : dict
        Notebook name -> source notebook (with solutions and hidden tests).
    variant : str
        A key of :data:`VARIANTS`.
    lab_id : str
    """
    out = folder / learner
    out.mkdir(parents=True, exist_ok=True)
    for name, source in sources.items():
        nb, file_edit = VARIANTS[variant](copy.deepcopy(solved(source, name)), lab_id)
        if nb.nbformat_minor < 5:
            for cell in nb.cells:
                cell.pop("id", None)
            text = nbformat.writes(nb, version=4)
        else:
            nbformat.validate(nb)
            text = nbformat.writes(nb)
        if file_edit:
            text = file_edit(text)
        (out / name).write_bytes(text.encode("utf-8"))
