"""The use-case dossier: the questionnaire instrument, answer checks, and the export.

The export is made from a hand-built snapshot of a realistic use case (the
snapshot dict the store will return), with real PNG figures drawn by
matplotlib. Files are read back and checked as their readers would: the HTML
as text, YAML and JSON parsed, the model card against lab 08's schema, and
every file scanned for identifiers.
"""

import base64
import copy
import datetime
import io
import json
import re
import zipfile
from pathlib import Path

import jsonschema
import matplotlib
import pytest
import yaml

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from ai4scale.hub.usecase import _dossier, _modelcard, _questionnaire  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LAB08_SCHEMA = ROOT / "labs" / "08-procurement-capstone" / "model-card.schema.json"
NOW = datetime.datetime(2026, 12, 7, 9, 30, tzinfo=datetime.UTC)
BSN = "111222333"  # passes the BSN checksum (11-proof)
EMAIL = "j.jansen@example.nl"


# -- the questionnaire -------------------------------------------------------------------


def test_instrument_has_every_fria_element_and_iama_part():
    qs = _questionnaire.questions()
    ids = [q["id"] for q in qs]
    assert len(ids) == len(set(ids))
    refs = {r for q in qs for r in q["references"]}
    for letter in "abcdef":
        assert f"AI Act Art. 27(1)({letter})" in refs
    assert [p["id"] for p in _questionnaire.load_instrument()["phases"]] == [
        "why",
        "what",
        "how",
        "rights",
    ]
    assert {q["phase"] for q in qs} == {"why", "what", "how", "rights"}
    for part in "1234":
        assert f"IAMA part {part}" in refs
    steps = set(_questionnaire.load_instrument()["evidence_steps"])
    for q in qs:
        assert len(q["text"]) > 20 and len(q["guidance"]) > 40, q["id"]
        assert q["references"], q["id"]
        assert set(q["evidence"]) <= steps, q["id"]
    # the questions that need numbers suggest them
    by_id = {q["id"]: q for q in qs}
    assert "disparities" in by_id["rights.risks"]["evidence"]
    assert "performance" in by_id["what.accuracy"]["evidence"]


def test_instrument_check_names_every_problem(tmp_path):
    doc = yaml.safe_load((ROOT / "hub" / "usecase" / "fria.yaml").read_text(encoding="utf-8"))
    bad = copy.deepcopy(doc)
    bad["questions"].append(dict(bad["questions"][0]))  # the same id twice
    bad["questions"][1]["phase"] = "later"
    bad["questions"] = [
        q for q in bad["questions"] if "AI Act Art. 27(1)(f)" not in q["references"]
    ]
    bad["questions"][2]["references"] = ["AI Act Article twenty-seven"]
    path = tmp_path / "fria.yaml"
    path.write_text(yaml.safe_dump(bad), encoding="utf-8")
    with pytest.raises(_questionnaire.InstrumentError) as err:
        _questionnaire.load_instrument(path)
    message = str(err.value)
    assert "id used twice" in message
    assert "unknown phase 'later'" in message
    assert "no question covers AI Act Art. 27(1)(f)" in message
    assert "'AI Act Article twenty-seven' not in a known form" in message
    # the shipped file passes the same check
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert _questionnaire.load_instrument(path)["questions"]


def test_check_answer():
    ids = ["performance.by_group", "disparities.selection_rates"]
    ok = _questionnaire.check_answer(
        "rights.risks", "  Women are selected more often.\n", [ids[1], ids[1]], ids
    )
    assert ok == {
        "question": "rights.risks",
        "text": "Women are selected more often.",
        "cites": ["disparities.selection_rates"],
    }
    with pytest.raises(_questionnaire.AnswerError, match="no question 'rights.nope'"):
        _questionnaire.check_answer("rights.nope", "text", [], ids)
    with pytest.raises(
        _questionnaire.AnswerError, match=r"cites stability\.by_period, which does not exist"
    ):
        _questionnaire.check_answer("how.period", "Daily.", ["stability.by_period"], ids)
    with pytest.raises(_questionnaire.AnswerError, match="no saved assessment results yet"):
        _questionnaire.check_answer("how.period", "Daily.", ["stability.by_period"], [])
    with pytest.raises(_questionnaire.AnswerError, match="empty"):
        _questionnaire.check_answer("how.period", "   ", [], ids)
    with pytest.raises(_questionnaire.AnswerError, match="characters long"):
        _questionnaire.check_answer("how.period", "x" * 20_001, [], ids)


