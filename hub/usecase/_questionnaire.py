"""The impact-assessment questionnaire of a use case: load, check, and check answers.

The instrument is ``fria.yaml`` next to this module: the elements of the
fundamental-rights impact assessment of AI Act Art. 27(1)(a)-(f) and the four
parts of the Dutch IAMA (why, what, how, fundamental rights). Answers cite
assessment results by id (``"<step>.<name>"``, see ``ai4scale.assess.to_payload``).
"""

import functools
import re
from pathlib import Path

import yaml

INSTRUMENT_PATH = Path(__file__).with_name("fria.yaml")

#: Phases every instrument must have, in order (the four parts of the IAMA).
PHASES = ("why", "what", "how", "rights")
#: Art. 27(1) elements every instrument must cover.
FRIA_ELEMENTS = tuple(f"AI Act Art. 27(1)({c})" for c in "abcdef")
#: The longest answer kept (characters); a dossier is read, not scrolled.
MAX_ANSWER_CHARS = 20_000
#: The most results one answer may cite.
MAX_CITES = 20

_QID = re.compile(r"^[a-z]+(\.[a-z0-9_]+)+$")
_REF = re.compile(r"^(AI Act Art\. \d+(\(\d+\)(\([a-z]\))?)?|IAMA part [1-4])$")


class InstrumentError(ValueError):
    """The questionnaire file is not a valid instrument."""


class AnswerError(ValueError):
    """An answer cannot be kept; the message says why in plain words."""


def _problems(doc):
    """Every problem of the instrument ``doc`` (a parsed ``fria.yaml``), as text."""
    if not isinstance(doc, dict):
        return ["the instrument is not a mapping"]
    problems = []
    phases = doc.get("phases")
    if not isinstance(phases, list) or not all(isinstance(p, dict) for p in phases):
        return ["'phases' must be a list of mappings"]
    phase_ids = [p.get("id") for p in phases]
    if tuple(phase_ids) != PHASES:
        problems.append(f"phases must be {list(PHASES)} in this order, not {phase_ids}")
    for p in phases:
        if not str(p.get("title") or "").strip():
            problems.append(f"phase {p.get('id')!r} has no title")
    steps = doc.get("evidence_steps") or []
    if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
        problems.append("'evidence_steps' must be a list of step names")
        steps = []
    questions = doc.get("questions")
    if not isinstance(questions, list) or not questions:
        return [*problems, "'questions' must be a non-empty list"]
    seen = set()
    refs = set()
    for i, q in enumerate(questions):
        if not isinstance(q, dict):
            problems.append(f"question {i} is not a mapping")
            continue
        qid = q.get("id")
        where = f"question {qid!r}" if qid else f"question {i}"
        unknown = set(q) - {"id", "phase", "text", "guidance", "references", "evidence"}
        if unknown:
            problems.append(f"{where}: unknown keys {sorted(unknown)}")
        if not isinstance(qid, str) or not _QID.match(qid):
            problems.append(f"{where}: id must look like 'phase.topic'")
        elif qid in seen:
            problems.append(f"{where}: id used twice")
        seen.add(qid)
        if q.get("phase") not in PHASES:
            problems.append(f"{where}: unknown phase {q.get('phase')!r}")
        elif isinstance(qid, str) and not qid.startswith(q["phase"] + "."):
            problems.append(f"{where}: id must start with its phase {q['phase']!r}")
        for key in ("text", "guidance"):
            if not isinstance(q.get(key), str) or len(q[key].strip()) < 10:
                problems.append(f"{where}: {key} missing or too short")
        qrefs = q.get("references")
        if not isinstance(qrefs, list) or not qrefs:
            problems.append(f"{where}: no references")
        else:
            for ref in qrefs:
                if not isinstance(ref, str) or not _REF.match(ref):
                    problems.append(f"{where}: reference {ref!r} not in a known form")
                refs.add(ref)
        evidence = q.get("evidence", [])
        if not isinstance(evidence, list) or any(e not in steps for e in evidence):
            problems.append(f"{where}: evidence must name steps among {steps}")
    for element in FRIA_ELEMENTS:
        if element not in refs:
            problems.append(f"no question covers {element}")
    used_phases = {q.get("phase") for q in questions if isinstance(q, dict)}
    for phase in PHASES:
        if phase not in used_phases:
            problems.append(f"phase {phase!r} has no question")
    return problems


