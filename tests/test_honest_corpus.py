"""Honest but messy notebooks keep full marks, unflagged, in the grading sandbox.

For every lab, the reference answers typed into the learner version, then
handed in the ways real learners hand them in (``tests/honest/messy.py``):
blank cells, magics, failing scratch cells, accented Markdown, CRLF and
tabs in an nbformat 4.4 file, JupyterLab metadata, outputs and plots. Each
is graded by the same pipeline and sandbox as the course service uses; a
flag of any kind, or one autograded point lost, fails.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from ai4scale.grading.autograde import grade_batch, open_lab
from ai4scale.grading.labformat import find_labs

sys.path.insert(0, str(Path(__file__).parent / "honest"))
import messy  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LABS = find_labs(REPO / "labs")


@pytest.mark.parametrize("lab_dir", LABS, ids=lambda p: p.name)
def test_honest_messy_notebooks_keep_full_marks_unflagged(lab_dir, tmp_path, lab_sandbox):
    glab = open_lab(lab_dir)
    for variant in messy.VARIANTS:
        messy.write_variant(tmp_path, variant, glab.sources, variant, glab.id)
    graded = grade_batch(glab, tmp_path, executor=lab_sandbox, workers=2)
    assert sorted(g.learner for g in graded) == sorted(messy.VARIANTS)
    problems = []
    for g in graded:
        if g.status != "graded" or g.flags:
            problems.append(f"{g.learner}: {g.status} {g.message} flags={g.flags}")
        for r in g.results:
            if r.kind == "auto" and r.score != r.max_score:
                problems.append(
                    f"{g.learner}: {r.notebook} {r.grade_id} {r.score}/{r.max_score} "
                    f"{r.status}: {r.message}"
                )
    assert not problems, "\n".join(problems)
