"""The server's background jobs yield the CPU to people labeling (textal/web/jobs.py)."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from textal.web.jobs import BACKGROUND_NICE, DONE, JobBoard

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice is Linux's")


def _nice(tid: int) -> int:
    with open(f"/proc/self/task/{tid}/stat", encoding="ascii") as f:
        return int(f.read().rsplit(")", 1)[1].split()[16])


def test_a_job_and_the_threads_it_starts_run_nicer_than_the_server():
    torch = pytest.importorskip("torch")
    x = torch.randn(500, 500)
    (x @ x).sum()  # the caller's own OpenMP pool exists before the job starts
    before = {int(t) for t in os.listdir("/proc/self/task")}
    server = _nice(threading.get_native_id())

    def work(job):
        for _ in range(3):
            (x @ x).sum()  # starts the job thread's pool of BLAS/OpenMP workers
        new = {int(t) for t in os.listdir("/proc/self/task")} - before
        return {tid: _nice(tid) for tid in new}

    job = JobBoard().start("ingest", work)
    assert job.finished.wait(60) and job.state == DONE, job.error
    expected = min(19, server + BACKGROUND_NICE)
    assert job.result, "the job ran on no thread of its own"
    if torch.get_num_threads() > 1:
        assert len(job.result) > 1, "no worker thread was started by the job's matmul"
    assert set(job.result.values()) == {expected}
    assert _nice(threading.get_native_id()) == server  # the caller's priority is untouched
