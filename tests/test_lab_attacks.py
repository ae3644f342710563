"""Every lab, attacked: tricks that would earn full marks if missed are seen, in the sandbox.

The attacks of ``tests/honest/attacks.py`` hand in each lab's right answers
plus a trick (values that lie, an AST transformer, patched builtins, a
swallowed error, a kernel that ends itself, an edited test), so missing the
trick would show as full marks.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from ai4scale.grading.autograde import grade_batch, open_lab
from ai4scale.grading.labformat import find_labs

sys.path.insert(0, str(Path(__file__).parent / "honest"))
import attacks  # noqa: E402
import messy  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LABS = find_labs(REPO / "labs")


@pytest.mark.parametrize("lab_dir", LABS, ids=lambda p: p.name)
def test_attacks_on_every_lab_are_seen(lab_dir, tmp_path, lab_sandbox):
    glab = open_lab(lab_dir)
    for name, (build, _) in attacks.ATTACKS.items():
        (tmp_path / name).mkdir()
        for nb_name, source in glab.sources.items():
            nb = messy.solved(source, nb_name)
            build(nb)
            nbformat.write(nb, tmp_path / name / nb_name)
    graded = {g.learner: g for g in grade_batch(glab, tmp_path, executor=lab_sandbox, workers=2)}
    assert set(graded) == set(attacks.ATTACKS)
    problems = []
    for name, (_, expect) in attacks.ATTACKS.items():
        g = graded[name]
        auto = [r for r in g.results if r.kind == "auto"]
        lost = all(r.score == 0 for r in auto)
        if expect == "tampered":
            ok = lost and bool(g.flags.get("tampered"))
        elif expect == "run":
            ok = bool(g.flags.get("run")) and not all(r.score == r.max_score for r in auto)
        else:
            edits = g.flags.get("edits", {})
            ok = any(expect[5:] in e for e in edits.values())
        if not ok:
            problems.append(f"{name}: expected {expect}; flags={g.flags} auto={auto}")
    assert not problems, "\n".join(problems)
