"""Use cases' files: tables through the intake, models never unpickled.

A mixin of :class:`~._store.UseCaseStore`: the tables (``Intake`` folders of
part "intake") and models in ``course.path("usecases", <id>)``, their rows in
the gradebook.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from ai4scale.hub.course._errors import BadRequest, Conflict, Forbidden, NotFound
from sqlalchemy import select

from ._access import (
    _EDITS_FILE,
    _MAX_FIELD,
    _REFUSED_MODEL_SUFFIXES,
    _intake_module,
    _iso,
    _lock,
    _mkdir,
    _sha256_file,
    _utcnow,
    _write_atomic,
    check_name,
)

__all__ = ["FilesMixin"]


class FilesMixin:
    """Tables and models of a use case (see :class:`~._store.UseCaseStore`)."""

    # -- datasets ---------------------------------------------------------------------

    def _datasets(self, s, usecase_id):
        from ai4scale.grading.gradebook import UseCaseDataset

        return list(
            s.scalars(
                select(UseCaseDataset)
                .where(UseCaseDataset.usecase_id == usecase_id)
                .order_by(UseCaseDataset.name)
            )
        )

    @staticmethod
    def _dataset_dict(d):
        return {
            "name": d.name,
            "status": d.status,
            "sha256": d.sha256,
            "state": d.state,
            "created_by": d.created_by,
            "created_at": _iso(d.created_at),
            "updated_at": _iso(d.updated_at),
        }

    def _dataset_row(self, s, usecase_id, name):
        from ai4scale.grading.gradebook import UseCaseDataset

        row = s.scalar(
            select(UseCaseDataset).where(
                UseCaseDataset.usecase_id == usecase_id, UseCaseDataset.name == name
            )
        )
        if row is None:
            raise NotFound(f"no table named {name!r} in this use case")
        return row

    def dataset_dir(self, usecase_id, name):
        """Return the Intake folder of a dataset (not created)."""
        return self.folder(usecase_id, "datasets") / check_name(name, "table name")

    def _intake(self, usecase_id, name):
        return _intake_module().Intake(self.dataset_dir(usecase_id, name))

    def _intake_error(self):
        return getattr(_intake_module(), "IntakeError", ValueError)

    def _status(self, folder, state):
        if (folder / "table.parquet").is_file():
            return "ready"
        status = state.get("status") if isinstance(state, dict) else None
        if isinstance(status, str) and status:
            return status[:20]
        return (
            "scanned"
            if isinstance(state, dict) and state.get("findings") is not None
            else ("received")
        )

    def _save_state(self, usecase_id, name, intake, *, person, sha256=None, create=False):
        from ai4scale.grading.gradebook import UseCaseDataset

        state = json.loads(json.dumps(intake.state(), default=str))
        folder = self.dataset_dir(usecase_id, name)
        with self.session() as s, s.begin():
            if create:
                row = s.scalar(
                    select(UseCaseDataset).where(
                        UseCaseDataset.usecase_id == usecase_id, UseCaseDataset.name == name
                    )
                )
                if row is None:
                    row = UseCaseDataset(usecase_id=usecase_id, name=name, created_by=person.name)
                    s.add(row)
                else:
                    row.created_by, row.created_at = person.name, _utcnow()
            else:
                row = self._dataset_row(s, usecase_id, name)
            if sha256 is not None:
                row.sha256 = sha256
            row.state = state
            row.status = self._status(folder, state)
            row.updated_at = _utcnow()
            s.flush()  # the defaults (created_at) are set at the flush
            return self._dataset_dict(row)

    def receive_dataset(self, person, usecase_id, name, src, filename):
        """Take an uploaded table: detect its format (to confirm) and keep it.

        A table of the same name is replaced only when the new file is read
        without error; on an error nothing is kept and the old table stays.

        Parameters
        ----------
        person : Person
        usecase_id, name : str
        src : path-like
            The received file (the caller deletes it afterwards).
        filename : str
            The name it had on the team's computer (its extension says the format).

        Returns
        -------
        dict
            The dataset, with ``state`` (``Intake.state()``: the detected format).
        """
        self.authorize(person, usecase_id)
        check_name(name, "table name")
        if not isinstance(filename, str) or not filename or len(filename) > 300:
            raise BadRequest("give the file's name (?filename=cases.csv)")
        filename = PurePosixPath(filename.replace("\\", "/")).name
        if not filename or filename in ("..", "."):
            raise BadRequest("invalid file name")
        sha256 = _sha256_file(src)
        intake_error = self._intake_error()
        folder = self.dataset_dir(usecase_id, name)
        with _lock("dataset", usecase_id, name):
            old = None
            if folder.exists():
                old = folder.with_name(f".old-{name}-{secrets.token_hex(4)}")
                folder.rename(old)
            try:
                _mkdir(folder)
                intake = _intake_module().Intake(folder)
                intake.receive(Path(src), filename)
                out = self._save_state(
                    usecase_id, name, intake, person=person, sha256=sha256, create=True
                )
            except BaseException as e:
                shutil.rmtree(folder, ignore_errors=True)
                if old is not None:
                    old.rename(folder)
                if isinstance(e, intake_error):
                    raise BadRequest(str(e)) from None
                raise
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            return out

    def _step(self, person, usecase_id, name, step):
        self.authorize(person, usecase_id)
        check_name(name, "table name")
        with self.session() as s:
            self._dataset_row(s, usecase_id, name)
        intake_error = self._intake_error()
        with _lock("dataset", usecase_id, name):
            intake = self._intake(usecase_id, name)
            try:
                step(intake)
            except intake_error as e:
                raise BadRequest(str(e)) from None
            return self._save_state(usecase_id, name, intake, person=person)

    @staticmethod
    def _finish_if_clear(intake, intake_error):
        findings = intake.state().get("findings") or []
        if any(f.get("blocking") and not f.get("resolution") for f in findings):
            return
        try:
            intake.finish()
        except intake_error:
            pass  # the state says what still blocks

    def confirm_format(self, person, usecase_id, name, settings):
        """Confirm (or correct) the detected encoding, separator and decimal mark."""
        if not isinstance(settings, dict):
            raise BadRequest("the format must be a JSON object")
        allowed = {"encoding", "separator", "decimal"}
        unknown = set(settings) - allowed
        if unknown:
            raise BadRequest(f"unknown format setting(s): {', '.join(sorted(unknown))}")
        for key, value in settings.items():
            if value is not None and (not isinstance(value, str) or len(value) > 40):
                raise BadRequest(f"{key} must be text")
        return self._step(person, usecase_id, name, lambda i: i.confirm(**settings))

    def set_roles(self, person, usecase_id, name, roles):
        """Declare the columns' roles, then scan for personal data (the findings block)."""
        if not isinstance(roles, dict) or not roles:
            raise BadRequest("give the columns' roles as {column: role}")
        intake_error = self._intake_error()

        def step(intake):
            intake.set_roles(roles)
            intake.scan()
            self._finish_if_clear(intake, intake_error)

        return self._step(person, usecase_id, name, step)

    def resolve(self, person, usecase_id, name, column, action, reason=None):
        """Resolve one finding: ``drop``, ``pseudonymise``, ``coarsen`` or ``confirm``.

        When no finding blocks any more, ``table.parquet`` is written.
        """
        if not isinstance(column, str) or not column:
            raise BadRequest("say which column (column)")
        if action not in ("drop", "pseudonymise", "coarsen", "confirm"):
            raise BadRequest("action must be drop, pseudonymise, coarsen or confirm")
        if reason is not None and (not isinstance(reason, str) or len(reason) > _MAX_FIELD):
            raise BadRequest("the reason must be text")
        key = self.key(usecase_id)
        intake_error = self._intake_error()

        def step(intake):
            intake.resolve(column, action, reason=reason, key=key)
            self._finish_if_clear(intake, intake_error)

        return self._step(person, usecase_id, name, step)

    def datasheet(self, person, usecase_id, name):
        """Return the datasheet: the draft, with the team's edits over it."""
        self.authorize(person, usecase_id)
        with self.session() as s:
            self._dataset_row(s, usecase_id, name)
        intake_error = self._intake_error()
        folder = self.dataset_dir(usecase_id, name)
        try:
            sheet = dict(self._intake(usecase_id, name).datasheet())
        except intake_error as e:
            raise Conflict(str(e)) from None
        edits_file = folder / _EDITS_FILE
        edited = edits_file.is_file()
        if edited:
            sheet.update(json.loads(edits_file.read_text(encoding="utf-8")))
        return {"name": name, "datasheet": sheet, "edited": edited}

    def save_datasheet(self, person, usecase_id, name, sheet):
        """Keep the team's edits of the datasheet (the sections they changed)."""
        if not isinstance(sheet, dict):
            raise BadRequest("the datasheet must be a JSON object")
        self.authorize(person, usecase_id)
        with self.session() as s:
            self._dataset_row(s, usecase_id, name)
        folder = self.dataset_dir(usecase_id, name)
        with _lock("dataset", usecase_id, name):
            _write_atomic(folder / _EDITS_FILE, json.dumps(sheet, default=str).encode())
        return self.datasheet(person, usecase_id, name)

    def table_path(self, person, usecase_id, name):
        """Return the path of the dataset's ``table.parquet`` (Conflict until it is ready)."""
        self.authorize(person, usecase_id)
        with self.session() as s:
            self._dataset_row(s, usecase_id, name)
        path = self.dataset_dir(usecase_id, name) / "table.parquet"
        if not path.is_file():
            raise Conflict(
                f"the table {name!r} is not ready yet: resolve every personal-data finding first"
            )
        return path

    # -- models -----------------------------------------------------------------------

    def _models(self, s, usecase_id):
        from ai4scale.grading.gradebook import UseCaseModel

        return list(
            s.scalars(
                select(UseCaseModel)
                .where(UseCaseModel.usecase_id == usecase_id)
                .order_by(UseCaseModel.name)
            )
        )

    @staticmethod
    def _model_dict(m):
        return {
            "name": m.name,
            "kind": m.kind,
            "filename": m.filename,
            "sha256": m.sha256,
            "size": m.size,
            "column": m.column,
            "untrusted_types": list(m.untrusted_types or []),
            "needs_approval": bool(m.untrusted_types) and not m.approved_by,
            "approved_by": m.approved_by,
            "approved_at": _iso(m.approved_at),
            "created_by": m.created_by,
            "created_at": _iso(m.created_at),
        }

    def _model_row(self, s, usecase_id, name):
        from ai4scale.grading.gradebook import UseCaseModel

        row = s.scalar(
            select(UseCaseModel).where(
                UseCaseModel.usecase_id == usecase_id, UseCaseModel.name == name
            )
        )
        if row is None:
            raise NotFound(f"no model named {name!r} in this use case")
        return row

    @staticmethod
    def model_kind(filename):
        """Return ``"skops"`` or ``"onnx"`` from a model file's name; refuse pickles.

        Raises
        ------
        BadRequest
            A pickle (``.pkl``, ``.joblib``, ...): opening one runs whatever
            program it holds, so it is never opened; or an unknown extension.
        """
        lower = str(filename).lower()
        if lower.endswith(_REFUSED_MODEL_SUFFIXES):
            raise BadRequest(
                f"{filename}: pickle files (.pkl, .pickle, .joblib) are refused, because "
                "opening one can run any program hidden in it. Save the model with skops "
                "(skops.io.dump(model, 'model.skops')) or export it to ONNX, then upload that."
            )
        if lower.endswith(".skops"):
            return "skops"
        if lower.endswith(".onnx"):
            return "onnx"
        raise BadRequest(
            f"{filename}: upload a scikit-learn model saved with skops (.skops) or an "
            "ONNX model (.onnx)"
        )

    @staticmethod
    def _inspect_model(kind, path):
        if kind == "skops":
            from skops.io import get_untrusted_types

            try:  # reads the file's schema; loads nothing
                return sorted(get_untrusted_types(file=str(path)))
            except Exception as e:  # noqa: BLE001 - any failure: not a skops file
                raise BadRequest(f"this is not a model saved with skops ({e})") from None
        import onnxruntime

        try:
            onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - any failure: not a usable ONNX model
            raise BadRequest(f"this ONNX model cannot be run ({str(e)[:300]})") from None
        return []

    def receive_model(self, person, usecase_id, name, src, filename):
        """Keep an uploaded model file (skops or ONNX), never unpickling it.

        A skops file's untrusted types are recorded: an instructor approves
        them (:meth:`approve_model`) before the assessment loads the model.
        """
        from ai4scale.grading.gradebook import UseCaseModel

        self.authorize(person, usecase_id)
        check_name(name, "model name")
        if not isinstance(filename, str) or not filename:
            raise BadRequest("give the file's name (?filename=model.skops)")
        kind = self.model_kind(filename)
        untrusted = self._inspect_model(kind, src)
        sha256 = _sha256_file(src)
        size = os.path.getsize(src)
        folder = self.folder(usecase_id, "models")
        with _lock("model", usecase_id, name):
            staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=folder))
            target_name = f"model.{kind}"
            try:
                shutil.copyfile(src, staging / target_name)
                os.chmod(staging / target_name, 0o600)
                final = folder / name
                old = None
                if final.exists():
                    old = final.with_name(f".old-{name}-{secrets.token_hex(4)}")
                    final.rename(old)
                staging.rename(final)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            with self.session() as s, s.begin():
                row = s.scalar(
                    select(UseCaseModel).where(
                        UseCaseModel.usecase_id == usecase_id, UseCaseModel.name == name
                    )
                )
                if row is None:
                    row = UseCaseModel(usecase_id=usecase_id, name=name)
                    s.add(row)
                row.kind, row.filename, row.sha256, row.size = kind, filename[:300], sha256, size
                row.untrusted_types, row.column = untrusted, ""
                row.approved_by, row.approved_at = None, None
                row.created_by, row.created_at = person.name, _utcnow()
                s.flush()
                return self._model_dict(row)

    def register_model(self, person, usecase_id, name, kind, column=""):
        """Record a model without a file: ``scores`` (a column of the table) or ``baseline``."""
        from ai4scale.grading.gradebook import UseCaseModel

        self.authorize(person, usecase_id)
        check_name(name, "model name")
        if kind not in ("scores", "baseline"):
            raise BadRequest("without a file, the kind is 'scores' or 'baseline'")
        if kind == "scores" and (not isinstance(column, str) or not column or len(column) > 200):
            raise BadRequest("say which column holds the existing system's scores (column)")
        with _lock("model", usecase_id, name), self.session() as s, s.begin():
            shutil.rmtree(self.folder(usecase_id, "models") / name, ignore_errors=True)
            row = s.scalar(
                select(UseCaseModel).where(
                    UseCaseModel.usecase_id == usecase_id, UseCaseModel.name == name
                )
            )
            if row is None:
                row = UseCaseModel(usecase_id=usecase_id, name=name)
                s.add(row)
            row.kind, row.filename, row.sha256, row.size = kind, "", "", 0
            row.untrusted_types, row.column = [], column if kind == "scores" else ""
            row.approved_by, row.approved_at = None, None
            row.created_by, row.created_at = person.name, _utcnow()
            s.flush()
            return self._model_dict(row)

    def approve_model(self, person, usecase_id, name):
        """Approve a model's untrusted types (instructors only)."""
        if not person.instructor:
            raise Forbidden("only instructors may approve a model")
        with self.session() as s, s.begin():
            self._row(s, usecase_id, person)
            row = self._model_row(s, usecase_id, check_name(name, "model name"))
            row.approved_by, row.approved_at = person.name, _utcnow()
            return self._model_dict(row)

    def model_file(self, person, usecase_id, name):
        """Return (path, filename) of an uploaded model file."""
        with self.session() as s:
            self._row(s, usecase_id, person)
            row = self._model_row(s, usecase_id, check_name(name, "model name"))
            kind, filename = row.kind, row.filename
        path = self.folder(usecase_id, "models") / name / f"model.{kind}"
        if kind not in ("skops", "onnx") or not path.is_file():
            raise NotFound(f"the model {name!r} has no file")
        return path, filename
