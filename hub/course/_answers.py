"""What manual grading shows: the items with their rubric, and the owners' answers."""

from __future__ import annotations

import re

from ._errors import NotFound
from ._grading import _gradebook_lab, collected_of
from ._markdown import render_markdown
from ._names import check_grade_id

__all__ = ["item_answers", "lab_items_view", "owner_submission"]

#: Longest answer text and output shown per item (characters).
MAX_TEXT = 20_000

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s", re.M)


def _is_markdown_answer(spec):
    return spec.get("cell_type") == "markdown"


def _kind(spec):
    return "auto" if spec["kind"] == "auto" else "manual"


def _text_outputs(cells):
    out = []
    for cell in cells:
        for o in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if o.get("output_type") == "stream":
                out.append({"output_type": "stream", "name": o.get("name"), "text": o.get("text")})
            elif "data" in o and "text/plain" in o["data"]:
                out.append({"output_type": o["output_type"], "text": o["data"]["text/plain"]})
            elif o.get("output_type") == "error":
                out.append({"output_type": "error", "text": f"{o.get('ename')}: {o.get('evalue')}"})
    for o in out:
        if isinstance(o["text"], list):
            o["text"] = "".join(o["text"])
        o["text"] = (o["text"] or "")[:MAX_TEXT]
    return out


def _answers_in(nb, lab_cells=frozenset()):
    """Return grade_id -> (source, outputs) of a learner's notebook.

    A manually graded answer cell is its own answer; for a test cell the
    answer is the learner's solution cells since the previous graded cell.
    A task's answer is what the learner wrote below it, as the lab asks: the
    cells they added (no nbgrader metadata, neither an ``id`` nor a source in
    ``lab_cells``) up to the next cell of the lab.
    """
    found, pending, task, task_cells = {}, [], None, []

    def close_task():
        if task is not None:
            text = "\n\n".join(c.source for c in task_cells)[:MAX_TEXT]
            found[task] = (text, _text_outputs(task_cells))

    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        meta = meta if isinstance(meta, dict) else {}
        gid = meta.get("grade_id")
        if task is not None:
            added = not meta and not ({cell.get("id"), cell.source.strip()} & lab_cells)
            if added:
                if cell.source.strip():
                    task_cells.append(cell)
                continue
            close_task()
            task, task_cells = None, []
        if meta.get("solution") and not meta.get("grade"):
            pending.append(cell)
            continue
        if gid and meta.get("task") and not meta.get("solution") and gid not in found:
            task, task_cells, pending = gid, [], []
            continue
        if gid and (meta.get("grade") or meta.get("task")) and gid not in found:
            cells = [cell] if meta.get("solution") else pending
            text = "\n\n".join(c.source for c in cells)[:MAX_TEXT]
            found[gid] = (text, _text_outputs(cells))
            pending = []
    close_task()
    return found


def _lab_cells(glab):
    """Return notebook -> the ids and sources of the cells the lab gave learners."""
    from ai4scale.grading.labformat import TRACKS, learner_version

    out = {}
    for name, src in glab.sources.items():
        given = frozenset()
        for track in TRACKS:  # a learner has one of them: both are given cells
            cells = learner_version(src, name=name, track=track).cells
            given |= frozenset(c.get("id") for c in cells if c.get("id")) | frozenset(
                c.source.strip() for c in cells if c.source.strip()
            )
        out[name] = given
    return out


def _owner_answers(course, lab, info, lab_cells):
    """Return (notebook, grade_id) -> (source, outputs) of a collected submission.

    ``lab_cells`` is :func:`_lab_cells` of the lab.
    """
    from ai4scale.grading.autograde import SubmissionError, parse_notebook

    out = {}
    folder = course.path("collected", lab, info.owner)
    for name in info.files:
        try:
            nb = parse_notebook(folder / name)
        except (SubmissionError, OSError):
            continue
        for gid, answer in _answers_in(nb, lab_cells.get(name, frozenset())).items():
            out[(name, gid)] = answer
    return out


def _prompts(glab):
    """Return (notebook, grade_id) -> the item's question: the Markdown of its section.

    A section starts at a Markdown cell with a heading; an item's question is
    the lab's Markdown of its section up to the item (a task's question is
    the task cell itself). So a test cell shows the question of the exercise
    it checks, not whatever Markdown happened to come last.
    """
    from ai4scale.grading.labformat import learner_version

    prompts = {}
    for name, src in glab.sources.items():
        section = []
        for cell in learner_version(src, name=name).cells:
            meta = cell.get("metadata", {}).get("nbgrader") or {}
            gid = meta.get("grade_id")
            text = cell.source if cell.cell_type == "markdown" else ""
            if text and not meta.get("solution") and _HEADING.search(text):
                section = []
            if gid and meta.get("task") and not meta.get("solution"):
                prompts[(name, gid)] = text
            elif gid and meta.get("grade"):
                prompts[(name, gid)] = "\n\n".join(section)
            if text and not meta.get("solution") and not meta.get("task"):
                section.append(text)
    return prompts


