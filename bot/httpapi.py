"""What every admin API route shares (docs/interfaces.md §11), below both `bot.api` and
`notifications.api`: request models read with limits, errors as JSON, path ids, and the
OpenAPI 3.1 document generated from the same pydantic models the routes validate with.

A client can send anything; what it sends is never a 500:

- a body that is not JSON, not an object, or does not fit the route's model → 400
  `{"error": "…", "field": "…"}` (`field` is the dotted path of the first bad field, ""
  for the body as a whole), the model's rules in English for the developers of a CRM;
- a body over the route's limit (JSON 1 MB, CSV 64 MB) → 413, read no further;
- an id in a path that is not a whole number in 1 … 2^63 − 1 → 400 naming it.

Routes are added with `add_route(app, Operation(…), handler)`, which records the
operation for `GET /api/openapi.json`; nothing about the API is written twice.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

from aiohttp import web
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError
from pydantic.json_schema import models_json_schema

log = logging.getLogger(__name__)

JSON_LIMIT = 1 << 20  # 1 MB
CSV_LIMIT = 64 << 20  # 64 MB
MAX_ID = (1 << 63) - 1  # ids are 64-bit signed in SQLite and PostgreSQL (bigint)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    """An answer other than success, raised anywhere below a route: the middleware
    turns it into `{"error": message, "field": field, **extra}` with `status`."""

    def __init__(
        self, status: int, message: str, field: str | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.extra = extra


def json_error(status: int, message: str, field: str | None = None) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    return web.json_response(body, status=status)


def _no_lone_surrogates(value: str) -> str:
    # JSON may escape half of a surrogate pair («\ud800»); such a string cannot be
    # stored or sent (UTF-8 refuses it) and failed deep inside as a 500.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("not valid Unicode text (a lone surrogate)") from None
    return value


# A string field of a request: any text that can be stored and sent.
Text = Annotated[str, AfterValidator(_no_lone_surrogates)]


class RequestModel(BaseModel):
    """A request body: unknown fields are refused (a misspelt «dry_rn» would have sent
    the broadcast for real)."""

    model_config = ConfigDict(extra="forbid", str_max_length=JSON_LIMIT)


class ErrorOut(BaseModel):
    """Every error answer."""

    error: str
    field: str | None = None


def _field_of(error: Any) -> str:
    return ".".join(str(part) for part in error["loc"])


def validation_error(exc: ValidationError) -> ApiError:
    """The first problem of a pydantic error as a 400 naming its field."""
    first = exc.errors(include_url=False)[0]
    where = _field_of(first)
    if first["type"] == "json_invalid":
        detail = str(first["msg"]).removeprefix("Invalid JSON: ")
        return ApiError(400, f"the body is not valid JSON: {detail}", "")
    if first["type"] == "model_type":
        return ApiError(400, "the body must be a JSON object", "")
    message = str(first["msg"])
    if first["type"] == "value_error":
        message = message.removeprefix("Value error, ")
    return ApiError(400, f"{where}: {message}" if where else message, where)


async def read_body(request: web.Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes `limit` bytes (whether the client
    declared its length or streams it)."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise ApiError(413, f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(1 << 16)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the body is larger than {limit} bytes")
        chunks.append(chunk)


async def read_model(request: web.Request, model: type[M], *, optional: bool = False) -> M:
    """The JSON body as `model` (an empty body is `{}` when `optional`)."""
    body = await read_body(request, JSON_LIMIT)
    if optional and not body.strip():
        body = b"{}"
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise validation_error(exc) from None


def path_id(request: web.Request, name: str) -> int:
    """A numeric id from the path, or 400 naming it (ids past 2^63 − 1 reached SQLite
    and failed there with a 500)."""
    raw = request.match_info[name]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        raise ApiError(400, f"{name}: must be a whole number from 1 to {MAX_ID}", name)
    value = int(raw)
    if not 1 <= value <= MAX_ID:
        raise ApiError(400, f"{name}: must be a whole number from 1 to {MAX_ID}", name)
    return value


def query_flag(request: web.Request, name: str) -> bool:
    """`?name=true|false` (also 1/0, yes/no; absent: false), or 400 naming it."""
    value = request.query.get(name, "false").strip().lower()
    if value in {"1", "true", "yes"}:
        return True
    if value in {"0", "false", "no", ""}:
        return False
    raise ApiError(400, f"{name}: true or false", name)


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """`?name=N` within `low` … `high` (absent: `default`), or 400 naming it."""
    raw = request.query.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9 and low <= int(raw) <= high):
        raise ApiError(400, f"{name}: a whole number from {low} to {high}", name)
    return int(raw)


FLAG_SCHEMA: dict[str, Any] = {"type": "boolean", "default": False}


def int_schema(default: int, low: int, high: int) -> dict[str, Any]:
    return {"type": "integer", "default": default, "minimum": low, "maximum": high}


def finite(value: float) -> float:
    """NaN and infinities are not numbers a client can mean (`"timeout": NaN` waited
    forever)."""
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


# -- the error middleware ---------------------------------------------------------------


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path in {"/healthz", "/metrics"}


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Errors of API routes as JSON; an unexpected exception is logged with its traceback
    and answered 500 without one (it is our bug, never the client's input)."""
    try:
        return await handler(request)
    except ApiError as exc:
        body: dict[str, Any] = {"error": exc.message, **exc.extra}
        if exc.field is not None:
            body["field"] = exc.field
        return web.json_response(body, status=exc.status)
    except web.HTTPException as exc:
        if not _is_api(request) or exc.status < 400:
            raise
        if exc.status == 413:
            return json_error(413, "the body is too large")
        return json_error(exc.status, exc.reason)
    except ValidationError as exc:
        error = validation_error(exc)
        return json_error(error.status, error.message, error.field)
    except Exception:
        if not _is_api(request):
            raise
        log.exception("admin API: %s %s failed", request.method, request.path)
        return json_error(500, "internal error (logged)")


