"""`verify_all(specs, impl)`: every layer checked in worker processes, whatever the plug-in does.
The worker pool is pool.py, a worker's own loop worker.py; this module is their API and the
signals a run takes (Ctrl-C, SIGTERM).

Plug-in code never runs in the process that writes the report. Each worker imports the
plug-in once and checks layer after layer with `checker.verify`; the parent hands out the
layers, collects the results in spec order and watches the workers. A worker that dies (a
segfault, `os._exit`, the kernel's out-of-memory killer) or runs past `timeout` seconds on
one layer fails that layer with one line ("backward killed by signal SIGSEGV", "forward
timed out after 300 s"), and a fresh worker takes the remaining layers. The phase named is
the one the worker was in, published through shared memory as it enters the plug-in's
forward or backward.

What a plug-in prints (its stdout and stderr, Python's and C's alike) goes to a file per
worker, never into the report: each layer's result carries what was printed while it was
checked (`SpecResult.output`: the last OUTPUT_LINES lines, `output_lines`: how many), as
pytest captures a test's output; a worker that dies leaves its last words there too.

The command line forks its workers from its own process (`prestart`), before it imports
anything heavy: they import NumPy and the checker on other cores while it imports the
command line and reads the specs, a replacement costs milliseconds, and the process that
writes the report never imports NumPy for a passing layer (the verdicts are NumPy-free
data, `result.py`). It imports no user code, so its workers start clean. Other callers
(`verify_all` from Python, which may have imported anything) get workers from a fork
server that has imported only the checker (spawn where there is none). With several jobs
each worker's BLAS gets cpu_count // jobs threads. `checker.verify` is the in-process API
for callers who want plug-in code in their own process.
"""

import math
import signal

from .errors import ConvcheckError
from .options import DEFAULT_TIMEOUT_S
from .pool import Pool, command_line


class Interrupted(Exception):
    """Ctrl-C (SIGINT) or SIGTERM during a run: the workers are stopped; `results` holds the
    layers finished by then, in spec order."""

    def __init__(self, results: list, signum: int):
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.results, self.signum = results, signum


def verify_all(specs, impl: str = "direct", *, jobs: int = 1, timeout: float = DEFAULT_TIMEOUT_S, progress=None,
               **options) -> list:
    """`checker.verify(spec, impl, **options)` for every spec, in `jobs` worker processes, the
    results in spec order. timeout: seconds per layer, 0 (or inf) for none. progress: an object with
    start(key, label), update(key, done, total), stop(key), layers(done, total) and notice(line),
    or None (notices then go to stderr).

    Raises ImplError (the plug-in cannot be imported, its import crashes or hangs),
    ConvcheckError (bad options) and Interrupted. Workers never run the caller's __main__ again
    (`_main_unnamed`), so a script needs no `if __name__ == "__main__":` guard.
    """
    return _run_all("verify", specs, impl, jobs, timeout, progress, options)


def plan_all(specs, impl: str = "direct", *, jobs: int = 1, timeout: float = DEFAULT_TIMEOUT_S, progress=None,
             **options) -> list:
    """`checker.plan(spec, impl, **options)` for every spec, in worker processes as `verify_all`
    runs them (a plug-in that crashes or hangs fails one layer's estimate): LayerPlans in spec order."""
    return _run_all("plan", specs, impl, jobs, timeout, progress, options)


def _run_all(action: str, specs, impl, jobs: int, timeout: float, progress, options: dict) -> list:
    if not isinstance(impl, str):
        raise ConvcheckError("verify_all takes the plug-in by name, for its workers to import: "
                             "a built-in, a path or a module")
    if jobs < 1:
        raise ConvcheckError(f"--jobs {jobs}: must be at least 1")
    if not timeout >= 0:
        raise ConvcheckError(f"--timeout {timeout}: must be a number of seconds, 0 for none")
    if not specs:
        return []
    pool = Pool(action, impl, min(jobs, len(specs)), timeout if math.isfinite(timeout) else 0, options, progress)
    previous = _catch_signals(pool)
    try:
        return pool.run(list(specs))
    except KeyboardInterrupt:
        raise Interrupted(pool.finished(), signal.SIGINT) from None
    except _Terminated:
        raise Interrupted(pool.finished(), signal.SIGTERM) from None
    finally:
        if previous is not None and command_line():
            _hold()                                       # the command writes its report whatever comes now
        pool.close()
        if previous is not None and not command_line():
            for signum, handler in previous.items():
                signal.signal(signum, handler)


class Session:
    """Worker processes kept for a whole test session (the pytest plugin, `assert_conv_backward`
    and `check` with a file): `verify(spec)` checks one layer in them as `verify_all` does, a
    crash, exit, hang or KeyboardInterrupt failing that layer alone; `close()` stops them.

        session = Session("my_conv.py", timeout=300, method="full")
        session.start()                  # ImplError if the plug-in cannot be imported
        result = session.verify(spec)
        session.close()
    """

    def __init__(self, impl: str, *, timeout: float = DEFAULT_TIMEOUT_S, **options):
        if not timeout >= 0:
            raise ConvcheckError(f"--timeout {timeout}: must be a number of seconds, 0 for none")
        self.pool = Pool("verify", impl, 1, timeout if math.isfinite(timeout) else 0, options, None)

    def start(self) -> None:
        """Start the worker and wait for its import of the plug-in (ImplError if it fails)."""
        self.pool.ready()

    def verify(self, spec, **options):
        """The SpecResult of one layer, checked in a worker with the session's options and these."""
        pool = self.pool
        saved = pool.options
        pool.options = {**saved, **options}
        previous = _catch_signals(pool)
        try:
            return pool.run([spec])[0]
        except KeyboardInterrupt:
            raise Interrupted(pool.finished(), signal.SIGINT) from None
        except _Terminated:
            raise Interrupted(pool.finished(), signal.SIGTERM) from None
        finally:
            pool.options = saved
            if previous is not None:
                for signum, handler in previous.items():
                    signal.signal(signum, handler)

    def close(self) -> None:
        self.pool.close()


class _Terminated(BaseException):
    """SIGTERM (a CI system cancelling the job), raised where the parent waits."""


SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _catch_signals(pool) -> dict | None:
    """While a run of `pool` lasts (main thread only): the first SIGINT or SIGTERM stops it
    (KeyboardInterrupt, _Terminated: the run stops and keeps what it has), at once where the
    pool waits, else once the message it is reading is handled (Pool.pending); any later one is
    ignored, so that stopping the workers, removing their files and the report are never cut
    short. The previous handlers, or None off the main thread (signals left alone)."""
    raised = []

    def handler(signum, frame):
        if raised:
            return
        raised.append(signum)
        stop = KeyboardInterrupt() if signum == signal.SIGINT else _Terminated()
        if not pool.blocked:                 # reading a worker's message: lose none of it
            pool.pending = stop
            return
        raise stop
    try:
        return {signum: signal.signal(signum, handler) for signum in SIGNALS}
    except ValueError:
        return None


_HELD: list = []
"""Signals the command line received after its run stopped, recorded, not raised (`held`)."""


def _hold() -> None:
    """From now on SIGINT and SIGTERM are recorded, not acted on: the command line finishes its
    report and exits with 128 + the first of them (`held`)."""
    for signum in SIGNALS:
        signal.signal(signum, lambda number, frame: _HELD.append(number))


def held() -> int | None:
    """The first signal the command line received after its run stopped, if any."""
    return _HELD[0] if _HELD else None
