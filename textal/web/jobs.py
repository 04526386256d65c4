"""Background jobs of the server (ingests, rounds): each on a thread of its own, watched by id.

A job's ``progress`` is read while it runs (counts only: no lock needed for ints); its result is
kept as JSON-ready data once it ends. The board forgets the oldest finished jobs beyond
:data:`KEEP_JOBS`, so it never grows without bound.

Jobs yield the CPU to people: on Linux a job's thread runs :data:`BACKGROUND_NICE` steps nicer
than the server, and so do the encoder's and BLAS's worker threads it starts (a thread's nice
value is inherited by the threads it creates, and OpenMP keeps a pool per thread that starts a
parallel region). An answer that arrives while an ingest embeds or a round trains then gets a
core first (three times the job's CPU weight); the job takes what is left and loses nothing
when nobody is labeling. Not nicer than that: a job that yields to everything crawls on a
machine with other busy processes (at 10 steps, an API ingest beside a test suite took 12.6x
the wall time of `textal ingest`, for 1.15x its CPU time; scripts/bench_serve.py).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from textal.errors import TextalError
from textal.textsafe import terminal_safe

KEEP_JOBS = 100
BACKGROUND_NICE = 5  # CFS weight 335 against 1024 at nice 0: see below
RUNNING, DONE, FAILED, CANCELLED = "running", "done", "failed", "cancelled"


@dataclass
class Job:
    """One piece of background work. ``progress`` returns its counts so far."""

    id: str
    kind: str
    created_at: str
    progress: Callable[[], dict[str, int]] = dict
    state: str = RUNNING
    result: Any = None
    error: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)

    def view(self) -> dict[str, Any]:
        """The job as the API shows it."""
        return {
            "id": self.id,
            "kind": self.kind,
            "created_at": self.created_at,
            "state": self.state,
            "progress": self.progress(),
            "result": self.result,
            "error": self.error,
        }


def yield_to_people() -> None:
    """Lower the calling thread's CPU priority by :data:`BACKGROUND_NICE` (Linux only: elsewhere
    the call would change the whole process's, or fail)."""
    if sys.platform != "linux":
        return
    tid = threading.get_native_id()
    with contextlib.suppress(OSError):  # a sandbox that forbids it: the server's priority
        nice = min(19, os.getpriority(os.PRIO_PROCESS, tid) + BACKGROUND_NICE)
        os.setpriority(os.PRIO_PROCESS, tid, nice)


class JobBoard:
    """Starts jobs and finds them by id."""

    def __init__(self) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def start(
        self,
        kind: str,
        work: Callable[[Job], Any],
        progress: Callable[[], dict[str, int]] = dict,
    ) -> Job:
        """Run ``work(job)`` on a new thread; what it returns becomes ``job.result``. A
        :class:`TextalError` is the job's error as it is; anything else is logged too.
        ``progress`` gives the job's counts while it runs."""
        created = datetime.now(UTC).isoformat(timespec="seconds")
        job = Job(secrets.token_hex(8), kind, created, progress)

        def run() -> None:
            yield_to_people()
            try:
                job.result = work(job)
                job.state = CANCELLED if job.cancel.is_set() else DONE
            except TextalError as exc:
                job.error, job.state = str(exc), FAILED
            except Exception as exc:  # shown by GET /api/v1/jobs/ID; the server keeps serving
                job.error, job.state = f"internal error: {exc!r}", FAILED
                print(f"{kind} job failed: {terminal_safe(repr(exc))}", file=sys.stderr)
            finally:
                job.finished.set()

        with self._lock:
            self._jobs[job.id] = job
            finished = [k for k, j in self._jobs.items() if j.state != RUNNING]
            for old in finished[: max(0, len(self._jobs) - KEEP_JOBS)]:
                del self._jobs[old]
        threading.Thread(target=run, name=f"textal-{kind}", daemon=True).start()
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise TextalError(f"no job {job_id!r} (finished jobs are kept for a while only)")
        return job

    def running(self, kind: str | None = None) -> list[Job]:
        """The jobs still running (of ``kind``, when given), oldest first."""
        with self._lock:
            jobs = list(self._jobs.values())
        return [j for j in jobs if j.state == RUNNING and kind in (None, j.kind)]
