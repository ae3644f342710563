"""The evidence dossier of a use case: one HTML report and one zip.

``export_dossier(snapshot, dest_dir)`` works from the plain snapshot dict of a
use case (``store.snapshot(id)``)::

    {"id", "team", "version", "fields": {...},
     "datasets": [{"name", "sha256", "format", "roles", "findings", "datasheet"}],
     "models": [{"name", "kind", "sha256", "untrusted_types", "approved_by"}],
     "results": {"notebook_sha256", "created_at", "author", "payload": to_payload(...)},
     "answers": {qid: [{"text", "cites", "author", "created_at"}, ...]},
     "comments": {qid: [{"text", "author", "created_at"}, ...]}}

Steps: normalise the results -> refuse row-level tables and identifier columns ->
model cards -> render the report and the datasheets -> scan every file for
identifiers -> write the zip (sorted names, fixed timestamps).

The dossier holds no row-level data and no identifier: results tables must be
aggregates (at most `MAX_TABLE_ROWS` rows, no identifier-like column), masked
examples of personal-data findings are left out, and every file is scanned with
the intake's detectors (``_scan.scan_text``) before anything is written.
"""

import base64
import binascii
import datetime
import hashlib
import importlib.metadata
import io
import json
import re
import zipfile
import zlib
from pathlib import Path

import jinja2
import yaml

from . import _modelcard, _questionnaire

TEMPLATES_DIR = Path(__file__).with_name("templates")
#: The most rows a results table may have: more is row-level data, not an aggregate.
MAX_TABLE_ROWS = 500
#: Column names that hold identifiers (compared in lower case, blanks as "_").
IDENTIFIER_COLUMN = re.compile(
    r"^(id|ids|.*_id|id_.*|uuid|bsn|.*bsn.*|burgerservicenummer|ssn|nir|pesel|dni|nie|"
    r"steuer_?id|codice_fiscale|national_id.*|rijksregisternummer|svnr|"
    r"e_?mail.*|.*_e_?mail|phone.*|.*_phone|telephone.*|mobile|iban|bank_?account.*|"
    r"full_?name|first_?name|last_?name|surname|given_?name|family_?name|naam|voornaam|"
    r"achternaam|address.*|.*_address|adres.*|street.*|straat.*|date_of_birth|dob|"
    r"birth_?date|geboortedatum|client_?number|case_?number|dossier_?number|"
    r"file_?number|person(_?number)?|citizen.*)$"
)
#: Packages whose versions the provenance records.
PACKAGES = (
    "ai4scale",
    "pandas",
    "numpy",
    "scikit-learn",
    "fairlearn",
    "shap",
    "matplotlib",
    "skops",
    "onnxruntime",
    "python-stdnum",
    "phonenumbers",
    "Jinja2",
    "PyYAML",
    "jsonschema",
)
STEP_ORDER = (
    "profile",
    "performance",
    "disparities",
    "conditional_disparity",
    "explain",
    "mitigation",
    "stability",
)
ANNEX_III = {
    "1": "Biometrics",
    "2": "Critical infrastructure",
    "3": "Education and vocational training",
    "4": "Employment, workers' management and access to self-employment",
    "5": "Access to essential private services and essential public services and benefits",
    "6": "Law enforcement",
    "7": "Migration, asylum and border control management",
    "8": "Administration of justice and democratic processes",
}
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class DossierError(ValueError):
    """The dossier cannot be made; the message says why and what to change."""


# -- reading the snapshot ----------------------------------------------------------------


def _iso(value):
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return value.astimezone(datetime.UTC).isoformat(timespec="seconds")
    return str(value)


def _table(value):
    """Return a table as ``{"columns": [...], "records": [...]}``."""
    if isinstance(value, dict) and "records" in value:
        records = list(value["records"])
        columns = list(value.get("columns") or (records[0].keys() if records else []))
    elif isinstance(value, dict) and "data" in value and "columns" in value:
        columns = list(value["columns"])
        records = [dict(zip(columns, row, strict=True)) for row in value["data"]]
    elif isinstance(value, list):
        records = list(value)
        columns = list(dict.fromkeys(k for r in records if isinstance(r, dict) for k in r))
    else:
        raise DossierError("a results table is neither a list of records nor a table")
    if not all(isinstance(r, dict) for r in records):
        raise DossierError("a results table holds rows that are not records")
    return {"columns": [str(c) for c in columns], "records": records}