def _titles(glab):
    from ai4scale.grading.feedback import item_titles

    return item_titles(glab.sources)


def _item_view(glab, spec, prompts, titles=None):
    rubric = glab.lab.rubrics.get(spec["grade_id"])
    key = (spec["notebook"], spec["grade_id"])
    prompt = prompts.get(key, "")
    return {
        "notebook": spec["notebook"],
        "grade_id": spec["grade_id"],
        "title": (titles or {}).get(key) or spec["grade_id"],
        "kind": _kind(spec),
        "task": spec["kind"] == "task",
        "max_points": spec["points"],
        "prompt": prompt,
        "prompt_html": render_markdown(prompt),
        "rubric": rubric.as_dict() if rubric is not None else None,
    }


def lab_items_view(course, lab):
    """Return the items of a lab with rubric, question and grading counts (``.../items``)."""
    from ai4scale.grading.labformat import lab_items

    glab = _gradebook_lab(course, lab)
    gb = course.gradebook
    collected = gb.collected_submissions(lab)
    results = [gb.submission_results(s.id) for s in collected]
    prompts, titles = _prompts(glab), _titles(glab)
    out = []
    for spec in lab_items(glab.sources):
        item = _item_view(glab, spec, prompts, titles)
        done = 0
        for res in results:
            r = next(
                (
                    r
                    for r in res.values()
                    if (r["notebook"], r["grade_id"]) == (spec["notebook"], spec["grade_id"])
                ),
                None,
            )
            if r is not None and (r["manual_score"] is not None or item["kind"] == "auto"):
                done += r["score"] is not None
        item["graded"], item["ungraded"] = done, len(collected) - done
        out.append(item)
    return out


def _answer(info, spec, answers, results):
    key = (spec["notebook"], spec["grade_id"])
    source, outputs = answers.get(key, ("", []))
    r = next((r for r in results.values() if (r["notebook"], r["grade_id"]) == key), {})
    return {
        "owner": info.owner,
        "submission": info.id,
        "notebook": spec["notebook"],
        "grade_id": spec["grade_id"],
        "kind": _kind(spec),
        "source": source,
        # A Markdown answer, rendered safely; code answers are shown as code.
        "source_html": render_markdown(source) if _is_markdown_answer(spec) else "",
        "outputs": outputs,
        "auto_score": r.get("auto_score"),
        "manual_score": r.get("manual_score"),
        "score": r.get("score"),
        "max_points": r.get("max_points", spec["points"]),
        "level": r.get("level"),
        "comment": r.get("comments", ""),
        "message": r.get("failure", ""),
        "grader": r.get("grader", ""),
        # The engine's item status: passed, failed, tampered, setup-failed (not scored)...
        "status": (r.get("flags") or {}).get("status", ""),
    }


def _spec(glab, grade_id, notebook):
    from ai4scale.grading.labformat import lab_items

    found = [
        s
        for s in lab_items(glab.sources)
        if s["grade_id"] == grade_id and notebook in (None, s["notebook"])
    ]
    if not found:
        raise NotFound(f"no item {grade_id!r} in lab {glab.id!r}")
    return found[0]


def item_answers(course, lab, grade_id, *, notebook=None):
    """Return one item and every collected owner's answer to it (``.../items/{id}/answers``)."""
    glab = _gradebook_lab(course, lab)
    spec = _spec(glab, check_grade_id(grade_id), notebook)
    gb = course.gradebook
    found, lab_cells = [], _lab_cells(glab)
    for info in gb.collected_submissions(lab):
        answers = _owner_answers(course, lab, info, lab_cells)
        found.append(_answer(info, spec, answers, gb.submission_results(info.id)))
    return {"item": _item_view(glab, spec, _prompts(glab), _titles(glab)), "answers": found}


def owner_submission(course, lab, owner):
    """Return one owner's collected submission, item by item (``.../submissions/{owner}``)."""
    from ai4scale.grading.labformat import lab_items

    from ._submissions import receipt

    glab = _gradebook_lab(course, lab)
    info = collected_of(course, lab, owner)
    gb = course.gradebook
    answers = _owner_answers(course, lab, info, _lab_cells(glab))
    results = gb.submission_results(info.id)
    prompts, titles = _prompts(glab), _titles(glab)
    items = []
    for spec in lab_items(glab.sources):
        entry = _answer(info, spec, answers, results)
        view = _item_view(glab, spec, prompts, titles)
        entry.update(
            rubric=view["rubric"],
            prompt=view["prompt"],
            prompt_html=view["prompt_html"],
            title=view["title"],
            task=view["task"],
        )
        items.append(entry)
    scored = [i["score"] for i in items if i["score"] is not None]
    _, flags, _, _ = gb.submission_state(info.id)
    return {
        "owner": owner,
        "submission": receipt(info),
        "status": info.status,
        "executor": flags.get("executor", ""),
        "setup_failed": flags.get("setup_failed") or {},
        "tampered": flags.get("tampered") or "",
        "review": flags.get("review") or {},
        "score": sum(scored) if scored else None,
        "max_score": float(glab.lab.points),
        "items": items,
    }
