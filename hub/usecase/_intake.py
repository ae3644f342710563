"""The intake of one use-case table: receive -> confirm -> set_roles -> scan -> resolve -> finish.

An :class:`Intake` works in a folder the service owns (root, mode 0700). Its
state is ``intake.json``; beside it lie the uploaded file (``upload.<ext>``),
the working table with the treatments applied so far (``work-<n>.parquet``)
and, when no finding blocks any more, ``table.parquet``, the table teams
assess. Every step writes its files under new names first and commits by
replacing ``intake.json`` atomically, so an interrupted step leaves the
previous state whole; files no state refers to are removed on the next step.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from ._read import IntakeError, describe_frame, detect, read_table
from ._treat import ACTIONS, coarsen, drop, pseudonymise, require_reason

__all__ = ["PROTECTED_KINDS", "ROLES", "Intake", "IntakeError", "normalise_roles"]

#: Column roles (one vocabulary for the intake, the assessment and the page).
ROLES = ("target", "score", "feature", "protected", "legitimate", "identifier", "excluded", "date")
#: Kinds of protected attribute.
PROTECTED_KINDS = (
    "sex", "age", "nationality", "ethnicity_proxy", "disability", "religion", "other",
)  # fmt: skip
STATE_FILE = "intake.json"
TABLE_FILE = "table.parquet"
# Files this class writes (others in the folder, such as the service's, are left alone).
_OWN_PREFIXES = ("work-", "upload-", ".upload.", ".work-", f".{TABLE_FILE}")
_SUFFIX = {"csv": ".csv", "xlsx": ".xlsx", "parquet": ".parquet"}


def _now():
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _write_atomic(path, data):
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_parquet(df, path):
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def normalise_roles(roles, columns):
    """Return roles as ``{column: {"role": r, "kind": k?}}``; refuse unknown columns and roles.

    Columns without a role are features.
    """
    if not isinstance(roles, dict):
        raise IntakeError("give the roles as {column: role}")
    unknown = [c for c in roles if c not in columns]
    if unknown:
        raise IntakeError(f"the table has no column {unknown[0]!r}")
    out = {}
    for column in columns:
        spec = roles.get(column, "feature")
        if isinstance(spec, str):
            spec = {"role": spec}
        if not isinstance(spec, dict) or spec.get("role") not in ROLES:
            raise IntakeError(f"the role of {column!r} must be one of: {', '.join(ROLES)}")
        role = spec["role"]
        entry = {"role": role}
        if role == "protected":
            kind = spec.get("kind") or "other"
            if kind not in PROTECTED_KINDS:
                raise IntakeError(
                    f"the kind of protected attribute {column!r} must be one of: "
                    f"{', '.join(PROTECTED_KINDS)}"
                )
            entry["kind"] = kind
        if role == "target" and spec.get("positive") not in (None, ""):
            # the value that means "flagged" / "granted": the assessment's positive outcome
            entry["positive"] = str(spec["positive"])
        if role == "score" and spec.get("threshold") not in (None, ""):
            try:
                entry["threshold"] = float(spec["threshold"])
            except (TypeError, ValueError):
                raise IntakeError(
                    f"the threshold of the score '{column}' must be a number, such as 0.5"
                ) from None
        out[column] = entry
    return out


def _check_roles(df, roles):
    """Refuse roles the assessment cannot use, saying what to do."""
    targets = [c for c, r in roles.items() if r["role"] == "target"]
    if len(targets) != 1:
        raise IntakeError(
            "choose exactly one outcome (target) column: the decision or result to assess"
            if not targets
            else f"only one column can be the outcome (target); you chose {', '.join(targets)}"
        )
    target = targets[0]
    values = df[target].dropna().unique()
    if len(values) < 2:
        raise IntakeError(
            f"the outcome '{target}' has only one value, so there is nothing to compare: "
            "choose the column that records the decision"
        )
    if len(values) > 2:
        shown = ", ".join(map(str, sorted(map(str, values))[:5]))
        more = ", ..." if len(values) > 5 else ""
        raise IntakeError(
            f"the outcome '{target}' has {len(values)} different values ({shown}{more}); the "
            "assessment needs two, such as yes/no or granted/refused. Make a column with two "
            "values (for example 'refused' against all other outcomes) and upload the table "
            "again, or choose another outcome column"
        )
    positive = roles[target].get("positive")
    if positive is not None and positive not in {str(v) for v in values}:
        shown = ", ".join(sorted(map(str, values)))
        raise IntakeError(
            f"the outcome '{target}' has no value '{positive}'; its values are {shown}: "
            "choose one of them as the outcome that counts as selected"
        )
    for kind in ("score", "date"):
        chosen = [c for c, r in roles.items() if r["role"] == kind]
        if len(chosen) > 1:
            raise IntakeError(f"only one column can have the role {kind}; you chose {chosen}")
    protected = [c for c, r in roles.items() if r["role"] == "protected"]
    if not protected:
        raise IntakeError(
            "mark at least one protected attribute (sex, age, nationality, ...): the "
            "assessment compares the outcome between its groups"
        )
    for c in protected:
        values = df[c].dropna().unique()
        if len(values) < 2:
            only = f" ({values[0]})" if len(values) else ""
            raise IntakeError(
                f"the protected attribute '{c}' has only one value{only}, so there are no "
                "groups to compare: remove its role, or bring data with more than one group"
            )


class Intake:
    """One use-case table on its way from upload to an assessable ``table.parquet``.

    Parameters
    ----------
    folder : path-like
        The dataset's folder (created with mode 0700 if missing).
    k : int
        Smallest group size of the quasi-identifier check.

    Examples
    --------
    >>> intake = Intake("/var/lib/ai4scale/usecases/u1/datasets/cases")  # doctest: +SKIP
    >>> intake.receive("upload.tmp", "aanvragen.csv")["format"]  # doctest: +SKIP
    'csv'
    >>> intake.set_roles({"toegekend": "target", "geslacht": {"role": "protected",
    ...                   "kind": "sex"}})  # doctest: +SKIP
    >>> [f["kind"] for f in intake.scan()]  # doctest: +SKIP
    ['national_id:nl', 'email']
    >>> intake.resolve("bsn", "pseudonymise", key=service_key)  # doctest: +SKIP
    >>> intake.resolve("email", "drop")  # doctest: +SKIP
    >>> intake.finish()  # doctest: +SKIP
    PosixPath('.../table.parquet')
    """

    def __init__(self, folder, *, k=5):
        self.folder = Path(folder)
        self.k = k

    # -- state ------------------------------------------------------------------------

    def _load(self):
        path = self.folder / STATE_FILE
        if not path.is_file():
            return {}
        return json.loads(path.read_text(encoding="utf-8"))

    def _require(self, *, step):
        state = self._load()
        if not state:
            raise IntakeError("no table has been received yet: upload one first")
        if step in ("scan", "resolve", "finish", "datasheet") and not state.get("roles"):
            raise IntakeError("declare the columns' roles first")
        if step in ("resolve", "finish", "datasheet") and state.get("findings") is None:
            raise IntakeError("scan the table for personal data first")
        return state

    def _commit(self, state):
        """Write ``intake.json`` atomically, then remove files no state refers to."""
        state["updated_at"] = _now()
        _write_atomic(self.folder / STATE_FILE, json.dumps(state, indent=1).encode())
        keep = {state.get("upload"), state.get("work")}
        if state.get("status") == "ready":
            keep.add(TABLE_FILE)
        for p in self.folder.iterdir():
            ours = p.name.startswith(_OWN_PREFIXES) or p.name == TABLE_FILE
            if ours and p.name not in keep and p.is_file():
                p.unlink(missing_ok=True)

    def _work(self, state, columns=None):
        import pandas as pd

        return pd.read_parquet(self.folder / state["work"], columns=columns)

    def _new_work(self, state, df):
        n = int(state.get("work_version", 0)) + 1
        name = f"work-{n}.parquet"
        _write_parquet(df, self.folder / name)
        state["work"], state["work_version"] = name, n

    # -- steps ------------------------------------------------------------------------

    def receive(self, src_path, filename):
        """Take an uploaded file: detect its format and read it whole.

        Parameters
        ----------
        src_path : path-like
            The uploaded bytes (the caller may delete it afterwards).
        filename : str
            The name it had on the team's computer.

        Returns
        -------
        dict
            The detected format (``Detected.to_dict()``), to confirm.

        Raises
        ------
        IntakeError
            The file is refused (see :func:`detect`); the previous state, if
            any, stays.
        """
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        previous = self._load()
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".upload.")
        os.close(fd)
        tmp = Path(tmp)
        state = None
        try:
            shutil.copyfile(src_path, tmp)
            detected, df = detect(tmp, filename, frame=True)
            upload = f"upload-{int(previous.get('work_version', 0)) + 1}{_SUFFIX[detected.format]}"
            state = {
                "version": 1,
                "status": "received",
                "filename": os.path.basename(str(filename or "")) or "table",
                "sha256": _sha256(tmp),
                "size": tmp.stat().st_size,
                "received_at": _now(),
                "detected": detected.to_dict(),
                "format": {
                    "encoding": detected.encoding,
                    "separator": detected.separator,
                    "decimal": detected.decimal,
                },
                "roles": None,
                "findings": None,
                "work_version": previous.get("work_version", 0),
                "k": self.k,
            }
            self._new_work(state, df)
            os.replace(tmp, self.folder / upload)
            state["upload"] = upload
            self._commit(state)
        except BaseException:
            # Nothing half-stored: the previous state and its files stay as they were.
            for name in (state or {}).get("work"), (state or {}).get("upload"):
                if name and name not in (previous.get("work"), previous.get("upload")):
                    (self.folder / name).unlink(missing_ok=True)
            raise
        finally:
            tmp.unlink(missing_ok=True)
        return state["detected"]

    def confirm(self, encoding=None, separator=None, decimal=None):
        """Confirm the detected CSV format, or correct it (the table is read again).

        A correction starts over from the uploaded file: roles, findings and
        treatments are cleared.

        Returns
        -------
        dict
            The (re)detected format.
        """
        state = self._require(step="confirm")
        asked = {"encoding": encoding, "separator": separator, "decimal": decimal}
        asked = {k: v for k, v in asked.items() if v not in (None, "")}
        fmt = state["detected"]["format"]
        if fmt != "csv" and asked:
            raise IntakeError(f"a {fmt} file has no encoding, separator or decimal mark to set")
        current = state["format"]
        changed = any(current.get(k) != v for k, v in asked.items())
        if not changed and state["status"] != "received":
            return state["detected"]  # already confirmed; nothing to redo
        if any(current.get(k) != v for k, v in asked.items()):
            settings = {**current, **asked}
            df = read_table(self.folder / state["upload"], fmt, **settings)
            dtypes, preview = describe_frame(df)
            state["detected"].update(
                settings,
                rows=len(df),
                columns=[str(c) for c in df.columns],
                dtypes=dtypes,
                preview=preview,
            )
            state["format"] = settings
            state["roles"], state["findings"] = None, None
            self._new_work(state, df)
        state["status"] = "confirmed"
        self._commit(state)
        return state["detected"]

    def set_roles(self, roles):
        """Declare the columns' roles (checked against the data).

        Parameters
        ----------
        roles : dict
            ``{column: "feature"}`` or ``{column: {"role": "protected", "kind": "sex"}}``;
            columns left out are features.

        Raises
        ------
        IntakeError
            Unknown column or role; no outcome, or an outcome with one or with
            three or more values (the message says what to do); no protected
            attribute, or one with a single value.
        """
        import pyarrow.parquet as pq

        state = self._require(step="roles")
        columns = pq.read_schema(self.folder / state["work"]).names
        roles = normalise_roles(roles, columns)
        checked = [c for c, r in roles.items() if r["role"] in ("target", "protected")]
        _check_roles(self._work(state, columns=checked), roles)
        state["roles"] = roles
        state["findings"] = None
        state["status"] = "roles"
        state["detected"]["preview"] = []  # raw rows are no longer needed on the page
        self._commit(state)
        return roles

    def scan(self):
        """Scan the working table for personal data; findings block until resolved.

        A finding confirmed earlier (same column and kind) keeps its resolution.

        Returns
        -------
        list of dict
            The findings (see :func:`ai4scale.hub.usecase._scan.scan_frame`).
        """
        from ._scan import scan_frame

        state = self._require(step="scan")
        earlier = {
            (f["column"], f["kind"]): f["resolution"]
            for f in state.get("findings") or []
            if (f.get("resolution") or {}).get("action") == "confirm"
        }
        findings = scan_frame(self._work(state), roles=state["roles"], k=state.get("k", self.k))
        for f in findings:
            f["resolution"] = earlier.get((f["column"], f["kind"]))
        state["findings"] = findings
        state["scanned_at"] = _now()
        state["status"] = "scanned"
        self._commit(state)
        return findings

    def _targets(self, state, column):
        open_ = [f for f in state["findings"] if not f.get("resolution")]
        exact = [f for f in open_ if f["column"] == column]
        if exact:
            return exact
        member = [f for f in open_ if column in f.get("columns", [])]
        if member:
            return member
        if any(f["column"] == column or column in f.get("columns", []) for f in state["findings"]):
            raise IntakeError(f"the findings about {column!r} are already resolved")
        raise IntakeError(f"there is no personal-data finding about {column!r}")

    def resolve(self, column, action, reason=None, key=None, *, country=None):
        """Resolve the open findings about ``column``.

        Parameters
        ----------
        column : str
            A column, or the label of a quasi-identifier finding (``"a + b"``);
            a member column of a quasi-identifier finding can be dropped or
            coarsened, after which the combination is checked again.
        action : {"drop", "pseudonymise", "coarsen", "confirm"}
        reason : str, optional
            Required for ``confirm``; written into the datasheet.
        key : bytes or str, optional
            The service's pseudonymisation key (required for
            ``pseudonymise``; never stored).
        country : str, optional
            Country of postcodes for ``coarsen`` (``"FR"``: departments).

        Returns
        -------
        list of dict
            The findings, updated.
        """
        from ._scan import quasi_identifier_finding

        state = self._require(step="resolve")
        if action not in ACTIONS:
            raise IntakeError(f"the action must be one of: {', '.join(ACTIONS)}")
        targets = self._targets(state, column)
        roles = state["roles"]
        qi = [f for f in targets if f["kind"] == "quasi_identifiers"]
        is_member = bool(qi) and column != qi[0]["column"]
        resolution = {"action": action, "at": _now()}
        if action == "confirm":
            resolution["reason"] = require_reason(reason)
            resolution["note"] = "kept on purpose"
        else:
            if reason:
                resolution["reason"] = str(reason).strip()
            if qi and not is_member:
                raise IntakeError(
                    f"say which column of {column!r} to {action} (for example "
                    f"'{qi[0]['columns'][0]}'), or confirm the combination with a reason"
                )
            if qi and action == "pseudonymise":
                raise IntakeError(
                    "pseudonymising does not make groups larger: coarsen or drop a column of "
                    "the combination, or confirm it with a reason"
                )
            role = roles.get(column, {}).get("role")
            df = self._work(state)
            if action == "drop":
                if role == "target":
                    raise IntakeError(
                        f"'{column}' is the outcome and cannot be dropped: pseudonymise, "
                        "coarsen or confirm it"
                    )
                protected = [c for c, r in roles.items() if r["role"] == "protected"]
                if protected == [column]:
                    raise IntakeError(
                        f"'{column}' is the only protected attribute: coarsen it (dates to "
                        "years, ages to bands) or confirm it with a reason"
                    )
                df, note = drop(df, column)
                roles.pop(column, None)
                resolution["dropped"] = column
            elif action == "pseudonymise":
                if not key:
                    raise IntakeError("pseudonymising needs the service's key")
                df, note = pseudonymise(df, column, key, kind=targets[0]["kind"])
            else:
                df, note = coarsen(df, column, country=country)
            resolution["note"] = note
            resolution["column"] = column
            self._new_work(state, df)
        for f in targets:
            if f["kind"] == "quasi_identifiers" and action != "confirm":
                continue
            f["resolution"] = dict(resolution)
        # A dropped or coarsened column changes every quasi-identifier combination it is in.
        if action in ("drop", "coarsen"):
            df = self._work(state)
            for f in state["findings"]:
                if f["kind"] != "quasi_identifiers" or f.get("resolution"):
                    continue
                if column not in f["columns"]:
                    continue
                left = [c for c in f["columns"] if c in df.columns]
                again = quasi_identifier_finding(df, left, f.get("k", self.k))
                if again is None:
                    f["resolution"] = {
                        **resolution,
                        "note": f"{resolution['note']}; every group now has at least "
                        f"{f.get('k', self.k)} rows",
                    }
                else:
                    again["treated"] = [*f.get("treated", []), resolution["note"]]
                    f.clear()
                    f.update(again)
        state["status"] = "scanned"
        self._commit(state)
        return state["findings"]

    def blocking(self):
        """Return the open findings (what keeps ``finish`` from writing the table)."""
        state = self._load()
        return [
            f for f in state.get("findings") or [] if f.get("blocking") and not f.get("resolution")
        ]

    def finish(self):
        """Write ``table.parquet`` when no finding blocks.

        Returns
        -------
        pathlib.Path

        Raises
        ------
        IntakeError
            Listing the findings still open.
        """
        state = self._require(step="finish")
        open_ = [f for f in state["findings"] if f.get("blocking") and not f.get("resolution")]
        if open_:
            listed = "; ".join(f"{f['column']} ({f['kind']})" for f in open_)
            raise IntakeError(
                f"personal data still blocks the table: {listed}. Drop, pseudonymise, coarsen "
                "or confirm each one"
            )
        path = self.folder / TABLE_FILE
        shutil.copyfile(self.folder / state["work"], self.folder / f".{TABLE_FILE}.tmp")
        os.replace(self.folder / f".{TABLE_FILE}.tmp", path)
        state["status"] = "ready"
        state["finished_at"] = _now()
        self._commit(state)
        return path

    def datasheet(self, *, name=None):
        """Draft the datasheet card (``datasets/card.schema.yaml``, kind ``usecase``).

        Parameters
        ----------
        name : str, optional
            The dataset's name (default: the folder's name).

        Returns
        -------
        dict
        """
        from ._datasheet import draft_datasheet

        state = self._require(step="datasheet")
        d = state["detected"]
        source = {
            "filename": state["filename"],
            "format": d["format"],
            "sha256": state["sha256"],
            "encoding": d.get("encoding"),
            "separator": d.get("separator"),
            "decimal": d.get("decimal"),
            "received_at": state.get("received_at"),
        }
        return draft_datasheet(
            self._work(state),
            name=name or self.folder.name,
            roles=state["roles"],
            findings=state["findings"],
            source=source,
            k=state.get("k", self.k),
        )

    def state(self):
        """Return the intake's state as a JSON-able dict (for the API and the page).

        Keys: ``status`` (``received``, ``confirmed``, ``roles``, ``scanned``,
        ``ready``), ``filename``, ``sha256``, ``detected``, ``format``,
        ``roles``, ``findings``, ``blocking`` (the open findings' labels),
        ``ready``; ``{"status": "empty"}`` before anything was received.
        """
        state = self._load()
        if not state:
            return {"status": "empty", "ready": False, "findings": None}
        out = {k: v for k, v in state.items() if k not in ("work", "upload", "work_version")}
        out["blocking"] = [
            f"{f['column']} ({f['kind']})"
            for f in state.get("findings") or []
            if f.get("blocking") and not f.get("resolution")
        ]
        out["ready"] = state.get("status") == "ready" and (self.folder / TABLE_FILE).is_file()
        return out