def _png(value, fid):
    if isinstance(value, dict):
        value = value.get("png") or value.get("data") or value.get("base64")
    if isinstance(value, str) and value.startswith("data:"):
        value = value.partition(",")[2]
    try:
        data = base64.b64decode(value or b"", validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise DossierError(f"figure {fid} is not base64-encoded PNG") from None
    if not data.startswith(PNG_SIGNATURE):
        raise DossierError(f"figure {fid} is not a PNG image")
    return data


def normalise_results(payload):
    """Read an assessment payload into tables, figures, notes and captions.

    Accepts ``ai4scale.assess.to_payload``'s format 1 (``{"steps": [{"name",
    "notes", "items"}], "items": [{"id", "kind", "caption", "columns", "records" |
    "png_base64"}]}``), ``{"tables": {id: ...}, "figures": {id: ...}, "steps":
    {step: {...}}}`` and the per-step form ``{"steps": {step: {"tables": {name: ...}, ...}}}`` or
    ``{step: {"tables", "figures", "notes"}}``.

    Returns
    -------
    dict
        ``{"tables": {id: {"columns", "records"}}, "figures": {id: png_bytes},
        "notes": {step: [str]}, "captions": {id: str}}``.
    """
    payload = payload or {}
    if not isinstance(payload, dict):
        raise DossierError("the results are not a JSON object")
    out = {"tables": {}, "figures": {}, "notes": {}, "captions": {}}
    steps = payload.get("steps")
    if isinstance(steps, list):  # to_payload's format 1: steps in order, items by id
        for step in steps:
            if not isinstance(step, dict) or not isinstance(step.get("name"), str):
                raise DossierError("a step of the results has no name")
            out["notes"].setdefault(step["name"], []).extend(
                str(n) for n in step.get("notes") or []
            )
        items = payload.get("items") or []
        if not isinstance(items, list):
            raise DossierError("the results' items are not a list")
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise DossierError("a result item has no id")
            iid = item["id"]
            if iid in out["tables"] or iid in out["figures"]:
                raise DossierError(f"two results have the id {iid}")
            if item.get("kind") == "figure":
                out["figures"][iid] = _png(item.get("png_base64"), iid)
            elif item.get("kind") == "table":
                out["tables"][iid] = _table(
                    {"columns": item.get("columns"), "records": item.get("records") or []}
                )
            else:
                raise DossierError(f"result {iid} is neither a table nor a figure")
            if item.get("caption"):
                out["captions"][iid] = str(item["caption"])
        return out
    if steps is None:
        steps = {
            k: v
            for k, v in payload.items()
            if isinstance(v, dict) and k not in ("tables", "figures", "captions", "notes")
        }
    for tid, value in (payload.get("tables") or {}).items():
        out["tables"][str(tid)] = _table(value)
    for fid, value in (payload.get("figures") or {}).items():
        out["figures"][str(fid)] = _png(value, fid)
    out["captions"].update({str(k): str(v) for k, v in (payload.get("captions") or {}).items()})
    for step, notes in (payload.get("notes") or {}).items():
        out["notes"].setdefault(step, []).extend(str(n) for n in notes)
    for step, body in steps.items():
        if isinstance(body, dict):
            for name, value in (body.get("tables") or {}).items():
                out["tables"][f"{step}.{name}"] = _table(value)
            for name, value in (body.get("figures") or {}).items():
                out["figures"][f"{step}.{name}"] = _png(value, f"{step}.{name}")
            for name, text in (body.get("captions") or {}).items():
                cid = name if "." in name else f"{step}.{name}"
                out["captions"][cid] = str(text)
            out["notes"].setdefault(step, []).extend(str(n) for n in body.get("notes") or [])
    return out


def _identifier_columns(snapshot):
    names = set()
    for ds in snapshot.get("datasets") or []:
        for col, spec in _modelcard.roles_of(ds).items():
            if spec.get("role") == "identifier":
                names.add(str(col).lower())
    return names


def check_aggregates(tables, *, identifier_columns=(), max_rows=MAX_TABLE_ROWS):
    """Refuse results tables that hold row-level data or identifiers.

    Parameters
    ----------
    tables : dict
        ``{"<id>": {"columns", "records"}}``.
    identifier_columns : iterable of str
        Columns the team declared as identifiers (compared in lower case).
    max_rows : int
        The most rows an aggregate table may have.

    Raises
    ------
    DossierError
        Naming the table and what is wrong with it.
    """
    declared = {c.lower() for c in identifier_columns}
    for tid, table in tables.items():
        if len(table["records"]) > max_rows:
            raise DossierError(
                f"results table {tid} has {len(table['records']):,} rows; a dossier holds "
                f"only summaries (at most {max_rows} rows), never one row per person: "
                "save grouped figures instead"
            )
        for col in table["columns"]:
            norm = re.sub(r"[\s\-]+", "_", col.strip().lower())
            if norm in declared or IDENTIFIER_COLUMN.match(norm):
                raise DossierError(
                    f"results table {tid} has a column {col!r} that looks like an "
                    "identifier; a dossier holds no identifiers: leave that column out"
                )


def _strip_examples(value):
    """Drop masked examples from findings and datasheets (no value leaves the service)."""
    if isinstance(value, dict):
        return {k: _strip_examples(v) for k, v in value.items() if k != "examples"}
    if isinstance(value, list):
        return [_strip_examples(v) for v in value]
    return value


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (datetime.datetime, datetime.date)):
        return _iso(value) if isinstance(value, datetime.datetime) else value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        if isinstance(value, float) and value != value:
            return None
        return value
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    return str(value)