# -- a realistic snapshot ----------------------------------------------------------------


def _png(draw):
    fig, ax = plt.subplots(figsize=(5, 2.5))
    draw(ax)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


BY_GROUP = [
    # attribute, group, n, accuracy, selection, fpr, tpr
    ("sex", "F", 2410, 0.81, 0.22, 0.16, 0.71),
    ("sex", "M", 2590, 0.84, 0.14, 0.09, 0.66),
    ("nationality_group", "NL", 4120, 0.84, 0.15, 0.10, 0.68),
    ("nationality_group", "EU", 690, 0.80, 0.24, 0.18, 0.70),
    ("nationality_group", "other", 190, 0.74, 0.31, 0.25, 0.72),
]


def _payload():
    perf = [
        {
            "attribute": a,
            "group": g,
            "n": n,
            "accuracy": acc,
            "selection_rate": sel,
            "false_positive_rate": fpr,
            "true_positive_rate": tpr,
            "accuracy_ci_low": acc - 0.03,
            "accuracy_ci_high": acc + 0.03,
        }
        for a, g, n, acc, sel, fpr, tpr in BY_GROUP
    ]
    return {
        "steps": {
            "profile": {"notes": []},
            "performance": {
                "notes": [
                    "The group 'other' (nationality_group) has only 190 people: its figures "
                    "are uncertain."
                ]
            },
            "disparities": {
                "notes": [
                    "Women are selected for a check 1.6 times as often as men, and wrongly "
                    "selected almost twice as often."
                ]
            },
        },
        "tables": {
            "profile.columns": {
                "columns": ["column", "role", "missing_share"],
                "records": [
                    {"column": "household_size", "role": "feature", "missing_share": 0.0},
                    {"column": "income_band", "role": "legitimate", "missing_share": 0.012},
                    {"column": "months_on_benefit", "role": "feature", "missing_share": 0.0},
                    {"column": "sex", "role": "protected", "missing_share": 0.0},
                    {"column": "nationality_group", "role": "protected", "missing_share": 0.03},
                ],
            },
            "performance.by_group": {"columns": list(perf[0]), "records": perf},
            "performance.overall": {
                "columns": ["n", "accuracy"],
                "records": [{"n": 5000, "accuracy": 0.826}],
            },
            "disparities.summary": [
                {
                    "attribute": "sex",
                    "measure": "selection_rate",
                    "difference": 0.08,
                    "ratio": 0.64,
                },
                {
                    "attribute": "sex",
                    "measure": "false_positive_rate",
                    "difference": 0.07,
                    "ratio": 0.5625,
                },
            ],
        },
        "figures": {
            "performance.by_group_plot": _png(
                lambda ax: ax.barh([f"{a}={g}" for a, g, *_ in BY_GROUP], [r[3] for r in BY_GROUP])
            ),
            "disparities.selection_rates": _png(
                lambda ax: ax.bar([g for _, g, *_ in BY_GROUP], [r[4] for r in BY_GROUP])
            ),
        },
        "captions": {
            "disparities.selection_rates": "Share of applications selected for a check, by group",
        },
    }