# -- operations and the OpenAPI document --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Operation:
    """One route as the OpenAPI document describes it."""

    method: str
    path: str  # aiohttp's form, «/api/outages/{outage}» (no regular expressions)
    summary: str
    response: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    body_type: str = "application/json"  # or "text/csv"
    response_type: str = "application/json"
    errors: dict[int, str] = field(default_factory=dict)
    auth: bool = True
    description: str = ""
    # query parameters: name → (JSON schema, description)
    query: dict[str, tuple[dict[str, Any], str]] = field(default_factory=dict)
    # error answers whose body is not just ErrorOut (a refused broadcast: the audience)
    error_models: dict[int, type[BaseModel]] = field(default_factory=dict)


OPERATIONS: web.AppKey[list[Operation]] = web.AppKey("operations", list)


def add_route(app: web.Application, operation: Operation, handler: Handler) -> None:
    """Register `handler` and record `operation` for the OpenAPI document."""
    app.router.add_route(operation.method, operation.path, handler)
    app.setdefault(OPERATIONS, []).append(operation)


_STANDARD_ERRORS = {
    400: "invalid input (`field` names it)",
    401: "missing or wrong bearer token",
    413: "the body is too large",
}


def openapi(app: web.Application, *, title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every recorded operation, its schemas generated from
    the pydantic models (JSON Schema 2020-12, which OpenAPI 3.1 uses as is)."""
    operations = app.get(OPERATIONS, [])
    models: set[type[BaseModel]] = {ErrorOut}
    for op in operations:
        models.update(m for m in (op.body, op.response) if m is not None)
        models.update(op.error_models.values())
    ordered = sorted(models, key=lambda m: m.__name__)
    keys: list[tuple[type[BaseModel], Literal["validation"]]] = [
        (m, "validation") for m in ordered
    ]
    schemas_by_key, definitions = models_json_schema(
        keys, ref_template="#/components/schemas/{model}"
    )
    refs = {m: schemas_by_key[(m, "validation")] for m in ordered}
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        entry: dict[str, Any] = {"summary": op.summary, "operationId": _operation_id(op)}
        if op.description:
            entry["description"] = op.description
        params = [
            {"name": name, "in": "path", "required": True,
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}
            for name in _path_names(op.path)
        ]
        params += [
            {"name": name, "in": "query", "required": False, "schema": schema,
             "description": text}
            for name, (schema, text) in op.query.items()
        ]
        if params:
            entry["parameters"] = params
        if op.body is not None:
            entry["requestBody"] = {
                "required": True, "content": {op.body_type: {"schema": refs[op.body]}},
            }
        elif op.body_type == "text/csv":
            entry["requestBody"] = {
                "required": True,
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        ok: dict[str, Any] = {"description": "success"}
        if op.response is not None:
            ok["content"] = {op.response_type: {"schema": refs[op.response]}}
        elif op.response_type != "application/json":
            ok["content"] = {op.response_type: {"schema": {"type": "string"}}}
        responses: dict[str, Any] = {"200": ok}
        codes = dict(op.errors)
        if op.auth:
            codes.setdefault(401, _STANDARD_ERRORS[401])
        if params or op.body is not None or op.body_type == "text/csv":
            codes.setdefault(400, _STANDARD_ERRORS[400])
        if op.body is not None or op.body_type == "text/csv":
            codes.setdefault(413, _STANDARD_ERRORS[413])
        for code, text in sorted(codes.items()):
            model = op.error_models.get(code, ErrorOut)
            responses[str(code)] = {
                "description": text,
                "content": {"application/json": {"schema": refs[model]}},
            }
        entry["responses"] = responses
        if op.auth:
            entry["security"] = [{"bearer": []}]
        else:
            entry["security"] = []
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    _add_unrecorded(app, paths)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def _add_unrecorded(app: web.Application, paths: dict[str, dict[str, Any]]) -> None:
    """Routes under /api/ added without `add_route` still appear (marked
    `x-undocumented`, summary from the handler's docstring), so that the document lists
    every route; `tests/bot/test_api_hardening.py` requires that none is left so."""
    for route in app.router.routes():
        resource = route.resource
        if route.method in {"HEAD", "OPTIONS"} or resource is None:
            continue
        path = resource.canonical
        if not (path.startswith("/api/") or path in {"/healthz", "/metrics"}):
            continue
        method = route.method.lower()
        if method in paths.get(path, {}):
            continue
        doc = (getattr(route.handler, "__doc__", None) or "").strip()
        entry: dict[str, Any] = {
            "summary": doc.splitlines()[0] if doc else f"{route.method} {path}",
            "operationId": "_".join(
                [method, *(p.strip("{}") for p in path.split("/") if p and p != "api")]
            ).replace("-", "_").replace(".", "_"),
            "x-undocumented": True,
            "responses": {"200": {"description": "success"}},
        }
        names = _path_names(path)
        if names:
            entry["parameters"] = [
                {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                for n in names
            ]
        paths.setdefault(path, {})[method] = entry


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _operation_id(op: Operation) -> str:
    words = [p.strip("{}") for p in op.path.split("/") if p and p != "api"]
    return "_".join([op.method.lower(), *words]).replace("-", "_")
