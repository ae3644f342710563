"""Dataset cards: load, validate and render ``datasets/cards/<id>.yaml``.

A card is data, not code: it says where a dataset comes from, what each
column means, which attributes are protected, which published facts the
prepared data must reproduce, and the datasheet sections of Gebru et al.
(2021), "Datasheets for Datasets". YAML and jsonschema are imported on first
use so that ``import ai4scale.datasets`` stays light in a learner's kernel.
"""

from __future__ import annotations

import functools
import html
from pathlib import Path

from ._errors import CardError, UnknownDatasetError

__all__ = [
    "CARDS_DIR",
    "card_ids",
    "card_path",
    "card_schema",
    "load_card",
    "render_html",
    "render_markdown",
    "validate_card",
]

#: Directory of the cards shipped with the package.
CARDS_DIR = Path(__file__).parent / "cards"
SCHEMA_FILE = Path(__file__).parent / "card.schema.yaml"

DATASHEET_SECTIONS = (
    ("motivation", "Motivation"),
    ("composition", "Composition"),
    ("collection", "Collection process"),
    ("preprocessing", "Preprocessing, cleaning, labelling"),
    ("uses", "Uses"),
    ("distribution", "Distribution"),
    ("maintenance", "Maintenance"),
)


def card_ids(cards_dir=None):
    """Return the sorted ids of the cards in ``cards_dir`` (default: the packaged cards)."""
    folder = Path(cards_dir) if cards_dir else CARDS_DIR
    return sorted(p.stem for p in folder.glob("*.yaml"))


def card_path(name, *, cards_dir=None):
    """Return the path of the card of ``name``; raise UnknownDatasetError if there is none."""
    folder = Path(cards_dir) if cards_dir else CARDS_DIR
    path = folder / f"{name}.yaml"
    if not isinstance(name, str) or "/" in name or not path.is_file():
        raise UnknownDatasetError(str(name), card_ids(folder))
    return path


@functools.cache
def card_schema():
    """Return the card JSON Schema (a dict) read from ``card.schema.yaml``."""
    import yaml

    return yaml.safe_load(SCHEMA_FILE.read_text())


def load_card(name, *, cards_dir=None):
    """Read and validate the card of dataset ``name``.

    Parameters
    ----------
    name : str
        Dataset id, e.g. ``"compas-recidivism"``.
    cards_dir : path-like, optional
        Directory of cards (default: the cards shipped with the package).

    Returns
    -------
    dict
        The card.

    Raises
    ------
    UnknownDatasetError
        No card has this id (the message suggests the closest ids).
    CardError
        The card is not valid YAML or breaks the schema.
    """
    import yaml

    path = card_path(name, cards_dir=cards_dir)
    try:
        card = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise CardError(f"{path}: not valid YAML: {e}") from e
    validate_card(card, path=path)
    return card