def _ai_act_area(fields):
    area = str(fields.get("ai_act_area") or "").strip()
    if not area:
        return "not stated"
    if area == "not-high-risk":
        reason = fields.get("not_high_risk_reason") or "no reason given"
        return f"Not high-risk. Reason given: {reason}"
    try:  # the points the service accepts, with their plain names
        from ._store import ANNEX_III as points
    except ImportError:
        points = {}
    m = re.match(r"([1-8])", area)
    text = f"AI Act Annex III, point {area}"
    if m:
        text += f" ({ANNEX_III[m.group(1)]})"
    if points.get(area):
        text += f": {points[area]}"
    return text


def _safe_name(name):
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._") or "item"
    return name[:80]


# -- rendering ---------------------------------------------------------------------------


def _cell(value):
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, float):
        return "" if value != value else f"{value:.3g}"
    return str(value)


def _label(key):
    return str(key).replace("_", " ").capitalize()


_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)
_ENV.filters["cell"] = _cell
_ENV.filters["label"] = _label
_ENV.filters["b64"] = lambda data: base64.b64encode(data).decode("ascii")
_ENV.tests["table_like"] = lambda v: (
    isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)
)


def _answers(snapshot, results):
    """Return the questionnaire for the report: questions with answers and comments."""
    answers = snapshot.get("answers") or {}
    comments = snapshot.get("comments") or {}
    known = set(results["tables"]) | set(results["figures"])
    instrument = _questionnaire.load_instrument()
    phases = []
    for phase in instrument["phases"]:
        qs = []
        for q in _questionnaire.questions():
            if q["phase"] != phase["id"]:
                continue
            versions = [
                {
                    "version": i + 1,
                    "text": str(a.get("text", "")),
                    "cites": list(a.get("cites") or []),
                    "author": a.get("author"),
                    "created_at": _iso(a.get("created_at")),
                }
                for i, a in enumerate(answers.get(q["id"]) or [])
            ]
            latest = versions[-1] if versions else None
            cited = []
            for cid in latest["cites"] if latest else []:
                if cid in results["figures"]:
                    cited.append({"id": cid, "kind": "figure"})
                elif cid in results["tables"]:
                    cited.append({"id": cid, "kind": "table"})
                else:
                    cited.append({"id": cid, "kind": "missing"})
            qs.append(
                {
                    **q,
                    "versions": versions,
                    "latest": latest,
                    "cited": cited,
                    "comments": [
                        {
                            "text": str(c.get("text", "")),
                            "author": c.get("author"),
                            "created_at": _iso(c.get("created_at")),
                        }
                        for c in comments.get(q["id"]) or []
                    ],
                }
            )
        phases.append({**phase, "questions": qs})
    unknown = sorted((set(answers) | set(comments)) - {q["id"] for q in _questionnaire.questions()})
    return phases, unknown, known


def _steps(results):
    """Group result ids by step, in the assessment's order."""
    ids = [*results["tables"], *results["figures"]]
    steps = list(dict.fromkeys([s for s in STEP_ORDER if any(i.startswith(s + ".") for i in ids)]))
    steps += sorted({i.partition(".")[0] for i in ids} - set(steps))
    steps += sorted(set(results["notes"]) - set(steps))
    return [
        {
            "name": s,
            "notes": results["notes"].get(s, []),
            "tables": [t for t in results["tables"] if t.partition(".")[0] == s],
            "figures": [f for f in results["figures"] if f.partition(".")[0] == s],
        }
        for s in steps
    ]


def _package_versions():
    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


# -- the identifier scan -----------------------------------------------------------------

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_NINE = re.compile(r"(?<![\w.,])\d{9}(?![\w.,])")


def _bsn_like(digits):
    total = sum(int(d) * w for d, w in zip(digits, range(9, 1, -1), strict=False)) - int(digits[8])
    return total % 11 == 0 and digits != "000000000"


