"""``/api/v1``: the whole loop over HTTP, for scripts and for the CLI while ``serve`` runs.

Each endpoint calls the same Python API as the CLI and answers with the same records as JSON
(:mod:`textal.web.wire`), errors as ``{"error": ...}`` with a 4xx status and the CLI's message.
Scripts send ``Authorization: Bearer TOKEN`` (an account's token, made by ``textal annotators
add NAME --role service``); the CLI uses the server's local credential (``serve-credential`` in
the workspace, readable by its owner only), which may also name files on this machine by path.
:data:`ENDPOINTS` is the one table behind the routes and the OpenAPI description.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from textal.errors import TextalError
from textal.ledger import RoundRecord
from textal.ledger.annotators import Annotator
from textal.store.filters import from_options
from textal.web.auth import ADMINS, guarded, service_of
from textal.web.auth import Handler as RouteHandler
from textal.web.bodies import json_body, text_field
from textal.web.service import LOCAL_USER, LabelService, RoundRequest
from textal.web.wire import dump
from textal.workspace.suspects import Suspect
from textal.workspace.workspace import LabelImport, Status, check_source

UPLOAD_BYTES = 512 * 1024 * 1024  # an uploaded file of reviews or labels
PREDICT_TEXTS = 1_000  # texts per POST /api/v1/predict
PREDICT_CHARS = 5_000  # per text: the model reads ~1,000 characters anyway
#: Body caps above the app's 64 KB: uploads, and a predict batch of long texts.
BODY_CAPS = {
    "/api/v1/items": UPLOAD_BYTES,
    "/api/v1/labels": UPLOAD_BYTES,
    "/api/v1/predict": 8 * 1024 * 1024,
}
FORMATS = {"csv": ".csv", "jsonl": ".jsonl", "parquet": ".parquet"}
CONTENT_TYPES = {
    "text/csv": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/vnd.apache.parquet": "parquet",
}
READERS = frozenset({"annotator", "reviewer", "admin", "service"})
FEEDERS = frozenset({"admin", "service"})  # add reviews, export
REVIEWERS = frozenset({"reviewer", "admin", "service"})


def _is_local(user: Annotator) -> bool:
    return user.name == LOCAL_USER


def _query_flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false").casefold()
    if value not in ("true", "false", "1", "0"):
        raise TextalError(f"query {name!r}: true or false")
    return value in ("true", "1")


def _query_int(request: Request, name: str, default: int | None) -> int | None:
    value = request.query_params.get(name)
    if value is None:
        return default
    if not value.isdigit():
        raise TextalError(f"query {name!r}: a whole number")
    return int(value)


def _upload_dir(service: LabelService) -> Path:
    """A private directory for one upload inside the workspace (removed when done)."""
    root = service.path / "uploads"
    root.mkdir(mode=0o700, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=root))


async def _save_body(request: Request, service: LabelService, name: str) -> Path:
    """The request body as a file ``name`` in a fresh upload directory."""
    folder = _upload_dir(service)
    path = folder / name
    try:
        with open(path, "wb") as f:
            async for chunk in request.stream():
                f.write(chunk)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return path


def _upload_format(request: Request) -> str:
    given = request.query_params.get("format")
    if given is None:
        given = CONTENT_TYPES.get(request.headers.get("content-type", "").split(";")[0].strip())
    if given not in FORMATS:
        raise TextalError(
            "send a CSV, JSONL or Parquet file (Content-Type text/csv, application/x-ndjson or "
            "application/vnd.apache.parquet, or ?format=csv|jsonl|parquet), or JSON "
            '{"records": [...]}'
        )
    return given


def _records_file(service: LabelService, records: object) -> Path:
    """JSON records (``[{"text": ..., "id": ..., "label": ...}, ...]``) as a JSONL file."""
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise TextalError("field 'records': a list of objects with a 'text'")
    path = _upload_dir(service) / "records.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


async def status(service: LabelService, request: Request, user: Annotator) -> Response:
    suspects = _query_flag(request, "suspects")
    found = await service.off_thread(lambda ws: ws.status(suspects=suspects))
    return JSONResponse(dump(found, Status))


async def add_items(service: LabelService, request: Request, user: Annotator) -> Response:
    query = request.query_params
    meta_columns = tuple(m for m in query.get("meta_column", "").split(",") if m)
    text_column = query.get("text_column", "text")
    id_column, label_column = query.get("id_column"), query.get("label_column")
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    upload: Path | None = None
    if kind == "application/json" and "format" not in query:
        body = await json_body(request)
        if "path" in body:
            if not _is_local(user):
                raise TextalError("field 'path': only the server's own CLI names files")
            path = Path(text_field(body, "path") or "")
            meta = body.get("meta_columns") or []
            if not isinstance(meta, list) or not all(isinstance(m, str) for m in meta):
                raise TextalError("field 'meta_columns': a list of column names")
            meta_columns = tuple(meta)
            text_column = text_field(body, "text_column", optional=True) or "text"
            id_column = text_field(body, "id_column", optional=True)
            label_column = text_field(body, "label_column", optional=True)
        else:
            records = body.get("records")
            path = upload = _records_file(service, records)
            text_column = "text"
            id_column = "id" if any("id" in r for r in records or []) else None
            label_column = "label" if any("label" in r for r in records or []) else None
    else:
        fmt = _upload_format(request)
        path = upload = await _save_body(request, service, f"upload{FORMATS[fmt]}")
    try:
        source = await asyncio.to_thread(
            check_source,
            path,
            text_column=text_column,
            id_column=id_column,
            label_column=label_column,
            meta_columns=meta_columns,
            multi_label=service.ws.multi_label,  # gold labels there are label sets
        )
    except BaseException:
        if upload is not None:
            shutil.rmtree(upload.parent, ignore_errors=True)
        raise
    job = await service.call(service.start_ingest, source)
    if upload is not None:
        folder = upload.parent
        _after(job, lambda: shutil.rmtree(folder, ignore_errors=True))
    return JSONResponse(job.view(), status_code=202)


async def get_job(service: LabelService, request: Request, user: Annotator) -> Response:
    return JSONResponse(service.jobs.get(request.path_params["id"]).view())


async def cancel_job(service: LabelService, request: Request, user: Annotator) -> Response:
    job = service.jobs.get(request.path_params["id"])
    job.cancel.set()
    return JSONResponse(job.view())


async def list_rounds(service: LabelService, request: Request, user: Annotator) -> Response:
    rounds = await service.call(service.ws.rounds)
    return JSONResponse(dump(rounds, list[RoundRecord]))


async def start_round(service: LabelService, request: Request, user: Annotator) -> Response:
    body = await json_body(request)
    known = {"batch_size", "strategy", "max_class_share", "seed", "candidates", "filter", "since"}
    if unknown := sorted(set(body) - known):
        raise TextalError(f"field {unknown[0]!r}: not a round parameter ({', '.join(known)})")
    restrict = from_options(
        text_field(body, "filter", optional=True), text_field(body, "since", optional=True)
    )
    settings = {
        "batch_size": service.settings.batch_size,
        **{k: v for k, v in body.items() if k not in ("filter", "since")},
        "filter": restrict,
    }
    try:
        wanted = RoundRequest(**settings)
    except TypeError as exc:
        raise TextalError(f"round parameters: {exc}") from None
    _check_round(wanted)
    job = await service.call(service.start_round_job, wanted)
    if job is None:
        return JSONResponse({"error": "a round is running already"}, status_code=409)
    return JSONResponse(job.view(), status_code=202)


async def import_labels(service: LabelService, request: Request, user: Annotator) -> Response:
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind == "application/json" and "format" not in request.query_params:
        body = await json_body(request)
        if not _is_local(user):
            raise TextalError("send the label file itself (CSV or JSONL) as the body")
        path, upload = Path(text_field(body, "path") or ""), None
        annotator = text_field(body, "annotator", optional=True)
        confirm = body.get("confirm") is True
    else:
        fmt = _upload_format(request)
        name = Path(request.query_params.get("filename", f"labels{FORMATS[fmt]}")).name
        path = upload = await _save_body(request, service, name)
        annotator = request.query_params.get("annotator") or user.name
        confirm = _query_flag(request, "confirm")
    try:
        done = await service.call(
            lambda: service.ws.import_labels(path, annotator=annotator, confirm=confirm)
        )
    finally:
        if upload is not None:
            shutil.rmtree(upload.parent, ignore_errors=True)
    return JSONResponse(dump(done, LabelImport))


async def export_labels(service: LabelService, request: Request, user: Annotator) -> Response:
    fmt = request.query_params.get("format", "csv")
    if fmt not in ("csv", "jsonl"):
        raise TextalError("query 'format': csv or jsonl")
    predictions = _query_flag(request, "predictions")
    restrict = from_options(request.query_params.get("filter"), request.query_params.get("since"))
    folder = _upload_dir(service)
    target = folder / "labels.csv"
    try:
        await service.off_thread(
            lambda ws: ws.export(target, predictions=predictions, filter=restrict)
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return StreamingResponse(
        _stream_then_remove(target.with_suffix(FORMATS[fmt]), folder),
        media_type="text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson",
        headers={"content-disposition": f'attachment; filename="labels.{fmt}"'},
    )


async def export_to_path(service: LabelService, request: Request, user: Annotator) -> Response:
    body = await json_body(request)
    if not _is_local(user):
        raise TextalError("GET /api/v1/labels streams the export; only the CLI names files")
    path = Path(text_field(body, "path") or "")
    predictions = body.get("predictions") is True
    restrict = from_options(
        text_field(body, "filter", optional=True), text_field(body, "since", optional=True)
    )
    rows = await service.off_thread(
        lambda ws: ws.export(path, predictions=predictions, filter=restrict)
    )
    return JSONResponse({"rows": rows})


async def predict(service: LabelService, request: Request, user: Annotator) -> Response:
    body = await json_body(request)
    texts = body.get("texts")
    if (
        not isinstance(texts, list)
        or not 1 <= len(texts) <= PREDICT_TEXTS
        or not all(isinstance(t, str) and t.strip() for t in texts)
    ):
        raise TextalError(f"field 'texts': a list of 1 to {PREDICT_TEXTS:,} non-empty texts")
    too_long = next((k for k, t in enumerate(texts) if len(t) > PREDICT_CHARS), None)
    if too_long is not None:
        raise TextalError(f"field 'texts': text {too_long} is over {PREDICT_CHARS:,} characters")
    precision = body.get("min_precision")
    if precision is not None and (type(precision) not in (int, float) or not 0 < precision < 1):
        raise TextalError("field 'min_precision': a number between 0 and 1")
    predictor = await service.served_predictor()  # one reference: a swap cannot split a batch
    if precision is not None:
        predictor = predictor.with_min_precision(float(precision))
    found = await asyncio.to_thread(predictor.predict, texts)
    card = predictor.model.card
    return JSONResponse(
        {
            "model": {"trained_on": card.trained_on, "created": card.created},
            "route": {
                "min_precision": predictor.route.min_precision,
                "threshold": predictor.route.threshold,
                "coverage": predictor.route.coverage,
            },
            "predictions": [
                {
                    "label": label,
                    "confidence": float(found.confidence[k]),
                    "route": "auto" if found.auto[k] else "review",
                    "reason": found.reason(k),
                    "probabilities": dict(
                        zip(found.classes, map(float, found.proba[k]), strict=True)
                    ),
                }
                for k, label in enumerate(found.labels)
            ],
        }
    )


async def suspects(service: LabelService, request: Request, user: Annotator) -> Response:
    limit = None if request.query_params.get("limit") == "all" else _query_int(request, "limit", 50)
    found = await service.off_thread(lambda ws: ws.suspects(limit=limit))
    return JSONResponse(dump(found, list[Suspect]))


def _after(job: Any, cleanup: Callable[[], None]) -> None:
    """Run ``cleanup`` once ``job`` has finished (on a thread that waits for it)."""

    def wait() -> None:
        job.finished.wait()
        cleanup()

    threading.Thread(target=wait, daemon=True).start()


def _check_round(wanted: RoundRequest) -> None:
    """The round parameters' types, checked before the round starts (JSON ``true`` is no 1)."""
    if type(wanted.batch_size) is not int or not 1 <= wanted.batch_size <= 500:
        raise TextalError("field 'batch_size': a whole number from 1 to 500")
    if type(wanted.seed) is not int:
        raise TextalError("field 'seed': a whole number")
    share = wanted.max_class_share
    if share is not None and (type(share) not in (int, float) or not 0 < share <= 1):
        raise TextalError("field 'max_class_share': a number above 0, at most 1")
    for name in ("strategy", "candidates"):
        value = getattr(wanted, name)
        if value is not None and not isinstance(value, str):
            raise TextalError(f"field {name!r}: text")


