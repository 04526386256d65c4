"""A Milvus Lite store left idle keeps the terminal quiet: no gRPC "GOAWAY too_many_pings".

gRPC's C core writes that line straight to file descriptor 2, so the store runs in a child
process whose stderr is read whole. Slow: the server only objects after a minute of pings
without a call.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow

IDLE_S = 75


def test_an_idle_lite_store_logs_no_goaway(tmp_path):
    script = textwrap.dedent(
        f"""
        import time
        import numpy as np
        from textal.store import open_store
        store = open_store({str(tmp_path / "items.db")!r}, 4)
        store.add(["a"], np.ones((1, 4), dtype=np.float32), ["a text"], [{{}}])
        time.sleep({IDLE_S})
        assert store.count() == 1
        store.close()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "GOAWAY" not in done.stderr and "too_many_pings" not in done.stderr, done.stderr