def _fallback_scan(text):
    found = [{"kind": "email"} for _ in _EMAIL.finditer(text)]
    found += [{"kind": "national_id:nl"} for m in _NINE.finditer(text) if _bsn_like(m.group())]
    return found


def scan_for_identifiers(text):
    """Return identifier findings in ``text`` (the intake's detectors, else a fallback).

    The intake's ``_scan.scan_text`` runs every detector of the personal-data
    check; until it exists, e-mail addresses and BSN-like numbers are caught.
    """
    try:
        from ._scan import scan_text
    except ImportError:
        return _fallback_scan(text)
    return list(scan_text(text)) + _fallback_scan(text)


def png_text(data):
    """Return the text chunks (tEXt, zTXt, iTXt) of a PNG, joined by new lines."""
    out, pos = [], len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"tEXt":
            out.append(body.decode("latin-1"))
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            out.append(key.decode("latin-1") + " " + zlib.decompress(rest[1:]).decode("latin-1"))
        elif kind == b"iTXt":
            out.append(body.decode("utf-8", "replace"))
    return "\n".join(out)


def file_text(name, data):
    """Return the text of an export file that the identifier scan reads."""
    if name.endswith(".png"):
        return png_text(data)
    return data.decode("utf-8")


def _scan_files(files):
    found = []
    for name in sorted(files):
        findings = scan_for_identifiers(file_text(name, files[name]))
        if findings:
            kinds = sorted({str(f.get("kind", "identifier")) for f in findings})
            found.append(f"{name} ({', '.join(kinds)})")
    if found:
        raise DossierError(
            "the dossier would contain what looks like personal data, in "
            + "; ".join(found)
            + ". Nothing was exported: remove it from the answers, comments or use-case "
            "fields, or from the saved results, and export again"
        )


# -- the export --------------------------------------------------------------------------


