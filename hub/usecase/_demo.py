"""The demo course's finished use case: what a team leaves with, shown before it starts.

``ai4scale up`` (with the demo course) registers one use case for the demo
team ``fraud-audit``, built from our synthetic childcare-allowance scenario
(:mod:`ai4scale.datasets.synthetic.toeslagen`, no real person in it), and
takes it through every step a team takes: the table uploaded as a ``;`` CSV
with decimal commas, the personal data caught (a citizen-service-number
column pseudonymised, an e-mail column removed), the roles declared, the
assessment run (the existing system's risk flag as the decisions), two
questions of the impact assessment answered citing its results, a trainer's
comment, and the dossier exported into the use case's folder.

Run again, it finds the use case and leaves it as it is.
"""

from __future__ import annotations

import hashlib
import json
import random
import tempfile
from pathlib import Path

__all__ = ["DEMO_TEAM", "DEMO_USECASE", "ensure_demo_usecase", "seed_demo_usecase"]

DEMO_TEAM = "fraud-audit"
DEMO_USECASE = "childcare-allowance-risk-flags"
DEMO_ROWS = 4000
DEMO_SEED = 20240611

FIELDS = {
    "id": DEMO_USECASE,
    "title": "Risk flags on childcare-allowance applications (demo)",
    "administration": "Benefits office of a fictional municipality (demo data, no real person)",
    "decision": (
        "Which applications for childcare allowance are sent for a full fraud check "
        "before the allowance is paid."
    ),
    "affected": (
        "Parents who apply for childcare allowance, and their children; a flag delays "
        "payment and can lead to claims for repayment."
    ),
    "legal_basis": "General Act on Income-Related Schemes, art. 13 (example text for the demo)",
    "ai_act_area": "5a",
}

ROLES = {
    "application_id": "identifier",
    "dual_nationality": {"role": "protected", "kind": "nationality"},
    "parent_country_of_birth": {"role": "protected", "kind": "ethnicity_proxy"},
    "household_income": "legitimate",
    "n_children": "legitimate",
    "irregularity": "target",
    "flagged": "score",
}


def _bsn(rng):
    """Return a number that passes the Dutch citizen-service-number 11-test."""
    while True:
        digits = [rng.randrange(10) for _ in range(8)]
        total = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True))
        last = total % 11
        if last < 10 and digits[0] != 0:
            return "".join(map(str, digits)) + str(last)


def demo_table(*, n_rows=DEMO_ROWS, seed=DEMO_SEED):
    """Return the demo table: the synthetic applications with two personal-data columns."""
    from ai4scale.datasets.synthetic import toeslagen

    df, _ = toeslagen.generate(seed=seed, n_rows=n_rows)
    rng = random.Random(seed)
    df.insert(1, "bsn", [_bsn(rng) for _ in range(len(df))])
    df.insert(2, "email", [f"parent{i}@example.nl" for i in range(len(df))])
    return df


def _figure_ids(payload, step):
    return [
        item["id"]
        for item in payload.get("items", [])
        if item.get("step") == step and item.get("kind") == "figure"
    ]


def seed_demo_usecase(course, *, instructor="ines", member="anna"):
    """Take the demo use case through every step; return a one-line summary.

    Parameters
    ----------
    course : Course
        The course service's course (its gradebook and state folder).
    instructor, member : str
        The demo trainer and a member of :data:`DEMO_TEAM`.

    Returns
    -------
    str
    """
    import pandas as pd
    from ai4scale.hub.course._errors import NotFound
    from ai4scale.hub.course._people import Person

    from ai4scale import assess

    from ._store import UseCaseStore

    trainer = Person(instructor, frozenset({"instructors"}))
    anna = Person(member, frozenset({"learners", f"team-{DEMO_TEAM}"}))
    store = UseCaseStore(course)
    try:
        store.get(trainer, DEMO_USECASE)
        return f"demo use case: present ({DEMO_USECASE})"
    except NotFound:
        pass
    store.create(anna, {**FIELDS, "team": DEMO_TEAM})
    with tempfile.TemporaryDirectory(prefix="ai4scale-demo-") as tmp:
        csv = Path(tmp) / "applications.csv"
        demo_table().to_csv(csv, sep=";", decimal=",", index=False, encoding="utf-8-sig")
        got = store.receive_dataset(anna, DEMO_USECASE, "applications", csv, csv.name)
    detected = got["state"]["detected"]
    store.confirm_format(
        anna,
        DEMO_USECASE,
        "applications",
        {k: detected[k] for k in ("encoding", "separator", "decimal")},
    )
    state = store.set_roles(anna, DEMO_USECASE, "applications", ROLES)["state"]
    for finding in state.get("findings") or []:
        if finding.get("resolution"):
            continue
        column = finding["column"]
        if column == "bsn":
            action, reason = "pseudonymise", None
        elif column == "email":
            action, reason = "drop", None
        else:
            action = "confirm"
            reason = (
                "Demo: synthetic applications, no real person; in a real case the team "
                "would coarsen or drop these columns."
            )
        store.resolve(anna, DEMO_USECASE, "applications", column, action, reason)
    table = store.table_path(anna, DEMO_USECASE, "applications")
    df = pd.read_parquet(table)
    roles = {c: r for c, r in ROLES.items() if c in df.columns}
    results = assess.run_all(df, roles=roles)
    payload = assess.to_payload(results)
    nb = assess.notebook(DEMO_USECASE, "applications")
    sha = hashlib.sha256(json.dumps(nb, sort_keys=True).encode()).hexdigest()
    store.save_results(anna, DEMO_USECASE, payload, sha)
    bias = _figure_ids(payload, "disparities")[:1] or _figure_ids(payload, "performance")[:1]
    store.answer(
        anna,
        DEMO_USECASE,
        "what.bias",
        "Applications of parents with dual nationality are flagged about three times as "
        "often as others, while irregularities are equally common in both groups: the "
        "flag treats them unequally. See the figure.",
        bias,
    )
    store.answer(
        anna,
        DEMO_USECASE,
        "rights.affected",
        "Parents applying for childcare allowance, their children, and in particular "
        "parents with a second nationality or born abroad.",
    )
    store.comment(
        trainer,
        DEMO_USECASE,
        "what.bias",
        "Good: now say what the office will change before the flag is used again.",
    )
    html, _zip = store.export(DEMO_USECASE, course.path("usecases", DEMO_USECASE, "dossier"))
    return f"demo use case: {DEMO_USECASE} with its dossier ({html})"


def ensure_demo_usecase(settings):
    """Install step: seed the demo use case when the demo course is installed."""
    from ai4scale.hub.installer import demo_passwords_file

    if not settings["course"]["enabled"]:
        return "demo use case: skipped (the course service is off)"
    if not demo_passwords_file(settings).exists():
        return "demo use case: skipped (not the demo course)"
    from ai4scale.hub.course import Course

    course = Course.from_settings(settings)
    try:
        return seed_demo_usecase(course)
    finally:
        course.close()
