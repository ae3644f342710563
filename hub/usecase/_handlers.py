"""The use-case REST API (``/api/usecases``, see ``openapi.yaml``): thin handlers over the store.

The handlers follow the course service's :class:`APIHandler` conventions
(hub OAuth person, JSON errors). Who may act is decided by
:class:`~._store.UseCaseStore` from hub groups. Uploads (tables, models) are
raw request bodies streamed to a root-only temporary file with their own
limit (``CourseConfig.usecase_max_upload_bytes``): a declared length above it
is refused with 413 before anything is read, and an interrupted upload leaves
nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile

from ai4scale.hub.course._errors import BadRequest, CourseError, Forbidden
from ai4scale.hub.course._handlers import APIHandler, api
from tornado import web

from . import _store

__all__ = ["usecase_handlers"]

#: The connection's own body limit for uploads: above any upload limit, never reached.
_NO_TORNADO_LIMIT = 1 << 50

#: Largest JSON body of the results a kernel saves (figures travel as PNG base64).
MAX_RESULTS_BYTES = 64 << 20


class UseCaseHandler(APIHandler):
    """Base of the use-case handlers: the store, checked names, blocking work in a thread."""

    @property
    def store(self):
        """The :class:`UseCaseStore` of the course."""
        return _store.UseCaseStore(self.course)

    async def prepare(self):
        """Authenticate, then check the person's right to the use case in the path.

        Done before the body is looked at, so that another team learns
        nothing from a malformed request (always 403).
        """
        await super().prepare()
        if not self._finished:
            await self.authorize_path()

    async def authorize_path(self):
        """Raise 403 (or 404 for instructors) unless the person may act on the path's use case."""
        if not self.path_args:
            return
        try:
            await self.in_thread(self.store.authorize, self.person, self.path_args[0])
        except CourseError as e:
            raise web.HTTPError(e.status, "%s", str(e)) from None

    async def call(self, method, *args, **kwargs):
        """Run ``store.<method>(person, *args, **kwargs)`` off the event loop."""
        return await self.in_thread(getattr(self.store, method), self.person, *args, **kwargs)

    def body_field(self, data, key, types=str, *, required=True):
        """Return ``data[key]`` checked to be of ``types``."""
        if key not in data or data[key] is None:
            if required:
                raise BadRequest(f"the request body needs {key!r}")
            return None
        if not isinstance(data[key], types):
            raise BadRequest(f"{key!r} has the wrong type")
        return data[key]


class _LargeJSONHandler(UseCaseHandler):
    """A JSON body up to :data:`MAX_RESULTS_BYTES` (results with figures), kept in memory."""

    max_body = MAX_RESULTS_BYTES

    async def prepare(self):  # noqa: D102
        self._body = bytearray()
        length = self.request.headers.get("Content-Length", "0")
        if not length.isdigit() or int(length) > self.max_body:
            await _refuse(self, length, self.max_body)
            return
        self.request.connection.set_max_body_size(max(self.max_body, _NO_TORNADO_LIMIT))
        await super(APIHandler, self).prepare()
        if self.person is None:
            raise web.HTTPError(403, "not logged in to the hub (or no access to the course)")
        await self.authorize_path()

    def data_received(self, chunk):  # noqa: D102
        # Past the limit (chunked: no length declared) read to the end, dropped and
        # refused then (the api wrapper), as the course API does.
        if self._finished or getattr(self, "_refused", False):
            return
        self._body += chunk
        if len(self._body) > self.max_body:
            self._refused = True
            self._body = bytearray()
            self._refusal = (
                f"the file is too large (more than {self.max_body} bytes): "
                f"files up to {self.max_body / 1e6:.0f} MB are accepted"
            )


async def _refuse(handler, length, limit):
    # 413 at once, then hang up: the rest of the body is never read.
    handler.set_status(413)
    handler.set_header("Content-Type", "application/json; charset=UTF-8")
    handler.set_header("Connection", "close")
    message = (
        f"the file is too large ({length} bytes): files up to {limit / 1e6:.0f} MB are accepted"
    )
    await handler.finish(json.dumps({"error": message}))
    handler.request.connection.close()