FINDINGS = [
    {
        "column": "client_ref",
        "kind": "national_id:nl",
        "count": 5000,
        "share": 1.0,
        "examples": ["1112*****"],
        "blocking": True,
        "resolution": {"action": "pseudonymise", "by": "anna", "at": "2026-12-01T10:02:00+00:00"},
    },
    {
        "column": "contact_email",
        "kind": "email",
        "count": 4870,
        "share": 0.974,
        "examples": ["j***@e***.nl"],
        "blocking": True,
        "resolution": {"action": "drop", "by": "anna", "at": "2026-12-01T10:03:00+00:00"},
    },
    {
        "column": "postcode",
        "kind": "quasi_identifiers",
        "count": 212,
        "share": 0.042,
        "examples": [],
        "blocking": True,
        "resolution": {
            "action": "confirm",
            "reason": "Coarsened to the first two digits; the region is needed to compare "
            "district offices.",
            "by": "bram",
            "at": "2026-12-01T10:05:00+00:00",
        },
    },
]


def _snapshot():
    return {
        "id": "bijstand-check",
        "team": "t1",
        "version": 3,
        "fields": {
            "title": "Which special-assistance applications get a check by hand",
            "administration": "Municipality of Voorbeeldstad (fictional), social services",
            "decision": "Select applications for special assistance that a case worker checks "
            "by hand before payment",
            "affected": "Residents who apply for special assistance, and their households",
            "legal_basis": "Participation Act (Participatiewet), as applied by the municipality",
            "ai_act_area": "5a",
            "not_high_risk_reason": None,
            "author": "anna",
            "time": datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.UTC),
        },
        "datasets": [
            {
                "name": "applications-2025",
                "sha256": "5f" * 32,
                "format": {"format": "csv", "encoding": "latin-1", "separator": ";"},
                "roles": {
                    "client_ref": {"role": "identifier"},
                    "checked_irregular": "target",
                    "risk_flag": "score",
                    "household_size": "feature",
                    "months_on_benefit": "feature",
                    "income_band": "legitimate",
                    "sex": {"role": "protected", "kind": "sex"},
                    "nationality_group": {"role": "protected", "kind": "nationality"},
                    "application_date": "date",
                },
                "findings": copy.deepcopy(FINDINGS),
                "datasheet": {
                    "title": "Applications for special assistance, 2025",
                    "shape": {"rows": 5000, "columns": 9},
                    "datasheet": {
                        "motivation": "Kept to decide on and pay special assistance.",
                        "composition": "One row per application in 2025.",
                        "collection": "All applications received in 2025 by the social "
                        "services, exported from the case system.",
                    },
                    "missingness": [
                        {"column": "income_band", "missing_share": 0.012},
                        {"column": "nationality_group", "missing_share": 0.03},
                    ],
                    "base_rates": [
                        {"group": "sex=F", "n": 2410, "rate": 0.118},
                        {"group": "sex=M", "n": 2590, "rate": 0.101},
                    ],
                    "small_groups": [{"group": "nationality_group=other", "n": 190}],
                    "personal_data": {"findings": copy.deepcopy(FINDINGS)},
                },
            }
        ],
        "models": [
            {
                "name": "risk-flag",
                "kind": "scores",
                "column": "risk_flag",
                "sha256": None,
                "untrusted_types": [],
                "approved_by": None,
            }
        ],
        "results": {
            "notebook_sha256": "ab" * 32,
            "created_at": "2026-12-02T14:00:00+00:00",
            "author": "team-t1",
            "payload": _payload(),
        },
        "answers": {
            "rights.risks": [
                {
                    "text": "Women may be checked more often.",
                    "cites": [],
                    "author": "anna",
                    "created_at": "2026-12-03T09:00:00+00:00",
                },
                {
                    "text": "Women are selected for a check more often than men, and more of "
                    "them wrongly: a delay in payment for households that need it.",
                    "cites": ["disparities.selection_rates", "performance.by_group"],
                    "author": "bram",
                    "created_at": "2026-12-03T11:00:00+00:00",
                },
            ],
            "how.period": [
                {
                    "text": "Every working day, on all new applications, for a trial year.",
                    "cites": [],
                    "author": "anna",
                    "created_at": "2026-12-03T09:30:00+00:00",
                }
            ],
        },
        "comments": {
            "rights.risks": [
                {
                    "text": "Good. Also say how long a check delays payment.",
                    "author": "teacher",
                    "created_at": "2026-12-04T08:00:00+00:00",
                }
            ]
        },
    }