async def _stream_then_remove(path: Path, folder: Path) -> AsyncIterator[bytes]:
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 16):
                yield chunk
    finally:
        shutil.rmtree(folder, ignore_errors=True)


Handler = Callable[[LabelService, Request, Annotator], Any]


@dataclass(frozen=True)
class Spec:
    """One endpoint: what it does, who may call it, and the function that answers."""

    method: str
    path: str
    roles: Collection[str]
    summary: str
    handler: Handler
    write: bool = False  # a JSON body (and, with a cookie session, its CSRF token)


ENDPOINTS = [
    Spec(
        "GET",
        "/api/v1/status",
        READERS,
        "What `textal status` shows (?suspects=true recounts)",
        status,
    ),
    Spec(
        "POST",
        "/api/v1/items",
        FEEDERS,
        "Add reviews: a CSV/JSONL/Parquet body (?text_column, id_column, label_column) or JSON"
        ' {"records": [{"id", "text", "label"}]}; embedded in a background job',
        add_items,
    ),
    Spec("GET", "/api/v1/jobs/{id}", READERS, "A job: state, counts so far, result", get_job),
    Spec(
        "POST",
        "/api/v1/jobs/{id}/cancel",
        FEEDERS,
        "Stop a job after its batch in hand",
        cancel_job,
        True,
    ),
    Spec("GET", "/api/v1/rounds", READERS, "Every round with its report", list_rounds),
    Spec(
        "POST",
        "/api/v1/rounds",
        ADMINS,
        "Start a round: JSON batch_size, strategy, max_class_share, seed, candidates",
        start_round,
        True,
    ),
    Spec(
        "POST",
        "/api/v1/labels",
        ADMINS,
        "Import a label file (CSV/JSONL body; ?annotator, confirm, filename), all or nothing",
        import_labels,
    ),
    Spec(
        "GET",
        "/api/v1/labels",
        FEEDERS,
        "Export current labels (?format=csv|jsonl, predictions=true), streamed",
        export_labels,
    ),
    Spec(
        "POST",
        "/api/v1/exports",
        FEEDERS,
        "Export to a path (the server's CLI only)",
        export_to_path,
        True,
    ),
    Spec(
        "POST",
        "/api/v1/predict",
        FEEDERS | REVIEWERS,
        'Predict and route new reviews: JSON {"texts": [...up to 1,000], "min_precision"}; the '
        "model is the last one a round trained, swapped whole",
        predict,
        True,
    ),
    Spec(
        "GET", "/api/v1/suspects", REVIEWERS, "The labels most likely wrong (?limit=50)", suspects
    ),
]