class UploadHandler(UseCaseHandler):
    """A raw body streamed to a root-only temporary file, with the upload limit.

    Before a byte is read, :meth:`prepare` checks the declared length, the
    person and their right to the use case (so a refused upload is never
    received). The temporary file is removed when the request ends, however
    it ends.
    """

    _tmp = None
    _file = None
    _received = 0

    @property
    def limit(self):
        """The upload limit in bytes (``usecase_max_upload_bytes``)."""
        return self.course.config.usecase_max_upload_bytes

    async def prepare(self):  # noqa: D102
        self._body = bytearray()
        length = self.request.headers.get("Content-Length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await _refuse(self, length, self.limit)
            return
        # data_received refuses past the limit with the 413 and its message; tornado's own
        # limit would drop a chunked body (no length known before) without an answer.
        self.request.connection.set_max_body_size(max(self.limit, _NO_TORNADO_LIMIT))
        await super(APIHandler, self).prepare()
        if self.person is None:
            raise web.HTTPError(403, "not logged in to the hub (or no access to the course)")
        await self.authorize_path()
        try:
            _store.check_name(self.path_args[1])
        except CourseError as e:
            raise web.HTTPError(e.status, "%s", str(e)) from None
        fd, self._tmp = tempfile.mkstemp(prefix="upload-", dir=self.store.upload_dir())
        self._file = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()

    def data_received(self, chunk):  # noqa: D102
        if self._finished or self._file is None or getattr(self, "_refused", False):
            return
        self._received += len(chunk)
        if self._received > self.limit:  # no Content-Length (chunked): count
            # Read to the end and dropped, refused then (the api wrapper): a 413
            # sent mid-body is lost when the connection is reset under the sender.
            self._refused = True
            self._discard()
            self._refusal = (
                f"the file is too large (more than {self.limit} bytes): "
                f"files up to {self.limit / 1e6:.0f} MB are accepted"
            )
            return
        self._file.write(chunk)
        self._hash.update(chunk)

    def received_file(self):
        """Close and return the path of the received body (BadRequest when empty)."""
        self._file.close()
        if self._received == 0:
            raise BadRequest("the request has no file in its body")
        return self._tmp

    def _discard(self):
        if self._file is not None:
            self._file.close()
        if self._tmp is not None:
            try:
                os.unlink(self._tmp)
            except FileNotFoundError:
                pass
            self._tmp = None

    def on_connection_close(self):
        """Delete what was received when the client goes away mid-upload."""
        self._discard()
        super().on_connection_close()

    def on_finish(self):
        """Delete the temporary file (the store keeps its own copy)."""
        self._discard()


# -- use cases --------------------------------------------------------------------------


class UseCasesHandler(UseCaseHandler):
    """``GET|POST /api/usecases``."""

    @api
    async def get(self):  # noqa: D102
        self.write_json(await self.call("list"))

    @api
    async def post(self):  # noqa: D102
        self.write_json(await self.call("create", self.json_body()), status=201)


class UseCaseItemHandler(UseCaseHandler):
    """``GET|PUT /api/usecases/{id}``."""

    @api
    async def get(self, usecase_id):  # noqa: D102
        self.write_json(await self.call("get", usecase_id))

    @api
    async def put(self, usecase_id):  # noqa: D102
        self.write_json(await self.call("update", usecase_id, self.json_body()))


class VersionsHandler(UseCaseHandler):
    """``GET /api/usecases/{id}/versions``."""

    @api
    async def get(self, usecase_id):  # noqa: D102
        self.write_json(await self.call("versions", usecase_id))


class QuestionnaireHandler(UseCaseHandler):
    """``GET /api/usecases/questionnaire``."""

    @api
    async def get(self):  # noqa: D102
        data = await self.in_thread(_store.questionnaire)
        data["ai_act_areas"] = _store.ANNEX_III
        self.write_json(data)


# -- datasets ---------------------------------------------------------------------------


class DatasetUploadHandler(UploadHandler):
    """``POST /api/usecases/{id}/datasets/{name}?filename=F`` (raw body)."""

    @api
    async def post(self, usecase_id, name):  # noqa: D102
        filename = self.get_query_argument("filename", "")
        path = self.received_file()
        out = await self.call("receive_dataset", usecase_id, name, path, filename)
        self.write_json(out, status=201)


class DatasetFromWorkspaceHandler(UseCaseHandler):
    """``POST /api/usecases/{id}/datasets/{name}/from-workspace`` ``{path}``."""

    @api
    async def post(self, usecase_id, name):  # noqa: D102
        from ai4scale.hub.teams import workspace_user

        path = _store.check_workspace_path(self.body_field(self.json_body(), "path"))
        _store.check_name(name)
        team = await self.in_thread(self.store.authorize, self.person, usecase_id)
        user = workspace_user(team)
        limit = self.course.config.usecase_max_upload_bytes
        await self.hub.require_server(user, team=True)
        model = await self.hub.stat(user, path)
        if model is None:
            raise BadRequest(f"there is no file {path} in your team's workspace")
        if model.get("type") == "directory":
            raise BadRequest(f"{path} is a folder: give a file")
        if (model.get("size") or 0) > limit:
            raise web.HTTPError(413, "%s", f"{path} is larger than {limit / 1e6:.0f} MB")
        data = await self.hub.read(user, path, max_bytes=limit)
        fd, tmp = tempfile.mkstemp(prefix="workspace-", dir=self.store.upload_dir())
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            del data
            filename = path.rsplit("/", 1)[-1]
            out = await self.call("receive_dataset", usecase_id, name, tmp, filename)
        finally:
            os.unlink(tmp)
        self.write_json(out, status=201)


class DatasetFormatHandler(UseCaseHandler):
    """``PUT /api/usecases/{id}/datasets/{name}/format``."""

    @api
    async def put(self, usecase_id, name):  # noqa: D102
        self.write_json(await self.call("confirm_format", usecase_id, name, self.json_body()))


class DatasetRolesHandler(UseCaseHandler):
    """``PUT /api/usecases/{id}/datasets/{name}/roles`` (runs the personal-data scan)."""

    @api
    async def put(self, usecase_id, name):  # noqa: D102
        body = self.json_body()
        roles = body.get("roles", body)
        self.write_json(await self.call("set_roles", usecase_id, name, roles))


class DatasetResolveHandler(UseCaseHandler):
    """``POST /api/usecases/{id}/datasets/{name}/resolve`` ``{column, action, reason}``."""

    @api
    async def post(self, usecase_id, name):  # noqa: D102
        body = self.json_body()
        out = await self.call(
            "resolve",
            usecase_id,
            name,
            self.body_field(body, "column"),
            self.body_field(body, "action"),
            self.body_field(body, "reason", required=False),
        )
        self.write_json(out)


class DatasheetHandler(UseCaseHandler):
    """``GET|PUT /api/usecases/{id}/datasets/{name}/datasheet``."""

    @api
    async def get(self, usecase_id, name):  # noqa: D102
        self.write_json(await self.call("datasheet", usecase_id, name))

    @api
    async def put(self, usecase_id, name):  # noqa: D102
        sheet = self.body_field(self.json_body(), "datasheet", dict)
        self.write_json(await self.call("save_datasheet", usecase_id, name, sheet))


class TableHandler(UseCaseHandler):
    """``GET /api/usecases/{id}/datasets/{name}/table.parquet``."""

    @api
    async def get(self, usecase_id, name):  # noqa: D102
        path = await self.call("table_path", usecase_id, name)
        await self.send_file(path, "application/vnd.apache.parquet", f"{name}.parquet")

    async def send_file(self, path, content_type, filename):
        """Stream a file of the service's area to the client."""
        self.set_header("Content-Type", content_type)
        self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Length", str(path.stat().st_size))
        with open(path, "rb") as f:
            while True:
                block = f.read(1 << 20)
                if not block:
                    break
                self.write(block)
                await self.flush()
        self.finish()


# -- models -----------------------------------------------------------------------------


class ModelUploadHandler(UploadHandler):
    """``POST /api/usecases/{id}/models/{name}?filename=F`` (raw body), or ``?kind=...``."""

    @api
    async def post(self, usecase_id, name):  # noqa: D102
        kind = self.get_query_argument("kind", "")
        if kind in ("scores", "baseline"):
            column = self.get_query_argument("column", "")
            out = await self.call("register_model", usecase_id, name, kind, column)
            self.write_json(out, status=201)
            return
        filename = self.get_query_argument("filename", "")
        _store.UseCaseStore.model_kind(filename)  # a pickle is refused before its bytes matter
        path = self.received_file()
        self.write_json(
            await self.call("receive_model", usecase_id, name, path, filename), status=201
        )


class ModelApproveHandler(UseCaseHandler):
    """``POST /api/usecases/{id}/models/{name}/approve`` (instructors)."""

    @api
    async def post(self, usecase_id, name):  # noqa: D102
        if not self.person.instructor:
            raise Forbidden("only instructors may approve a model")
        self.write_json(await self.call("approve_model", usecase_id, name))


class ModelFileHandler(TableHandler):
    """``GET /api/usecases/{id}/models/{name}/file``."""

    @api
    async def get(self, usecase_id, name):  # noqa: D102
        path, filename = await self.call("model_file", usecase_id, name)
        await self.send_file(path, "application/octet-stream", filename or path.name)


# -- notebook, results, questionnaire, dossier -----------------------------------------


class NotebookHandler(UseCaseHandler):
    """``POST /api/usecases/{id}/notebook`` ``{dataset?, model?}``."""

    @api
    async def post(self, usecase_id):  # noqa: D102
        body = self.json_body()
        out = await _store.generate_notebook(
            self.course,
            self.hub,
            self.person,
            usecase_id,
            dataset=self.body_field(body, "dataset", required=False),
            model=self.body_field(body, "model", required=False),
        )
        self.write_json(out, status=201)


class ResultsHandler(_LargeJSONHandler):
    """``GET|POST /api/usecases/{id}/results`` ``{payload, notebook_sha256}`` (from a kernel)."""

    @api
    async def get(self, usecase_id):  # noqa: D102
        self.write_json(await self.call("results", usecase_id))

    @api
    async def post(self, usecase_id):  # noqa: D102
        body = self.json_body()
        out = await self.call(
            "save_results",
            usecase_id,
            self.body_field(body, "payload", dict),
            self.body_field(body, "notebook_sha256"),
        )
        self.write_json(out, status=201)


class AnswerHandler(UseCaseHandler):
    """``PUT /api/usecases/{id}/answers/{qid}`` ``{text, cites}``."""

    @api
    async def put(self, usecase_id, qid):  # noqa: D102
        body = self.json_body()
        text = self.body_field(body, "text")
        cites = self.body_field(body, "cites", list, required=False) or []
        self.write_json(await self.call("answer", usecase_id, qid, text, cites))


class AnswersHandler(UseCaseHandler):
    """``GET /api/usecases/{id}/answers``: every saved answer and comment."""

    @api
    async def get(self, usecase_id):  # noqa: D102
        answers = await self.call("answers", usecase_id)
        comments = await self.call("comments", usecase_id)
        self.write_json({"answers": answers, "comments": comments})


class CommentHandler(UseCaseHandler):
    """``POST /api/usecases/{id}/comments/{qid}`` ``{text}`` (instructors)."""

    @api
    async def post(self, usecase_id, qid):  # noqa: D102
        if not self.person.instructor:
            raise Forbidden("only instructors may comment")
        text = self.body_field(self.json_body(), "text")
        self.write_json(await self.call("comment", usecase_id, qid, text), status=201)


class DossierHandler(TableHandler):
    """``GET /api/usecases/{id}/report.html`` and ``/export.zip`` (part "dossier")."""

    @api
    async def get(self, usecase_id, what):  # noqa: D102
        from pathlib import Path

        await self.in_thread(self.store.authorize, self.person, usecase_id)
        with tempfile.TemporaryDirectory(dir=self.store.upload_dir()) as tmp:
            html, zipped = await self.in_thread(self.store.export, usecase_id, tmp, self.person)
            if what == "report.html":
                self.set_header(
                    "Content-Security-Policy",
                    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                    "frame-ancestors 'self'",
                )
                self.set_header("Content-Type", "text/html; charset=UTF-8")
                self.set_header("Cache-Control", "no-store")
                self.finish(Path(html).read_bytes())
            else:
                await self.send_file(Path(zipped), "application/zip", f"{usecase_id}.zip")


_ID = r"([^/]+)"


def usecase_handlers():
    """Return ``(path, handler)`` of the use-case API, relative to ``/api``.

    The course service's :func:`~ai4scale.hub.course._handlers.api_handlers`
    puts them before its catch-all.
    """
    return [
        ("/usecases", UseCasesHandler),
        ("/usecases/questionnaire", QuestionnaireHandler),
        (f"/usecases/{_ID}", UseCaseItemHandler),
        (f"/usecases/{_ID}/versions", VersionsHandler),
        (f"/usecases/{_ID}/datasets/{_ID}", DatasetUploadHandler),
        (f"/usecases/{_ID}/datasets/{_ID}/from-workspace", DatasetFromWorkspaceHandler),
        (f"/usecases/{_ID}/datasets/{_ID}/format", DatasetFormatHandler),
        (f"/usecases/{_ID}/datasets/{_ID}/roles", DatasetRolesHandler),
        (f"/usecases/{_ID}/datasets/{_ID}/resolve", DatasetResolveHandler),
        (f"/usecases/{_ID}/datasets/{_ID}/datasheet", DatasheetHandler),
        (f"/usecases/{_ID}/datasets/{_ID}/table\\.parquet", TableHandler),
        (f"/usecases/{_ID}/models/{_ID}", ModelUploadHandler),
        (f"/usecases/{_ID}/models/{_ID}/approve", ModelApproveHandler),
        (f"/usecases/{_ID}/models/{_ID}/file", ModelFileHandler),
        (f"/usecases/{_ID}/notebook", NotebookHandler),
        (f"/usecases/{_ID}/results", ResultsHandler),
        (f"/usecases/{_ID}/answers", AnswersHandler),
        (f"/usecases/{_ID}/answers/{_ID}", AnswerHandler),
        (f"/usecases/{_ID}/comments/{_ID}", CommentHandler),
        (f"/usecases/{_ID}/(report\\.html|export\\.zip)", DossierHandler),
    ]