def _identifier_findings(text):
    """Every identifier the intake's scan finds, plus plain e-mail and BSN patterns."""
    found = []
    try:
        from ai4scale.hub.usecase._scan import scan_text
    except ImportError:  # the intake's detectors have not landed yet
        scan_text = None
    if scan_text is not None:
        found += [dict(f) for f in scan_text(text)]
    found += [
        {"kind": "email", "at": m.start()} for m in re.finditer(r"[\w.+-]+@[\w-]+\.\w+", text)
    ]
    found += [{"kind": "bsn", "at": m.start()} for m in re.finditer(BSN, text)]
    return found


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    dest = tmp_path_factory.mktemp("dossier")
    snapshot = _snapshot()
    html_path, zip_path = _dossier.export_dossier(snapshot, dest, now=NOW)
    with zipfile.ZipFile(zip_path) as zf:
        files = {i.filename: zf.read(i) for i in zf.infolist()}
        infos = zf.infolist()
    return {
        "snapshot": snapshot,
        "html": html_path.read_text(encoding="utf-8"),
        "html_path": html_path,
        "zip_path": zip_path,
        "files": files,
        "infos": infos,
        "dest": dest,
    }


def _question_block(html, qid):
    start = html.index(f'<div class="question" id="q-{qid}">')
    end = html.find('<div class="question"', start + 1)
    return html[start : end if end > 0 else len(html)]


def test_report_has_every_section_and_nothing_external(export):
    html = export["html"]
    for section in ("usecase", "data", "model", "results", "questionnaire", "provenance"):
        assert f'<section id="{section}">' in html
    for text in (
        "Municipality of Voorbeeldstad (fictional), social services",
        "AI Act Annex III, point 5a (Access to essential private services and essential "
        "public services and benefits): Public assistance benefits and services: eligibility",
        "Personal data found, and how each finding was resolved",
        "pseudonymise",
        "Coarsened to the first two digits",
        "Women are selected for a check 1.6 times",
        "Instructor comment</strong> by teacher",
        "Answer version 2 of 2, by bram",
        "5f" * 32,
        "ab" * 32,
        "@media print",
    ):
        assert text in html, text
    # self-contained: no external URL, no script; every image is inline
    assert not re.search(r"https?://", html)
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    for src in re.findall(r'src="([^"]*)"', html):
        assert src.startswith("data:image/png;base64,"), src[:40]
    for href in re.findall(r'href="([^"]*)"', html):
        assert href.startswith("#"), href
    # the masked examples of the findings never leave the service
    assert "1112*****" not in html and "j***@" not in html


def test_cited_figure_and_table_shown_beside_the_answer(export):
    html = export["html"]
    payload = export["snapshot"]["results"]["payload"]
    block = _question_block(html, "rights.risks")
    assert "Women are selected for a check more often than men" in block
    cited = payload["figures"]["disparities.selection_rates"]
    assert f"data:image/png;base64,{cited}" in block
    assert "Share of applications selected for a check, by group" in block
    assert "Table <code>performance.by_group</code>" in block
    # a figure nobody cited stays in the results section only
    other = payload["figures"]["performance.by_group_plot"]
    assert other not in block and other in html
    assert "Not answered yet." in _question_block(html, "why.goal")