def _answer(spec: Spec) -> RouteHandler:
    async def answer(request: Request, user: Annotator) -> Response:
        return await spec.handler(service_of(request), request, user)

    return guarded(write=spec.write, roles=spec.roles)(answer)


def _dispatch(methods: dict[str, RouteHandler]) -> RouteHandler:
    async def answer(request: Request) -> Response:
        return await methods[request.method](request)

    return answer


@guarded(roles=READERS)
async def _openapi(request: Request, user: Annotator) -> Response:
    return JSONResponse(openapi_document())


def routes() -> list[Route]:
    """The ``/api/v1`` routes (over the app's ``state.service``) and ``/api/v1/openapi.json``."""
    by_path: dict[str, dict[str, RouteHandler]] = {}
    for spec in ENDPOINTS:
        by_path.setdefault(spec.path, {})[spec.method] = _answer(spec)
    found = [Route(p, _dispatch(m), methods=list(m)) for p, m in by_path.items()]
    return [*found, Route("/api/v1/openapi.json", _openapi)]


def openapi_document() -> dict[str, Any]:
    """An OpenAPI 3.1 description of :data:`ENDPOINTS`."""
    paths: dict[str, dict[str, Any]] = {}
    for spec in ENDPOINTS:
        operation: dict[str, Any] = {
            "summary": spec.summary,
            "description": f"Roles: {', '.join(sorted(spec.roles))}.",
            "security": [{"bearer": []}, {"cookie": []}],
            "responses": {
                "200": {"description": "the records as JSON"},
                "4XX": {"description": '{"error": "..."} naming the field, row or setting'},
            },
        }
        if "{id}" in spec.path:
            operation["parameters"] = [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
            ]
        paths.setdefault(spec.path, {})[spec.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "textal", "version": "1"},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "textal_session"},
            }
        },
    }