def build_dossier(snapshot, *, now=None):
    """Build every file of the dossier in memory.

    Parameters
    ----------
    snapshot : dict
        The use case's snapshot (see the module docstring).
    now : datetime.datetime, optional
        The export time (default: now, UTC); given, the output is byte-identical.

    Returns
    -------
    dict of str to bytes
        File names inside the zip (``report.html``, ``results.json``, ...) to content.

    Raises
    ------
    DossierError
        Row-level or identifier data in the results, or personal data found in a file.
    """
    now = now or datetime.datetime.now(datetime.UTC)
    uid = str(snapshot.get("id") or "usecase")
    fields = snapshot.get("fields") or {}
    raw_results = snapshot.get("results") or {}
    results = normalise_results(raw_results.get("payload"))
    check_aggregates(results["tables"], identifier_columns=_identifier_columns(snapshot))

    datasets = []
    for ds in snapshot.get("datasets") or []:
        datasets.append(
            {
                "name": str(ds.get("name")),
                "file": _safe_name(ds.get("name")),
                "sha256": ds.get("sha256"),
                "format": _jsonable(ds.get("format")),
                "roles": _modelcard.roles_of(ds),
                "findings": _jsonable(_strip_examples(ds.get("findings") or [])),
                "datasheet": _jsonable(_strip_examples(ds.get("datasheet") or {})),
            }
        )
        # the findings have their own table; the rest of the datasheet is shown as it is
        datasets[-1]["datasheet_shown"] = {
            k: v for k, v in datasets[-1]["datasheet"].items() if k != "personal_data"
        }
    models = [dict(m) for m in snapshot.get("models") or []] or [
        {"name": "baseline", "kind": "baseline"}
    ]
    cards = []
    for m in models:
        card, schema = _modelcard.model_card(snapshot, m, results["tables"], results["notes"])
        card = _jsonable(card)
        cards.append(
            {
                "model": _jsonable(m),
                "file": _safe_name(m.get("name")),
                "card": card,
                "schema": schema,
                "problems": _modelcard.card_problems(card, schema),
            }
        )
    phases, unknown_questions, _ = _answers(snapshot, results)
    figure_files = {fid: f"figures/{_safe_name(fid)}.png" for fid in sorted(results["figures"])}

    inputs = [{"kind": "dataset", "name": d["name"], "sha256": d["sha256"]} for d in datasets] + [
        {"kind": "model", "name": str(m.get("name")), "sha256": m.get("sha256")}
        for m in models
        if m.get("sha256")
    ]
    if raw_results.get("notebook_sha256"):
        inputs.append(
            {
                "kind": "notebook",
                "name": "assessment notebook",
                "sha256": raw_results["notebook_sha256"],
            }
        )
    times = {
        "exported_at": _iso(now),
        "results_created_at": _iso(raw_results.get("created_at")),
        "fields_changed_at": _iso(snapshot.get("changed_at") or fields.get("time")),
    }
    context = {
        "uid": uid,
        "snapshot": snapshot,
        "fields": fields,
        "area": _ai_act_area(fields),
        "datasets": datasets,
        "cards": cards,
        "results": results,
        "raw_results": {k: _jsonable(v) for k, v in raw_results.items() if k != "payload"},
        "steps": _steps(results),
        "phases": phases,
        "unknown_questions": unknown_questions,
        "inputs": inputs,
        "packages": _package_versions(),
        "times": times,
        "figure_files": figure_files,
    }
    files = {}
    for d in datasets:
        files[f"datasheets/{d['file']}.yaml"] = yaml.safe_dump(
            {
                "name": d["name"],
                "sha256": d["sha256"],
                "roles": d["roles"],
                "personal_data_findings": d["findings"],
                "datasheet": d["datasheet"],
            },
            sort_keys=False,
            allow_unicode=True,
        ).encode()
        files[f"datasheets/{d['file']}.html"] = (
            _ENV.get_template("datasheet.html").render(uid=uid, d=d, times=times).encode()
        )
    for c in cards:
        files[f"model-cards/{c['file']}.json"] = (json.dumps(c["card"], indent=1) + "\n").encode()
        files[f"model-cards/{c['file']}.schema.json"] = (
            json.dumps(c["schema"], indent=1) + "\n"
        ).encode()
    files["results.json"] = (
        json.dumps(
            {
                **context["raw_results"],
                "tables": _jsonable(results["tables"]),
                "figures": {fid: figure_files[fid] for fid in figure_files},
                "captions": results["captions"],
                "notes": results["notes"],
            },
            indent=1,
            sort_keys=True,
        )
        + "\n"
    ).encode()
    for fid, path in figure_files.items():
        files[path] = results["figures"][fid]
    files["answers.yaml"] = yaml.safe_dump(
        {
            "use_case": uid,
            "instrument": {
                k: _questionnaire.load_instrument()[k] for k in ("instrument", "version")
            },
            "questions": [
                {
                    "id": q["id"],
                    "phase": q["phase"],
                    "text": " ".join(q["text"].split()),
                    "references": q["references"],
                    "versions": q["versions"],
                    "comments": q["comments"],
                }
                for p in phases
                for q in p["questions"]
            ],
        },
        sort_keys=False,
        allow_unicode=True,
    ).encode()
    files["report.html"] = _ENV.get_template("dossier.html").render(**context).encode()
    manifest = {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())}
    files["provenance.json"] = (
        json.dumps(
            {
                "use_case": uid,
                "team": snapshot.get("team"),
                "version": snapshot.get("version"),
                "inputs": inputs,
                "results": {
                    "notebook_sha256": raw_results.get("notebook_sha256"),
                    "author": raw_results.get("author"),
                    "created_at": times["results_created_at"],
                },
                "times": times,
                "packages": context["packages"],
                "files": manifest,
            },
            indent=1,
        )
        + "\n"
    ).encode()
    _scan_files(files)
    return files


def write_zip(files, path, *, root):
    """Write ``files`` into a zip at ``path``, sorted, with fixed timestamps."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(f"{root}/{name}", date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, files[name])
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)


def export_dossier(snapshot, dest_dir, *, now=None):
    """Export a use case's dossier: a self-contained HTML report and a zip.

    Parameters
    ----------
    snapshot : dict
        The use case's snapshot (see the module docstring).
    dest_dir : str or Path
        Folder to write into (created if missing).
    now : datetime.datetime, optional
        The export time written into the provenance (default: now, UTC).

    Returns
    -------
    html_path : Path
        ``<id>-dossier.html``: the report, printable, with figures inline.
    zip_path : Path
        ``<id>-dossier.zip``: the report, datasheets (YAML, HTML), model cards
        (lab 08's schema), results JSON, figures PNG, answers YAML, provenance.

    Raises
    ------
    DossierError
        Nothing is written when the results hold row-level data or identifiers, or
        when a file of the dossier would contain personal data.
    """
    files = build_dossier(snapshot, now=now)
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    root = f"{_safe_name(snapshot.get('id') or 'usecase')}-dossier"
    html_path = dest / f"{root}.html"
    zip_path = dest / f"{root}.zip"
    write_zip(files, zip_path, root=root)
    tmp = html_path.with_name(html_path.name + ".tmp")
    tmp.write_bytes(files["report.html"])
    tmp.replace(html_path)
    return html_path, zip_path


__all__ = ["DossierError", "build_dossier", "export_dossier"]
