"""Reading a GraphQL request over HTTP: its parameters from the query string, a JSON
body or a multipart body (file uploads), refused with a status and a code when they
are malformed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartParser
from starlette.requests import Request

from ezhr_graphql.api.guards.persisted import wants_persisted

JSON = "application/json"

BAD_REQUEST = "BAD_REQUEST"
STATUS_CODES = {
    400: BAD_REQUEST,
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    411: "LENGTH_REQUIRED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


class RequestError(Exception):
    """The request is not a well-formed GraphQL request: answered with ``status`` and
    an error carrying ``code`` (by default the status's own, from ``STATUS_CODES``)."""

    def __init__(
        self,
        status: int,
        message: str,
        headers: Mapping[str, str] | None = None,
        code: str | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.code = code or STATUS_CODES.get(status, BAD_REQUEST)


def _json_param(raw: str | None, name: str) -> Any:
    if raw is None or raw == "":
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestError(400, f"The `{name}` parameter is not valid JSON") from exc


async def read_body(request: Request, limit: int) -> bytes:
    """The body, read no further than ``limit`` bytes.

    Raises:
        RequestError: 413 when the body (or its declared length) is over the limit.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"The request body is over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, f"The request body is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_params(request: Request, max_body: int = 1024 * 1024) -> dict[str, Any]:
    """The request's ``query``/``operationName``/``variables``/``extensions``.

    Raises:
        RequestError: 400 or 415 for anything that is not a well-formed GraphQL request.
    """
    if request.method == "GET":
        q = request.query_params
        params: Any = {
            "query": q.get("query"),
            "operationName": q.get("operationName"),
            "variables": _json_param(q.get("variables"), "variables"),
            "extensions": _json_param(q.get("extensions"), "extensions"),
        }
    else:
        content_type = request.headers.get("content-type", "")
        media, *options = (part.strip().lower() for part in content_type.split(";"))
        if media == MULTIPART:
            return _checked(await read_multipart(request))
        if media != JSON:
            raise RequestError(415, "POST bodies must be application/json or multipart/form-data")
        for option in options:
            name, _, value = option.partition("=")
            if name.strip() == "charset" and value.strip().strip('"') not in ("utf-8", "utf8"):
                raise RequestError(415, "POST bodies must be UTF-8 encoded")
        body = await read_body(request, max_body)
        if not body:
            raise RequestError(400, "The request body is empty")
        try:
            params = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise RequestError(400, "The request body is not valid JSON") from exc
    return _checked(params)


def _checked(params: Any) -> dict[str, Any]:
    if isinstance(params, list):
        raise RequestError(
            400,
            "Batched requests (a JSON array) are not supported: send each operation in "
            "a request of its own",
            code="BATCHING_NOT_SUPPORTED",
        )
    if not isinstance(params, dict):
        raise RequestError(400, "The request body must be a JSON object")
    if params.get("operationName") == "":
        params["operationName"] = None  # the spec's "no name" spelled as a GET parameter
    for name, kind in (("operationName", str), ("variables", dict), ("extensions", dict)):
        given = params.get(name)
        if given is not None and not isinstance(given, kind):
            article = "a string" if kind is str else "an object"
            raise RequestError(400, f"The `{name}` parameter must be {article} or null")
    query = params.get("query")
    # A persisted query may name its document by hash alone.
    if query is None and wants_persisted(params.get("extensions")):
        return params
    if not isinstance(query, str) or not query:
        raise RequestError(400, "The `query` parameter must be a non-empty string")
    return params


MULTIPART = "multipart/form-data"
MAX_UPLOAD_FILES = 10


def _set_path(params: dict[str, Any], path: str, value: Any) -> None:
    """Put ``value`` where ``path`` (``variables.input.file``, ``variables.files.0``)
    points in the operations object."""
    *parents, last = path.split(".")
    target: Any = params
    try:
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        elif isinstance(target, dict) and last in target:
            target[last] = value
        else:
            raise KeyError(last)
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        raise RequestError(400, f"The `map` names a path that does not exist: {path}") from exc


class _MultiPartParser(MultiPartParser):
    """Starlette's parser, closing the file of a part the body ends in the middle of.

    Starlette (1.10) keeps such a file out of the form without closing it, so it
    lingers until garbage collection (a ResourceWarning)."""

    async def parse(self) -> FormData:
        form = await super().parse()
        kept = {id(v.file) for _, v in form.multi_items() if isinstance(v, UploadFile)}
        for file in getattr(self, "_files_to_close_on_error", ()):
            if id(file) not in kept:
                file.close()
        return form


async def read_multipart(request: Request) -> Any:
    """A GraphQL multipart request (file uploads): ``operations``, ``map``, then the
    files, which replace the ``null`` variables ``map`` names.

    Raises:
        RequestError: 400 for anything that does not follow the multipart request spec.
    """
    try:
        parser = _MultiPartParser(
            request.headers,
            request.stream(),
            max_files=MAX_UPLOAD_FILES,
            max_fields=MAX_UPLOAD_FILES + 2,
        )
        form = await parser.parse()
    except Exception as exc:  # Starlette reports malformed bodies and limits alike
        raise RequestError(400, "The multipart body could not be read") from exc
    # The files stay open while the operation runs; the endpoint closes them after.
    request.state.form = form
    operations = form.get("operations")
    mapping = form.get("map")
    if not isinstance(operations, str) or not isinstance(mapping, str):
        raise RequestError(400, "A multipart request needs `operations` and `map` fields")
    params = _json_param(operations, "operations")
    files = _json_param(mapping, "map")
    if not isinstance(params, dict) or not isinstance(files, dict):
        raise RequestError(400, "`operations` and `map` must be JSON objects")
    for key, paths in files.items():
        upload = form.get(key)
        if upload is None or isinstance(upload, str):
            raise RequestError(400, f"The `map` names a file that was not sent: {key}")
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise RequestError(400, "Each `map` entry must be a list of paths")
        for path in paths:
            _set_path(params, path, upload)
    return params


async def close_form(request: Request) -> None:
    form = getattr(request.state, "form", None)
    if form is not None:
        await form.close()