def validate(doc):
    """Check an instrument; raise `InstrumentError` listing every problem.

    Parameters
    ----------
    doc : dict
        The parsed instrument (the content of ``fria.yaml``).

    Returns
    -------
    dict
        ``doc`` itself, once it passed.
    """
    problems = _problems(doc)
    if problems:
        raise InstrumentError("the questionnaire is not valid: " + "; ".join(problems))
    return doc


def load_instrument(path=None):
    """Read and check an instrument file (``fria.yaml`` by default).

    Parameters
    ----------
    path : str or Path, optional
        Another instrument file, for tests.

    Returns
    -------
    dict
        The instrument: ``instrument``, ``version``, ``title``, ``sources``,
        ``phases``, ``evidence_steps``, ``questions``.
    """
    if path is None:
        return _default_instrument()
    with open(path, encoding="utf-8") as f:
        return validate(yaml.safe_load(f))


@functools.cache
def _default_instrument():
    with open(INSTRUMENT_PATH, encoding="utf-8") as f:
        return validate(yaml.safe_load(f))


def questions():
    """Return the questions of the instrument, in order (fresh copies).

    Returns
    -------
    list of dict
        Each with ``id``, ``phase``, ``text``, ``guidance``, ``references`` and
        ``evidence`` (the assessment steps whose results usually serve as evidence).
    """
    return [
        {**q, "references": list(q["references"]), "evidence": list(q.get("evidence", []))}
        for q in _default_instrument()["questions"]
    ]


def question(qid):
    """Return the question ``qid``; raise `AnswerError` if there is none."""
    for q in questions():
        if q["id"] == qid:
            return q
    raise AnswerError(f"there is no question {qid!r} in the questionnaire")


def check_answer(qid, text, cites, available_result_ids):
    """Check one answer before it is kept, and return it cleaned.

    Parameters
    ----------
    qid : str
        The question's id.
    text : str
        The answer, in the team's words (leading and trailing blanks removed).
    cites : list of str
        Ids of assessment results the answer cites (``"<step>.<name>"``).
    available_result_ids : iterable of str
        The ids of the results saved for this use case.

    Returns
    -------
    dict
        ``{"question": qid, "text": text, "cites": cites}`` with duplicate
        citations removed (first kept).

    Raises
    ------
    AnswerError
        Unknown question, empty or too long text, or a citation of a result that
        does not exist.
    """
    question(qid)
    if not isinstance(text, str):
        raise AnswerError("the answer must be text")
    text = text.strip()
    if not text:
        raise AnswerError("the answer is empty: write at least one sentence")
    if len(text) > MAX_ANSWER_CHARS:
        raise AnswerError(
            f"the answer is {len(text):,} characters long; keep it under "
            f"{MAX_ANSWER_CHARS:,} and put details in an attachment to the dossier"
        )
    if cites is None:
        cites = []
    if not isinstance(cites, (list, tuple)) or not all(isinstance(c, str) for c in cites):
        raise AnswerError("citations must be a list of result ids")
    cites = list(dict.fromkeys(cites))
    if len(cites) > MAX_CITES:
        raise AnswerError(f"an answer may cite at most {MAX_CITES} results")
    available = set(available_result_ids or ())
    missing = [c for c in cites if c not in available]
    if missing:
        if not available:
            raise AnswerError(
                f"the answer cites {', '.join(missing)}, but this use case has no "
                "saved assessment results yet: run the assessment notebook first"
            )
        raise AnswerError(
            f"the answer cites {', '.join(missing)}, which "
            f"{'does' if len(missing) == 1 else 'do'} not exist among this use case's "
            "results; pick a figure or table from the saved results"
        )
    return {"question": qid, "text": text, "cites": cites}