def test_zip_has_every_file_and_they_parse(export):
    files = export["files"]
    root = "bijstand-check-dossier/"
    names = sorted(files)
    assert names == [
        root + n
        for n in sorted(
            [
                "answers.yaml",
                "datasheets/applications-2025.html",
                "datasheets/applications-2025.yaml",
                "figures/disparities.selection_rates.png",
                "figures/performance.by_group_plot.png",
                "model-cards/risk-flag.json",
                "model-cards/risk-flag.schema.json",
                "provenance.json",
                "report.html",
                "results.json",
            ]
        )
    ]
    assert [i.filename for i in export["infos"]] == names  # written in sorted order
    assert {i.date_time for i in export["infos"]} == {(1980, 1, 1, 0, 0, 0)}
    payload = export["snapshot"]["results"]["payload"]
    for fid, b64 in payload["figures"].items():
        assert files[f"{root}figures/{fid}.png"] == base64.b64decode(b64)

    results = json.loads(files[root + "results.json"])
    assert results["notebook_sha256"] == "ab" * 32
    assert results["tables"]["performance.by_group"]["records"][0]["group"] == "F"
    assert results["figures"]["disparities.selection_rates"] == (
        "figures/disparities.selection_rates.png"
    )

    sheet = yaml.safe_load(files[root + "datasheets/applications-2025.yaml"])
    assert sheet["sha256"] == "5f" * 32
    assert [f["resolution"]["action"] for f in sheet["personal_data_findings"]] == [
        "pseudonymise",
        "drop",
        "confirm",
    ]
    assert "examples" not in json.dumps(sheet)
    assert "Applications for special assistance, 2025" in files[
        root + "datasheets/applications-2025.html"
    ].decode("utf-8")

    answers = yaml.safe_load(files[root + "answers.yaml"])
    by_id = {q["id"]: q for q in answers["questions"]}
    assert set(by_id) == {q["id"] for q in _questionnaire.questions()}
    risks = by_id["rights.risks"]
    assert [(v["version"], v["author"]) for v in risks["versions"]] == [(1, "anna"), (2, "bram")]
    assert risks["versions"][1]["cites"] == ["disparities.selection_rates", "performance.by_group"]
    assert risks["versions"][1]["created_at"] == "2026-12-03T11:00:00+00:00"
    assert risks["comments"][0]["author"] == "teacher"

    prov = json.loads(files[root + "provenance.json"])
    assert {(i["kind"], i["sha256"]) for i in prov["inputs"]} == {
        ("dataset", "5f" * 32),
        ("notebook", "ab" * 32),
    }
    assert prov["times"]["exported_at"] == "2026-12-07T09:30:00+00:00"
    assert prov["packages"]["matplotlib"] == matplotlib.__version__
    import hashlib

    for name, digest in prov["files"].items():
        assert hashlib.sha256(files[root + name]).hexdigest() == digest, name
    assert set(prov["files"]) == {n[len(root) :] for n in names} - {"provenance.json"}
    # the report in the zip is the report beside it
    assert files[root + "report.html"].decode("utf-8") == export["html"]


def _lab08_schema_for(groups, protected_column):
    """Lab 08's own schema file, with its two lab-specific pieces set to this use case."""
    schema = json.loads(LAB08_SCHEMA.read_text(encoding="utf-8"))
    factor_groups = schema["properties"]["factors"]["properties"]["groups"]
    assert factor_groups["contains"] == {"const": "dual_nationality"}
    factor_groups["contains"] = {"const": protected_column}
    qa = schema["properties"]["quantitative_analyses"]["properties"]
    for rate in ("selection_rate", "false_positive_rate", "true_positive_rate"):
        assert qa[rate]["required"] == ["dual", "not_dual"]
        rate_schema = qa[rate]["properties"]["dual"]
        qa[rate]["required"] = list(groups)
        qa[rate]["properties"] = {g: rate_schema for g in groups}
    return schema


