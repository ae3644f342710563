"""Grading containers under the local sandbox's attacks, leak scan and a broken pool.

The corpora and their expectations are the local suite's, imported, not
copied: ``tests/adversarial`` (``test_autograde.test_adversarial_corpus``),
``tests/honest/attacks.py`` on every lab (``test_lab_attacks``) and the
search for lines of solutions and hidden tests (``test_learner_reach``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
import test_autograde  # noqa: E402
import test_lab_attacks  # noqa: E402


def _import_reach():
    """Import ``test_learner_reach``, whose ``from conftest import`` means the suite's."""
    import importlib.util

    here = sys.modules.get("conftest")
    spec = importlib.util.spec_from_file_location("conftest", TESTS / "conftest.py")
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    sys.modules["conftest"] = suite
    try:
        import test_learner_reach
    finally:
        if here is not None:
            sys.modules["conftest"] = here
    return test_learner_reach


test_learner_reach = _import_reach()
lab_lines = test_learner_reach.lab_lines  # the fixture

glab = test_autograde.glab  # the fixture: labs/example-intro


class _ConfinedDocker:
    """A DockerExecutor the corpus holds to the local sandbox's expectations.

    ``test_adversarial_corpus`` expects what only a confined executor gives
    (no network, memory and process caps) of the one named ``"sandbox"``.
    """

    name = "sandbox"

    def __init__(self, executor):
        self._executor = executor

    def __getattr__(self, name):
        return getattr(self._executor, name)


def _docker(image, **config):
    from ai4scale.grading.containers import DockerExecutor

    return DockerExecutor(image=image, **config)


def test_adversarial_corpus_in_grading_containers(glab, tmp_path, singleuser_image):
    """Every trick of the corpus is seen; the honest notebook keeps its 4 points."""
    executor = _docker(singleuser_image, cell_timeout=10, notebook_timeout=60)
    test_autograde.test_adversarial_corpus(glab, tmp_path, _ConfinedDocker(executor))


@pytest.mark.parametrize("lab_dir", test_lab_attacks.LABS, ids=lambda p: p.name)
def test_attacks_on_every_lab_are_seen_in_grading_containers(lab_dir, tmp_path, singleuser_image):
    executor = _docker(singleuser_image, cell_timeout=120, notebook_timeout=600)
    test_lab_attacks.test_attacks_on_every_lab_are_seen(lab_dir, tmp_path, executor)


def test_a_grading_kernel_reads_no_solution_or_hidden_test(singleuser_image, lab_lines):
    """After a lab's reference ran in the same container, the next kernel finds none of it.

    The notebook (solutions, hidden tests) crosses the container's stdin;
    nothing of it may stay on any file the grading account can read. Lab 04's
    reference rule is left out: the grading account may read it (its hidden
    tests import it).
    """
    from ai4scale.grading.autograde import open_lab
    from ai4scale.grading.labformat import find_labs
    from nbformat.v4 import new_code_cell, new_notebook

    secret = {p: w for p, w in lab_lines.items() if "reference rule" not in w}
    executor = _docker(singleuser_image, cell_timeout=900, notebook_timeout=900)
    glab = open_lab(find_labs(TESTS.parent / "labs")[0])
    executor.open_pool(preload="", size=1)
    try:
        for source in glab.sources.values():
            ran = executor.run(source, workdir_files=glab.resources)
            assert ran.outcome == "completed", ran.reason
        scan = new_notebook(cells=[new_code_cell(test_learner_reach._kernel_code(secret))])
        result = executor.run(scan, workdir_files=glab.resources)
    finally:
        executor.close_pool()
    assert result.outcome == "completed", result.reason
    text = result.cells[0].text()
    line = next((ln for ln in text.splitlines() if ln.startswith("HITS ")), None)
    assert line is not None, text[-2000:]
    import json

    hits = json.loads(line[5:])
    assert not hits, "a grading kernel can read lab solutions or hidden tests:\n" + (
        test_learner_reach._report(hits, secret)
    )


def test_a_pool_without_containers_fails_runs_at_once(singleuser_image, docker_client):
    """The last container dies and no other can start: each run fails, saying why."""
    from ai4scale.grading.containers import DockerUnavailable
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell("print(6 * 7)")])
    executor = _docker(singleuser_image, cell_timeout=10, notebook_timeout=60)
    executor.open_pool(preload="import json", size=1)
    try:
        assert executor.run(nb).cells[0].text() == "42\n"
        (container,) = executor._containers
        executor.image = "ai4scale/no-such-image:missing"  # a replacement cannot start
        docker_client.api.kill(container.name)
        container.proc.wait(timeout=30)  # it is dead before the next run comes
        for _ in range(2):  # this run and the later ones: never a wait for a container
            started = time.monotonic()
            with pytest.raises(DockerUnavailable, match="no grading container could be started"):
                executor.run(nb)
            assert time.monotonic() - started < 60
        assert executor._containers == []
        executor.image = singleuser_image  # the engine is back: the pool recovers
        assert executor.run(nb).cells[0].text() == "42\n"
        assert len(executor._containers) == 1
    finally:
        executor.close_pool()
    assert not docker_client.containers.list(all=True, filters={"name": container.name})
