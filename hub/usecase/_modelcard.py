"""The model card of a use case's dossier, in the schema of lab 08.

Lab 08 (procurement capstone) teaches the structured part of a model card, with
the nine sections of Mitchell et al. (2019) checked by a JSON Schema
(``labs/08-procurement-capstone/model-card.schema.json``). The dossier fills
the same sections from a use case's snapshot. The schema here is lab 08's with
its two lab-specific pieces made general: ``factors.groups`` must contain each
protected column (lab 08: ``dual_nationality``), and the rates by group are
keyed by the use case's own groups (lab 08: ``dual`` and ``not_dual``).
"""

import math

TEXT = {"type": "string", "minLength": 15, "pattern": "^(?!TODO)"}
WORD = {"type": "string", "minLength": 1, "pattern": "^(?!TODO)"}
RATE = {"type": "number", "minimum": 0, "maximum": 1}
MEASURES = ["accuracy", "selection_rate", "false_positive_rate", "true_positive_rate"]
RATES = ("selection_rate", "false_positive_rate", "true_positive_rate")
OVERALL = {"overall", "all", "(all)", "(all rows)", "total"}

_MODEL_TYPE = {
    "skops": "A scikit-learn pipeline supplied as a skops file and run in the sandbox",
    "onnx": "A model supplied in the ONNX format and run in the sandbox with onnxruntime",
    "scores": "The existing system's scores or decisions, supplied as a column of the "
    "data; the system itself was not supplied",
    "baseline": "A transparent baseline model (logistic regression or a shallow tree) "
    "trained by the assessment notebook",
}


def _obj(props):
    return {
        "type": "object",
        "required": list(props),
        "additionalProperties": False,
        "properties": props,
    }


def card_schema(groups, protected):
    """Return lab 08's model-card schema for a use case's groups.

    Parameters
    ----------
    groups : list of str
        Keys of the rates by group (``quantitative_analyses.selection_rate`` ...).
    protected : list of str
        The protected columns; ``factors.groups`` must name each of them.

    Returns
    -------
    dict
        A JSON Schema (draft 2020-12).
    """
    by_group = {
        "type": "object",
        "required": list(groups),
        "additionalProperties": False,
        "properties": {g: RATE for g in groups},
    }
    factor_groups = {"type": "array", "items": WORD, "contains": {"const": protected[0]}}
    if len(protected) > 1:
        factor_groups["allOf"] = [{"contains": {"const": p}} for p in protected[1:]]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Model card, structured part (sections of Mitchell et al. 2019)",
        **_obj(
            {
                "model_details": _obj(
                    {
                        "name": WORD,
                        "version": WORD,
                        "developer": WORD,
                        "model_type": TEXT,
                        "inputs": {"type": "array", "items": WORD, "minItems": 1},
                        "output": TEXT,
                    }
                ),
                "intended_use": _obj(
                    {"primary_uses": TEXT, "primary_users": TEXT, "out_of_scope_uses": TEXT}
                ),
                "factors": _obj(
                    {
                        "groups": factor_groups,
                        "proxies": {"type": "array", "items": WORD, "minItems": 1},
                    }
                ),
                "metrics": _obj(
                    {
                        "measures": {
                            "type": "array",
                            "items": {"enum": list(MEASURES)},
                            "minItems": 4,
                            "uniqueItems": True,
                        },
                        "reference_label": TEXT,
                        "threshold": TEXT,
                    }
                ),
                "evaluation_data": _obj(
                    {
                        "description": TEXT,
                        "n_rows": {"type": "integer", "minimum": 1},
                        "sampling": TEXT,
                    }
                ),
                "training_data": _obj({"description": TEXT, "label": TEXT, "known_issues": TEXT}),
                "quantitative_analyses": _obj(
                    {
                        "n": {"type": "integer", "minimum": 1},
                        "accuracy": RATE,
                        "selection_rate": by_group,
                        "false_positive_rate": by_group,
                        "true_positive_rate": by_group,
                        "selection_rate_ratio": {"type": "number", "minimum": 0},
                        "false_positive_rate_ratio": {"type": "number", "minimum": 0},
                    }
                ),
                "ethical_considerations": {"type": "array", "items": TEXT, "minItems": 2},
                "caveats_and_recommendations": {"type": "array", "items": TEXT, "minItems": 2},
            }
        ),
    }


def roles_of(dataset):
    """Return a dataset's roles as ``{column: {"role": ..., "kind": ...}}``."""
    out = {}
    for col, spec in (dataset.get("roles") or {}).items():
        out[col] = {"role": spec} if isinstance(spec, str) else dict(spec)
    return out