def test_model_card_follows_lab08_schema(export):
    root = "bijstand-check-dossier/"
    card = json.loads(export["files"][root + "model-cards/risk-flag.json"])
    groups = list(card["quantitative_analyses"]["selection_rate"])
    assert groups == ["sex=F", "sex=M", "nationality_group=NL", "nationality_group=EU"] + [
        "nationality_group=other"
    ]
    lab = _lab08_schema_for(groups, "sex")
    jsonschema.Draft202012Validator.check_schema(lab)
    jsonschema.validate(card, lab, cls=jsonschema.Draft202012Validator)
    # our schema is lab 08's, plus: every protected column is among the factors
    ours = json.loads(export["files"][root + "model-cards/risk-flag.schema.json"])
    extra = ours["properties"]["factors"]["properties"]["groups"].pop("allOf")
    assert extra == [{"contains": {"const": "nationality_group"}}]
    assert ours == lab
    jsonschema.validate(card, _modelcard.card_schema(groups, ["sex", "nationality_group"]))
    qa = card["quantitative_analyses"]
    assert qa["n"] == 5000 and qa["accuracy"] == pytest.approx(0.826)
    assert qa["selection_rate"]["sex=F"] == pytest.approx(0.22)
    # the worst ratio over both attributes: nationality (sex: 0.14 / 0.22, 0.09 / 0.16)
    assert qa["selection_rate_ratio"] == pytest.approx(0.15 / 0.31)
    assert qa["false_positive_rate_ratio"] == pytest.approx(0.10 / 0.25)
    assert card["model_details"]["inputs"] == ["risk_flag"]
    assert card["factors"]["groups"][:2] == ["sex", "nationality_group"]
    # with one protected column, the card has lab 08's plain group keys
    single = _snapshot()
    single["datasets"][0]["roles"]["nationality_group"] = "excluded"
    tables = _dossier.normalise_results(single["results"]["payload"])["tables"]
    card1, schema1 = _modelcard.model_card(single, single["models"][0], tables, {})
    assert list(card1["quantitative_analyses"]["selection_rate"]) == ["F", "M"]
    assert schema1 == _lab08_schema_for(["F", "M"], "sex")
    jsonschema.validate(card1, schema1)


def test_no_identifier_in_any_file(export):
    for name, data in sorted(export["files"].items()):
        text = _dossier.file_text(name, data)
        assert _identifier_findings(text) == [], name
    assert _identifier_findings(export["html"]) == []


def test_export_is_byte_identical_for_the_same_snapshot(export, tmp_path):
    _, zip_path = _dossier.export_dossier(_snapshot(), tmp_path, now=NOW)
    assert zip_path.read_bytes() == export["zip_path"].read_bytes()


# -- refusals ----------------------------------------------------------------------------


def _row_level_snapshot(n_rows):
    snap = _snapshot()
    snap["results"]["payload"]["tables"]["performance.cases"] = {
        "columns": ["case", "contact", "prediction"],
        "records": [{"case": BSN, "contact": EMAIL, "prediction": i % 2} for i in range(n_rows)],
    }
    return snap


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda s: s.update(_row_level_snapshot(600)),
            r"results table performance\.cases has 600 rows; a dossier holds only summaries",
        ),
        (
            lambda s: s.update(_row_level_snapshot(12)),
            r"looks like personal data, in .*results\.json \(.*email.*\)",
        ),
        (
            lambda s: s["results"]["payload"]["tables"].update(
                {"disparities.people": [{"E-mail": EMAIL, "selected": 1}]}
            ),
            r"results table disparities\.people has a column 'E-mail' that looks like an "
            "identifier",
        ),
        (
            lambda s: s["results"]["payload"]["tables"].update(
                {"profile.sample": [{"client_ref": "x7", "sex": "F"}]}
            ),
            r"results table profile\.sample has a column 'client_ref' that looks like an "
            "identifier",
        ),
        (
            lambda s: (
                s["datasets"][0]["roles"].update({"dossier_code": "identifier"})
                or s["results"]["payload"]["tables"].update(
                    {"profile.codes": [{"dossier_code": "A-1", "n": 3}]}
                )
            ),
            r"column 'dossier_code' that looks like an identifier",
        ),
        (
            lambda s: s["answers"]["how.period"].append(
                {"text": f"Ask {EMAIL} or see client {BSN}.", "cites": [], "author": "anna"}
            ),
            r"looks like personal data, in .*answers\.yaml \(.*email.*\).*Nothing was exported",
        ),
        (
            lambda s: s["comments"]["rights.risks"].append(
                {"text": f"Case {BSN} shows it.", "author": "teacher"}
            ),
            r"looks like personal data, in answers\.yaml .*report\.html .*Nothing was exported",
        ),
    ],
    ids=[
        "row-level",
        "few-rows-with-identifiers",
        "email-column",
        "identifier-name",
        "declared-identifier",
        "answer",
        "comment",
    ],
)
def test_row_level_data_or_identifiers_refused(tmp_path, change, message):
    snap = _snapshot()
    change(snap)
    dest = tmp_path / "out"
    with pytest.raises(_dossier.DossierError, match=message):
        _dossier.export_dossier(snap, dest)
    assert not dest.exists() or list(dest.iterdir()) == []


