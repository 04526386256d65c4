"""Store on Milvus through ``pymilvus.MilvusClient``: a Milvus Lite directory or a Milvus server.

A URI ending in ``.db`` opens Milvus Lite (pure Python, in this process); ``http(s)://host:port``
opens a server. The schema is portable down to Milvus 2.3.5: ``id`` VARCHAR(512) primary key,
``vector`` FLOAT_VECTOR(dim), ``text`` VARCHAR(65535), ``metadata`` JSON; no nullable field, no
dynamic field. Collections made before filters keep ``metadata`` as JSON text in a VARCHAR: they
open and work as before, but a filter on them is refused with a message saying so.

What differs between the backends, and how this module copes:

* Index: Lite gets FLAT (exact NumPy brute force, nothing to build); a server gets HNSW. The
  choice is in ``index_type``; the metric is COSINE on both.
* A primary key inserted twice: a server keeps both rows, Lite keeps the last. So ``add`` asks
  which ids exist and writes only the others, and writes with ``upsert``, which replaces a row
  with the same id: a write repeated after a lost connection (by pymilvus, which retries on its
  own, or by this module) cannot store an id twice, even if the first attempt did arrive.
* Consistency: every read is ``Strong`` so it sees all earlier writes (on a server this waits
  for the next time tick, about 200 ms, which is why reads go in large batches).
* VARCHAR lengths: servers count bytes, Lite counts characters; the shared checks count bytes.
* Filter strings: Lite's parser knows only the escapes ``\\\\ \\" \\' \\n \\r \\t``, so ids are
  quoted with those and every other character is sent as it is; both backends accept that.
* Filters (:mod:`textal.store.filters`) go to Milvus as expressions on the JSON field
  (``metadata["source"] == "app-store"``) in ``search``, ``query`` and ``query_iterator``; both
  backends answer them, but differ on ``!=`` for a missing key, which the rendering settles.
* Locking: one process per Lite directory. A second process gets a ``TextalError`` saying so.
* ``query_iterator`` exists on both. Neither Milvus Lite 3.2 nor Milvus 2.3.5 returns the MVCC
  timestamp it asks for first, so pymilvus logs a warning and pins the snapshot to the client
  clock instead; with strong consistency that is harmless.
* Uniform samples (``sample``): collections made by this version have an INT32 ``bucket``
  field, a hash of the id (``_batch.bucket_of``), and a sample is a filtered ``query`` over a run
  of consecutive buckets (``bucket >= a and bucket < b``, a few thousand rows per call), which
  Milvus 2.3.5, Lite and later servers all answer. A collection made before has no such field
  and Milvus < 2.6 cannot add one, so ``sample`` reads it whole (reservoir sampling over
  ``iterate``) and ``sampling`` says ``"scan"``; re-ingest into a new collection to avoid that.
* After a restart Lite has every collection released, while a server reloads them by itself: a
  read that finds the collection not loaded loads it and tries again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import grpc
import numpy as np
from pymilvus import DataType, MilvusClient, MilvusException

from textal.errors import TextalError
from textal.store import _batch
from textal.store.base import MAX_ID_BYTES, MAX_TEXT_BYTES, Chunk, Item, reservoir
from textal.store.filters import Filter, to_milvus
from textal.store.filters import quote as _quote

T = TypeVar("T")

_FIELDS = ("id", "vector", "text", "metadata")
_BUCKET = "bucket"
_ROWS_PER_SAMPLE_QUERY = 4096  # expected rows per bucket-range query; a reply stays far below 16384
_STRONG = {"consistency_level": "Strong"}
_HNSW = {"M": 16, "efConstruction": 200}

# Batch sizes, kept well inside Milvus limits: 16384 rows per query result or search call, and
# 64 MiB per gRPC message on a server (Lite takes 256 MiB).
_ID_BATCH = 4096  # ids per existence check: the reply holds ids only
_GET_BATCH = 256  # items per get: texts may be 64 KiB each
_MESSAGE_BYTES = 16 << 20  # inserted or fetched payload per call
_MAX_ROWS = 16_384
# pymilvus pings every 10 s, also on an idle connection; a gRPC server's default policy (Milvus
# Lite's, local or served) takes more than one ping per 5 minutes without a call as abuse, and
# answers GOAWAY "too_many_pings", which gRPC logs as an error line on a server's terminal.
# Pinging no more often than the server allows, and only during calls, keeps the terminal quiet.
# A server store asks pymilvus for a connection of its own (``dedicated``): pymilvus otherwise
# shares one connection per address in a process, with the options of whichever client made it
# first, and a shared one that another client let idle and the server closed for its pings
# failed the next store's connect ("UNAVAILABLE: Too many pings").
GRPC_OPTIONS = {"grpc.keepalive_time_ms": 300_000, "grpc.keepalive_permit_without_calls": False}
_ROW_EXTRA = MAX_ID_BYTES + 128
_SEARCH_HITS = 1 << 18  # nq * top_k per search call: a reply stays under 64 MiB for ids of ~200 B

_ATTEMPTS = 4  # per call, each bounded by ``timeout``; waits 0.5, 1, 2 s in between
_TRANSIENT_GRPC = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
    }
)
# Server codes for "unavailable", "rate limited" and "collection not loaded" (after a restart).
_NOT_LOADED = 101
_TRANSIENT_CODES = frozenset({2, 8, _NOT_LOADED, 503})

# Lite directories open in this process, with the number of stores using each: the Lite server
# runs inside this process, so it stops (and unlocks the directory) when the last store closes.
_lite_users: Counter[str] = Counter()
_lite_guard = threading.Lock()
# milvus-lite's server manager races when two threads open one data directory at once (the
# second gets "Open local milvus failed"): opens of Lite files are serialised in this process.
_lite_opening = threading.Lock()


def server_client(uri: str, token: str = "", timeout: float = 10) -> MilvusClient:
    """A client to a Milvus server on a connection of its own, with :data:`GRPC_OPTIONS`."""
    return MilvusClient(
        uri=uri, token=token, timeout=timeout, grpc_options=GRPC_OPTIONS, dedicated=True
    )


class MilvusStore:
    """A collection in Milvus Lite or on a Milvus server; created on first use.

    ``timeout`` bounds each call, in seconds; a call that fails for a passing reason (server
    unavailable, rate limit, collection still loading) is made up to four times in all.
    ``write_batch`` caps the rows per write call; a call also stays under 16 MiB.
    """

    def __init__(
        self,
        uri: str,
        dim: int,
        collection: str = "textal_items",
        *,
        token: str | None = None,
        user: str | None = None,
        password: str | None = None,
        timeout: float = 60.0,
        write_batch: int = 4096,
    ) -> None:
        if dim < 1:
            raise ValueError(f"dim must be positive, got {dim}")
        self.dim = dim
        self.collection = collection
        self.timeout = timeout
        self.write_batch = write_batch
        self.is_lite = not uri.startswith(("http://", "https://"))
        secrets = (token, token and token.partition(":")[2], password, urlsplit(uri).password)
        self._secrets = [s for s in secrets if s]
        self._lite_path: str | None = None
        if self.is_lite:
            self._lite_path = _lite_directory(uri)
            self.uri = self._lite_path
        else:
            self.uri = _without_credentials(uri)
        self._client = self._connect(uri, token or (f"{user}:{password}" if user else ""))
        self.sampling = "bucket"  # or "scan", for a collection made before the bucket field
        self.filterable = False  # True where metadata is a JSON field: made with filters
        self._last_count: int | None = None  # sizes samples without another count(*) call
        try:
            self.index_type, self._metric = self._ensure_collection()
        except BaseException:
            self.close()
            raise

    # -- the protocol -------------------------------------------------------------------------

    def add(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        texts: Sequence[str],
        metadata: Sequence[dict],
    ) -> int:
        """Write the unknown ids in batches; safe to re-run after a crash or a lost server."""
        batch = _batch.prepare(ids, vectors, texts, metadata, self.dim)
        new = _without(batch, self.existing_ids(batch.ids))
        start = 0
        while start < len(new):
            stop, size = start, 0
            while stop < len(new) and stop - start < self.write_batch and size < _MESSAGE_BYTES:
                # a character takes at most 4 bytes; the id and field framing at most _ROW_EXTRA
                size += 4 * (self.dim + len(new.texts[stop]) + len(new.metadata[stop])) + _ROW_EXTRA
                stop += 1
            rows = _rows(
                new.subset(range(start, stop)),
                buckets=self.sampling == "bucket",
                json_field=self.filterable,
            )
            self._rpc("upsert", self.collection, rows)
            start = stop
        return len(new)

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        unique = list(dict.fromkeys(ids))
        return {
            row["id"]
            for start in range(0, len(unique), _ID_BATCH)
            for row in self._query(unique[start : start + _ID_BATCH], ["id"])
        }

    def get(self, ids: Sequence[str]) -> list[Item]:
        rows = self._fetch(ids, ["id", "text", "metadata"], _GET_BATCH)
        return [Item(r["id"], r["text"], _decoded(r["metadata"])) for r in rows]

    def get_vectors(self, ids: Sequence[str]) -> np.ndarray:
        batch = max(1, min(_MAX_ROWS, _MESSAGE_BYTES // (4 * self.dim)))
        rows = self._fetch(ids, ["id", "vector"], batch)
        return _stack([r["vector"] for r in rows], self.dim)

    def search(
        self, vectors: np.ndarray, top_k: int, *, filter: Filter | None = None
    ) -> list[list[tuple[str, float]]]:
        """All queries go out in as few calls as Milvus limits allow (each call costs ~45 ms)."""
        queries = _batch.queries(vectors, self.dim, top_k)
        expr = self._expression(filter)
        per_call = max(1, min(_MAX_ROWS, _SEARCH_HITS // top_k, _MESSAGE_BYTES // (4 * self.dim)))
        params: dict[str, Any] = {"metric_type": self._metric, "params": {}}
        if self.index_type == "HNSW":
            params["params"]["ef"] = max(64, top_k)
        results: list[list[tuple[str, float]]] = []
        for start in range(0, len(queries), per_call):
            hits = self._rpc(
                "search",
                self.collection,
                data=queries[start : start + per_call],
                limit=top_k,
                output_fields=["id"],
                search_params=params,
                filter=expr,
                **_STRONG,
            )
            results.extend([(h["id"], float(h["distance"])) for h in q] for q in hits)
        return results

    def iterate(
        self, chunk_size: int = 4096, *, with_metadata: bool = False, filter: Filter | None = None
    ) -> Iterator[Chunk]:
        """Pages of ``query_iterator``: the collection as it was when the iteration started."""
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        expr = self._expression(filter)
        pages = self._rpc(
            "query_iterator",
            self.collection,
            batch_size=min(chunk_size, _MAX_ROWS),
            filter=expr,
            output_fields=["id", "vector", "metadata"] if with_metadata else ["id", "vector"],
            strict_float32=True,  # vectors as NumPy arrays instead of lists of floats
            **_STRONG,
        )
        try:
            while rows := self._call("iterate", pages.next):
                yield Chunk(
                    ids=[r["id"] for r in rows],
                    vectors=_stack([r["vector"] for r in rows], self.dim),
                    metadata=[_decoded(r["metadata"]) for r in rows] if with_metadata else [],
                )
        finally:
            pages.close()

    def sample(self, size: int, seed: int, *, filter: Filter | None = None) -> Chunk:
        """Runs of consecutive buckets from a random start, until they hold ``size`` items; then
        ``size`` of those, drawn uniformly. Without the bucket field: one full scan."""
        if self.sampling == "scan":
            return reservoir(
                self.iterate(8192, filter=filter),
                max(size, 0),
                np.random.default_rng(seed),
                self.dim,
            )
        rng = np.random.default_rng(seed)
        if filter is not None:
            n = self.count(filter=filter)
        else:
            n = self._last_count if self._last_count is not None else self.count()
        expr = self._expression(filter)
        if size <= 0 or n == 0:
            return Chunk(ids=[], vectors=np.empty((0, self.dim), dtype=np.float32), metadata=[])
        # an outdated count only makes the first range too wide or too narrow; the loop goes on
        # until the ranges hold ``size`` items or cover every bucket
        per_query = min(_ROWS_PER_SAMPLE_QUERY, 2 * size)
        width = max(1, per_query * _batch.BUCKETS // n)
        first = int(rng.integers(0, _batch.BUCKETS))
        rows: list[dict] = []
        covered = 0
        while len(rows) < size and covered < _batch.BUCKETS:
            step = min(width, _batch.BUCKETS - covered)
            start = (first + covered) % _batch.BUCKETS
            rows += self._bucket_rows(start, min(start + step, _batch.BUCKETS), expr)
            covered += min(step, _batch.BUCKETS - start)
        rows.sort(key=lambda r: r["id"])  # the order Milvus returns rows in is not defined
        keep = np.sort(rng.choice(len(rows), min(size, len(rows)), replace=False))
        return Chunk(
            ids=[rows[k]["id"] for k in keep],
            vectors=_stack([rows[k]["vector"] for k in keep], self.dim),
            metadata=[],
        )

    def count(self, *, filter: Filter | None = None) -> int:
        expr = self._expression(filter)
        rows = self._rpc(
            "query", self.collection, filter=expr, output_fields=["count(*)"], **_STRONG
        )
        if filter is not None:
            return int(rows[0]["count(*)"])
        self._last_count = int(rows[0]["count(*)"])
        return self._last_count

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._lite_path is not None:
            _release_lite(self._lite_path)
            self._lite_path = None

    def __enter__(self) -> MilvusStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- connecting ---------------------------------------------------------------------------

    def _connect(self, uri: str, token: str) -> MilvusClient:
        if self._lite_path is None:
            try:
                return server_client(uri, token, self.timeout)
            except MilvusException as e:
                raise TextalError(f"cannot reach Milvus at {self.uri}: {self._reason(e)}") from e
        _claim_lite(self._lite_path)
        try:
            with _lite_opening:
                return MilvusClient(
                    uri=self._lite_path, timeout=self.timeout, grpc_options=GRPC_OPTIONS
                )
        except MilvusException as e:
            _release_lite(self._lite_path)
            self._lite_path = None
            raise TextalError(f"cannot open Milvus Lite {self.uri}: {self._reason(e)}") from e

    def _ensure_collection(self) -> tuple[str, str]:
        """Create the collection with its index, or check the existing one; -> (index, metric)."""
        name = self.collection
        index_type = "FLAT" if self.is_lite else "HNSW"
        if not self._rpc("has_collection", name):
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("id", DataType.VARCHAR, max_length=MAX_ID_BYTES, is_primary=True)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
            schema.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT_BYTES)
            schema.add_field("metadata", DataType.JSON)
            schema.add_field(_BUCKET, DataType.INT32)
            index = self._vector_index(index_type)
            self._rpc("create_collection", name, schema=schema, index_params=index, **_STRONG)
            self.filterable = True
            return index_type, "COSINE"
        fields = {f["name"]: f for f in self._rpc("describe_collection", name)["fields"]}
        vector = fields.get("vector", {})
        if sorted(fields) not in (sorted(_FIELDS), sorted((*_FIELDS, _BUCKET))) or (
            vector.get("type") != DataType.FLOAT_VECTOR
        ):
            raise TextalError(
                f"collection {name} at {self.uri} was not made by textal: "
                f"its fields are {', '.join(sorted(fields))}"
            )
        dim = int(vector["params"]["dim"])
        if dim != self.dim:
            raise TextalError(
                f"collection {name} at {self.uri} holds {dim}-dimensional vectors, not {self.dim}"
            )
        indexes = self._rpc("list_indexes", name, field_name="vector")
        if not indexes:
            # Creation is three calls (collection, index, load); one cut short by a crash left
            # this collection of textal's fields without its index. Finish it.
            self._rpc("create_index", name, self._vector_index(index_type))
            indexes = self._rpc("list_indexes", name, field_name="vector")
        if _BUCKET not in fields:
            self.sampling = "scan"
        self.filterable = fields["metadata"].get("type") == DataType.JSON
        index = self._rpc("describe_index", name, indexes[0])
        self._rpc("load_collection", name)
        return index["index_type"], index["metric_type"]

    def _expression(self, filter: Filter | None) -> str:
        """``filter`` as a Milvus expression ("" for none); refused on an older collection."""
        if filter is None:
            return ""
        if not self.filterable:
            raise TextalError(
                f"collection {self.collection} at {self.uri} was made before textal kept "
                "filterable metadata, so it cannot be filtered: ingest into a new collection "
                "(another --collection or workspace) to use --filter or --since"
            )
        return to_milvus(filter, "metadata")

    def _vector_index(self, index_type: str) -> Any:
        """Index parameters for the vector field: cosine, HNSW's build settings when HNSW."""
        index = self._client.prepare_index_params()
        params = _HNSW if index_type == "HNSW" else {}
        index.add_index("vector", index_type=index_type, metric_type="COSINE", params=params)
        return index

    # -- calls --------------------------------------------------------------------------------

    def _rpc(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``MilvusClient.<method>`` with this store's timeout and retries."""
        call = getattr(self._client, method)
        return self._call(method, lambda: call(*args, timeout=self.timeout, **kwargs))

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """``fn()``, retried with backoff on transient errors; failures become ``TextalError``."""
        delay = 0.5
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return fn()
            except (MilvusException, grpc.RpcError) as e:
                transient = _is_transient(e)
                if not transient or attempt == _ATTEMPTS:
                    error = e
                    break
                time.sleep(delay)
                delay *= 2
                if getattr(e, "code", None) == _NOT_LOADED:  # Lite forgets loads when restarted
                    with contextlib.suppress(MilvusException, grpc.RpcError):
                        self._client.load_collection(self.collection, timeout=self.timeout)
        if transient:
            raise TextalError(
                f"cannot reach Milvus at {self.uri}: {self._reason(error)}"
            ) from error
        raise TextalError(
            f"Milvus at {self.uri} failed to {what} on {self.collection}: {self._reason(error)}"
        ) from error

    def _query(self, ids: Sequence[str], fields: list[str]) -> list[dict]:
        expr = "id in [" + ",".join(_quote(i) for i in ids) + "]"
        return self._rpc(
            "query",
            self.collection,
            filter=expr,
            output_fields=fields,
            strict_float32=True,
            **_STRONG,
        )

    def _bucket_rows(self, low: int, high: int, expr: str = "") -> list[dict]:
        """Every row whose bucket is in ``[low, high)`` and that ``expr`` matches; a range that
        fills a reply is halved."""
        rows = self._rpc(
            "query",
            self.collection,
            filter=f"{_BUCKET} >= {low} and {_BUCKET} < {high}" + (f" and {expr}" if expr else ""),
            output_fields=["id", "vector"],
            limit=_MAX_ROWS,
            strict_float32=True,
            **_STRONG,
        )
        if len(rows) < _MAX_ROWS or high - low == 1:
            return rows
        middle = (low + high) // 2
        return self._bucket_rows(low, middle, expr) + self._bucket_rows(middle, high, expr)

    def _fetch(self, ids: Sequence[str], fields: list[str], batch: int) -> list[dict]:
        """Rows for ``ids`` in their order (repeats allowed); ``KeyError`` for the first unknown."""
        unique = list(dict.fromkeys(ids))
        found: dict[str, dict] = {}
        for start in range(0, len(unique), batch):
            found.update((r["id"], r) for r in self._query(unique[start : start + batch], fields))
        for item_id in ids:
            if item_id not in found:
                raise KeyError(item_id)
        return [found[i] for i in ids]

    def _reason(self, e: BaseException) -> str:
        """One line about ``e`` with every credential blanked out."""
        if isinstance(e, grpc.RpcError):
            text = f"{e.code().name}: {e.details()}"
        else:
            text = getattr(e, "message", "") or str(e)
            cause = e.__cause__  # e.g. UNAUTHENTICATED behind "Fail connecting to server"
            if isinstance(cause, grpc.RpcError):
                text += f" ({cause.code().name}: {cause.details()})"
        text = " ".join(text.split())
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def _is_transient(e: MilvusException | grpc.RpcError) -> bool:
    if isinstance(e, grpc.RpcError):
        return e.code() in _TRANSIENT_GRPC
    return e.retriable or e.code in _TRANSIENT_GRPC or e.code in _TRANSIENT_CODES


def _decoded(metadata: str | dict) -> dict:
    """Metadata as read: a dict from a JSON field, text from an older collection's VARCHAR."""
    return metadata if isinstance(metadata, dict) else json.loads(metadata)


def _stack(vectors: list, dim: int) -> np.ndarray:
    if not vectors:
        return np.empty((0, dim), dtype=np.float32)
    return np.asarray(np.stack(vectors), dtype=np.float32)


def _without(batch: _batch.Batch, known: set[str]) -> _batch.Batch:
    return batch.subset([i for i, item_id in enumerate(batch.ids) if item_id not in known])


def _rows(batch: _batch.Batch, *, buckets: bool, json_field: bool) -> list[dict]:
    rows = [
        {"id": i, "vector": v, "text": t, "metadata": json.loads(m) if json_field else m}
        for i, v, t, m in zip(batch.ids, batch.vectors, batch.texts, batch.metadata, strict=True)
    ]
    if buckets:
        for row in rows:
            row[_BUCKET] = _batch.bucket_of(row["id"])
    return rows


def _without_credentials(uri: str) -> str:
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _lite_directory(uri: str) -> str:
    path = Path(uri).expanduser().resolve()
    if path.suffix != ".db":
        raise TextalError(f"a Milvus Lite path must end with .db: {path}")
    if path.exists() and not path.is_dir():
        raise TextalError(f"{path} is a file, not a Milvus Lite directory (Milvus Lite 3 uses one)")
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)


def _claim_lite(path: str) -> None:
    """Count one more store on ``path``; refuse a directory another process holds."""
    with _lite_guard:
        if _lite_users[path] == 0 and _locked_elsewhere(Path(path) / "LOCK"):
            raise TextalError(f"Milvus Lite {path} is locked: another textal process has it open")
        _lite_users[path] += 1


def _release_lite(path: str) -> None:
    with _lite_guard:
        _lite_users[path] -= 1
        if _lite_users[path] > 0:
            return
        del _lite_users[path]
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(path)


def _locked_elsewhere(lock: Path) -> bool:
    """Whether another process holds Milvus Lite's ``flock`` on ``lock`` (its ``LOCK`` file)."""
    if not lock.exists():
        return False
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # also drops the lock taken just now
    return False