def _columns(roles, *wanted):
    return [c for c, r in roles.items() if r.get("role") in wanted]


def _number(value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def group_rates(tables, protected):
    """Find the rates by group in the ``performance`` tables of a results payload.

    Parameters
    ----------
    tables : dict
        ``{"<step>.<name>": {"columns": [...], "records": [...]}}``.
    protected : list of str
        The protected columns.

    Returns
    -------
    rates : dict
        ``{(attribute, group): {"n", "accuracy", "selection_rate", ...}}``.
    overall : dict
        The overall row (``n``, ``accuracy``), possibly empty.
    """
    rates, overall = {}, {}
    for tid, table in sorted(tables.items()):
        if not tid.startswith("performance."):
            continue
        cols = set(table["columns"])
        if tid == "performance.overall" and "accuracy" in cols and table["records"]:
            overall = dict(table["records"][0])
            continue
        has_tpr = "true_positive_rate" in cols or "false_negative_rate" in cols
        if not ({"selection_rate", "false_positive_rate"} <= cols and has_tpr):
            continue
        for rec in table["records"]:
            rec = dict(rec)
            if rec.get("n") is None and rec.get("count") is not None:
                rec["n"] = rec["count"]
            if (
                rec.get("true_positive_rate") is None
                and _number(rec.get("false_negative_rate")) is not None
            ):
                rec["true_positive_rate"] = 1 - _number(rec["false_negative_rate"])
            if "group" in cols:
                attribute = rec.get("attribute") or (protected[0] if protected else "group")
                group = rec.get("group")
            else:
                attribute = next((p for p in protected if p in cols), None)
                if attribute is None:
                    break
                group = rec.get(attribute)
            if str(group).strip().lower() in OVERALL or str(attribute).lower() in OVERALL:
                overall = overall or dict(rec)
                continue
            if attribute in protected and group is not None:
                rates.setdefault((attribute, str(group)), dict(rec))
    return rates, overall


def _ratio(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    top = max(values)
    return 1.0 if top == 0 else min(values) / top


def quantitative_analyses(tables, protected):
    """Fill the card's ``quantitative_analyses`` from the results, or return None.

    Ratios are lowest over highest group rate within each protected attribute,
    the worst attribute kept (lab 08: dual over not dual).
    """
    rates, overall = group_rates(tables, protected)
    if not rates:
        return None, []
    attributes = sorted({a for a, _ in rates}, key=protected.index)
    single = len(attributes) == 1

    def key(attribute, group):
        return group if single else f"{attribute}={group}"

    qa = {"n": None, "accuracy": None}
    for rate in RATES:
        qa[rate] = {}
        for (attribute, group), rec in rates.items():
            qa[rate][key(attribute, group)] = _number(rec.get(rate))
    for rate, name in (
        ("selection_rate", "selection_rate_ratio"),
        ("false_positive_rate", "false_positive_rate_ratio"),
    ):
        ratios = [
            _ratio([_number(rec.get(rate)) for (a, _), rec in rates.items() if a == attribute])
            for attribute in attributes
        ]
        ratios = [r for r in ratios if r is not None]
        qa[name] = min(ratios) if ratios else None
    first = [rec for (a, _), rec in rates.items() if a == attributes[0]]
    n = _number(overall.get("n")) or sum(_number(r.get("n")) or 0 for r in first)
    qa["n"] = int(n) if n else None
    accuracy = _number(overall.get("accuracy"))
    if accuracy is None and all(_number(r.get("n")) for r in first):
        total = sum(_number(r["n"]) for r in first)
        parts = [_number(r.get("accuracy")) for r in first]
        if total and None not in parts:
            accuracy = sum(p * _number(r["n"]) for p, r in zip(parts, first, strict=False)) / total
    qa["accuracy"] = accuracy
    groups = [key(a, g) for a, g in rates]
    return qa, groups


def _rows(datasheet):
    for path in (("shape", "rows"), ("profile", "rows"), ("rows",)):
        node = datasheet
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, int) and node > 0:
            return node
    return None


def _text(value, fallback):
    value = " ".join(str(value or "").split())
    return value if len(value) >= 15 else fallback


def model_card(snapshot, model, tables, notes):
    """Fill lab 08's model card from a use case's snapshot.

    Parameters
    ----------
    snapshot : dict
        The use case's snapshot (see ``export_dossier``).
    model : dict
        One of ``snapshot["models"]`` (or a baseline entry ``{"name", "kind": "baseline"}``).
    tables : dict
        The results' tables, normalised (``{"<id>": {"columns", "records"}}``).
    notes : dict
        The results' plain-language notes by step.

    Returns
    -------
    card : dict
        The card (JSON-able).
    schema : dict
        The schema it is meant to follow (`card_schema` for its groups).
    """
    fields = snapshot.get("fields") or {}
    dataset = (snapshot.get("datasets") or [{}])[0]
    roles = roles_of(dataset)
    datasheet = dataset.get("datasheet") or {}
    target = (_columns(roles, "target") or ["the outcome"])[0]
    protected = _columns(roles, "protected")
    administration = fields.get("administration") or snapshot.get("team") or "the team"
    kind = model.get("kind", "baseline")
    inputs = _columns(roles, "feature", "legitimate")
    if kind == "scores":
        inputs = [model["column"]] if model.get("column") else _columns(roles, "score") or inputs
    qa, groups = quantitative_analyses(tables, protected)
    proxies = [c for c, r in roles.items() if r.get("kind") == "ethnicity_proxy"]

    def plain_notes(*steps):
        return [" ".join(n.split()) for s in steps for n in notes.get(s, []) if len(n) >= 15]

    ethical = plain_notes("disparities", "conditional_disparity", "performance")
    for qid in ("rights.risks", "what.bias"):
        versions = (snapshot.get("answers") or {}).get(qid) or []
        if versions and len(versions[-1].get("text", "")) >= 15:
            ethical.append(" ".join(versions[-1]["text"].split()))
    while len(ethical) < 2:
        ethical.append(
            "Not yet written by the team: see the questionnaire answers on risks (rights.risks)."
        )
    caveats = plain_notes("mitigation", "stability", "explain") + [
        "These figures were measured on the team's own table in the sandbox; they hold for "
        "that table only and must be measured again on new data.",
    ]
    if len(caveats) < 2:
        caveats.append(
            "Groups with few people give uncertain figures: read the confidence intervals "
            "of the performance results before drawing conclusions."
        )
    sheet_collection = (datasheet.get("datasheet") or {}).get("collection") or datasheet.get(
        "collection"
    )
    card = {
        "model_details": {
            "name": str(model.get("name") or "baseline"),
            "version": str(model.get("version") or f"use case version {snapshot.get('version')}"),
            "developer": str(
                model.get("developer")
                or ("the assessment notebook" if kind == "baseline" else administration)
            ),
            "model_type": _MODEL_TYPE.get(kind, _text(kind, "A model of an unknown kind")),
            "inputs": inputs or ["not declared"],
            "output": f"A prediction of '{target}', the outcome of the decision: "
            + _text(fields.get("decision"), "the decision of this use case"),
        },
        "intended_use": {
            "primary_uses": _text(
                fields.get("decision"), "Supporting the decision described in this dossier"
            ),
            "primary_users": f"Staff of {administration} who take this decision, "
            "after their own review of each case",
            "out_of_scope_uses": "Any other decision than the one described in this dossier, "
            "and any decision taken automatically without a person's review",
        },
        "factors": {
            "groups": [*protected, *[c for c in _columns(roles, "legitimate")]],
            "proxies": proxies or ["none declared by the team"],
        },
        "metrics": {
            "measures": list(MEASURES),
            "reference_label": f"The recorded outcome in the column '{target}' of the "
            f"team's table '{dataset.get('name', 'data')}'",
            "threshold": str(
                model.get("threshold")
                or "The model's own decision rule as supplied; for scores, the recorded "
                "decision of the existing system"
            ),
        },
        "evaluation_data": {
            "description": f"The team's table '{dataset.get('name', 'data')}' (sha256 "
            f"{str(dataset.get('sha256', ''))[:16]}...), described in its datasheet",
            "n_rows": _rows(datasheet) or (qa or {}).get("n"),
            "sampling": _text(
                sheet_collection, "As described in the collection section of the datasheet"
            ),
        },
        "training_data": {
            "description": "Trained by the assessment notebook on the team's table"
            if kind == "baseline"
            else "Not supplied with the model: see the provider's information for use",
            "label": f"The column '{target}' of the team's table",
            "known_issues": "See the datasheet (missing values, small groups, personal data) "
            "and the answer on bias in the data (what.bias)",
        },
        "quantitative_analyses": qa,
        "ethical_considerations": ethical,
        "caveats_and_recommendations": caveats,
    }
    return card, card_schema(groups or ["no_groups_found"], protected or ["no_protected_column"])


def card_problems(card, schema):
    """Return what keeps ``card`` from following ``schema`` (empty when it follows it)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    return sorted(
        f"{'/'.join(str(p) for p in e.absolute_path) or 'card'}: {e.message}"
        for e in validator.iter_errors(card)
    )