def validate_card(card, *, path=None):
    """Check ``card`` against the schema and for internal consistency.

    Raises
    ------
    CardError
        With the file, the key path and what is wrong.
    """
    import jsonschema

    where = str(path) if path else "card"
    validator = jsonschema.Draft202012Validator(card_schema())
    errors = sorted(validator.iter_errors(card), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        key = "/".join(str(p) for p in e.absolute_path) or "(top level)"
        raise CardError(f"{where}: {key}: {e.message}")
    problems = []
    if path is not None and Path(path).stem != card["id"]:
        problems.append(f"id {card['id']!r} differs from the file name {Path(path).stem!r}")
    names = [c["name"] for c in card["columns"]]
    if len(set(names)) != len(names):
        problems.append("column names are not unique")
    roles = {c["name"]: c["role"] for c in card["columns"]}
    if roles.get(card["target"]["column"]) != "target":
        problems.append(f"target {card['target']['column']!r} is not a column with role target")
    if [n for n, r in roles.items() if r == "target"] != [card["target"]["column"]]:
        problems.append("exactly one column must have role target")
    protected = [n for n, r in roles.items() if r == "protected"]
    if sorted(protected) != sorted(card["protected"]):
        problems.append(f"protected {card['protected']} differs from role protected {protected}")
    if not any(r in ("feature", "legitimate", "score") for r in roles.values()):
        problems.append("no column has role feature")
    if card["shape"]["columns"] != len(names):
        problems.append(f"shape.columns {card['shape']['columns']} != {len(names)} columns listed")
    leaked = sorted(set(card["personal_data_removed"]) & set(names))
    if leaked:
        problems.append(f"personal data listed as removed is still a column: {leaked}")
    for fact in card.get("facts", []):
        for col in [fact.get("column"), *fact.get("where", {})]:
            if col is not None and col not in roles:
                problems.append(f"fact {fact['statement']!r} uses unknown column {col!r}")
    if problems:
        raise CardError(f"{where}: " + "; ".join(problems))


def _source_lines(card):
    src = card["source"]
    if card["kind"] == "real":
        lines = [
            f"- **Original:** {src['original']}",
            f"- **Citation:** {src['citation']}",
            f"- **Package:** `{src['package']}` {src['version']} (`{src['filename']}`, "
            f"sha256 `{src['sha256']}`)",
            f"- **File inside the package:** `{src['member']}` (sha256 `{src['member_sha256']}`)",
        ]
    elif card["kind"] == "usecase":
        lines = [
            f"- **Uploaded file:** `{src['filename']}` ({src['format']}, sha256 `{src['sha256']}`)"
        ]
    else:
        lines = [
            f"- **Generator:** `{src['generator']}` (seed {src['seed']}, {src['n_rows']} rows)",
        ]
        if src.get("inspired_by"):
            lines.append(f"- **Inspired by:** {src['inspired_by']}")
        if src.get("citation"):
            lines.append(f"- **Citation:** {src['citation']}")
    if src.get("url"):
        lines.append(f"- **More information:** {src['url']}")
    return lines


def _personal_data_lines(card):
    lines = []
    for f in card["personal_data"]["findings"]:
        r = f.get("resolution") or {}
        line = f"{f['column']}: {f['kind']}, {r.get('action', 'not resolved yet')}"
        lines.append(line + (f" (reason: {r['reason']})" if r.get("reason") else ""))
    return lines


def render_markdown(card):
    """Render ``card`` as a Markdown datasheet for learners."""
    t = card["target"]
    out = [
        f"# {card['title']}",
        "",
        f"`{card['id']}` · {card['kind']} data · {card['domain']} · "
        f"{card['shape']['rows']:,} rows × {card['shape']['columns']} columns",
        "",
        f"**Decision recorded:** {card['decision']}",
        "",
        f"**Target:** `{t['column']}` (positive = `{t['positive']}`: {t['meaning']})",
        "",
        "**Protected attributes:** " + ", ".join(f"`{p}`" for p in card["protected"]),
        "",
        "## Source",
        "",
        *_source_lines(card),
        "",
        "## Licence",
        "",
        f"**{card['licence']['name']}** (as stated by {card['licence']['stated_by']}). "
        f"{card['licence']['training_use']}",
        "",
        "## Columns",
        "",
        "| column | type | role | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for c in card["columns"]:
        desc = c["description"].replace("|", "\\|")
        out.append(f"| `{c['name']}` | {c['dtype']} | {c['role']} | {desc} |")
    removed = ", ".join(f"`{p}`" for p in card["personal_data_removed"]) or "none"
    out += [
        "",
        f"**Missing values:** {card['missing_values']}",
        "",
        f"**Personal data removed:** {removed}",
        "",
        "## Caveats",
        "",
        *[f"- {c}" for c in card["caveats"]],
    ]
    if card.get("facts"):
        out += ["", "## Published facts reproduced by the tests", ""]
        out += [f"- {f['statement']}" for f in card["facts"]]
    if card.get("personal_data"):
        out += ["", "## Personal data found and what was done", ""]
        out += [f"- {line}" for line in _personal_data_lines(card)] or ["- none found"]
    if card.get("ground_truth"):
        import json

        out += ["", "## Ground truth (injected bias)", "", "```json"]
        out += [json.dumps(card["ground_truth"], indent=2, sort_keys=True), "```"]
    out += ["", "## Datasheet", ""]
    for key, heading in DATASHEET_SECTIONS:
        out += [f"### {heading}", "", card["datasheet"][key].strip(), ""]
    return "\n".join(out).rstrip() + "\n"


def render_html(card):
    """Render ``card`` as a self-contained HTML page (no scripts, no external resources)."""
    e = html.escape
    t = card["target"]
    rows = "\n".join(
        f"<tr><td><code>{e(c['name'])}</code></td><td>{e(c['dtype'])}</td>"
        f"<td>{e(c['role'])}</td><td>{e(c['description'])}</td></tr>"
        for c in card["columns"]
    )
    source = "\n".join(
        "<li>" + e(line[2:]).replace("**", "") + "</li>" for line in _source_lines(card)
    )
    caveats = "\n".join(f"<li>{e(c)}</li>" for c in card["caveats"])
    facts = "\n".join(f"<li>{e(f['statement'])}</li>" for f in card.get("facts", []))
    sheet = "\n".join(
        f"<h3>{e(heading)}</h3>\n<p>{e(card['datasheet'][key].strip())}</p>"
        for key, heading in DATASHEET_SECTIONS
    )
    removed = ", ".join(card["personal_data_removed"]) or "none"
    pdata = ""
    if card.get("personal_data"):
        found = "".join(f"<li>{e(line)}</li>" for line in _personal_data_lines(card))
        pdata = f"<h2>Personal data found and what was done</h2><ul>{found or '<li>none</li>'}</ul>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(card["title"])}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:auto;line-height:1.4}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2em .5em}}</style>
</head><body>
<h1>{e(card["title"])}</h1>
<p><code>{e(card["id"])}</code> · {e(card["kind"])} data · {e(card["domain"])} ·
{card["shape"]["rows"]:,} rows × {card["shape"]["columns"]} columns</p>
<p><strong>Decision recorded:</strong> {e(card["decision"])}</p>
<p><strong>Target:</strong> <code>{e(t["column"])}</code> (positive = {e(str(t["positive"]))}:
{e(t["meaning"])})</p>
<p><strong>Protected attributes:</strong> {e(", ".join(card["protected"]))}</p>
<h2>Source</h2><ul>{source}</ul>
<h2>Licence</h2><p><strong>{e(card["licence"]["name"])}</strong>
(as stated by {e(card["licence"]["stated_by"])}). {e(card["licence"]["training_use"])}</p>
<h2>Columns</h2>
<table><tr><th>column</th><th>type</th><th>role</th><th>meaning</th></tr>
{rows}
</table>
<p><strong>Missing values:</strong> {e(card["missing_values"])}</p>
<p><strong>Personal data removed:</strong> {e(removed)}</p>
{pdata}
<h2>Caveats</h2><ul>{caveats}</ul>
{"<h2>Published facts reproduced by the tests</h2><ul>" + facts + "</ul>" if facts else ""}
<h2>Datasheet</h2>
{sheet}
</body></html>
"""