def test_fallback_scan_catches_bsn_not_lookalikes():
    assert _dossier._fallback_scan(f"client {BSN} wrote")
    assert not _dossier._fallback_scan("client 111222334 wrote")  # checksum fails
    assert not _dossier._fallback_scan("rate 0.111222333 and " + "a111222333f" * 3)


def test_export_reads_the_assessment_library_payload(tmp_path):
    """The payload as ai4scale.assess.to_payload writes it (format 1, items by id)."""
    import pandas as pd
    from ai4scale.assess import StepResult
    from ai4scale.assess._payload import to_payload

    metrics = pd.DataFrame(
        [
            {
                "attribute": "(all rows)",
                "group": "(all rows)",
                "count": 5000,
                "accuracy": 0.826,
                "selection_rate": 0.18,
                "false_positive_rate": 0.12,
                "false_negative_rate": 0.31,
            }
        ]
        + [
            {
                "attribute": a,
                "group": g,
                "count": n,
                "accuracy": acc,
                "selection_rate": sel,
                "false_positive_rate": fpr,
                "false_negative_rate": 1 - tpr,
            }
            for a, g, n, acc, sel, fpr, tpr in BY_GROUP
        ]
    )
    fig, ax = plt.subplots(figsize=(4, 2))
    ax.bar(metrics["group"], metrics["selection_rate"])
    results = {
        "performance": StepResult(
            "performance",
            tables={"metrics": metrics},
            figures={"by_group_plot": fig},
            notes=["The group nationality_group = 'other' has only 190 rows."],
            captions={"by_group_plot": "Decisions by group"},
        )
    }
    payload = json.loads(json.dumps(to_payload(results)))
    plt.close(fig)
    snap = _snapshot()
    snap["results"]["payload"] = payload
    snap["answers"]["rights.risks"][-1]["cites"] = ["performance.by_group_plot"]
    html_path, zip_path = _dossier.export_dossier(snap, tmp_path, now=NOW)
    html = html_path.read_text(encoding="utf-8")
    figure = next(i["png_base64"] for i in payload["items"] if i["kind"] == "figure")
    assert f"data:image/png;base64,{figure}" in _question_block(html, "rights.risks")
    assert "has only 190 rows" in html
    with zipfile.ZipFile(zip_path) as zf:
        card = json.loads(zf.read("bijstand-check-dossier/model-cards/risk-flag.json"))
        names = zf.namelist()
    assert "bijstand-check-dossier/figures/performance.by_group_plot.png" in names
    qa = card["quantitative_analyses"]
    assert qa["n"] == 5000 and qa["accuracy"] == pytest.approx(0.826)
    assert qa["true_positive_rate"]["sex=F"] == pytest.approx(0.71)
    assert "(all rows)" not in json.dumps(qa)
    groups = list(qa["selection_rate"])
    jsonschema.validate(card, _lab08_schema_for(groups, "sex"))
