"""`verify_all(specs, impl)`: every layer checked in worker processes, whatever the plug-in does.

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

import atexit
import math
import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from multiprocessing.connection import wait

from .errors import ConvcheckError, ImplError

DEFAULT_TIMEOUT_S = 300.0
"""Seconds one layer may take in a worker (import included for the first): minutes above what
the default method spends on any layer (its 5 s budget plus one forward and one backward),
and short enough that a hung CI job fails in minutes, not at the CI system's limit."""

IDLE, IMPORT, FORWARD, BACKWARD, NUMERICAL = range(5)
"""What a worker is doing, as it publishes it: convcheck's own code, importing the plug-in,
the forward check, the backward, a forward during finite differences."""
PHASES = {IDLE: "check", IMPORT: "import", FORWARD: "forward", BACKWARD: "backward", NUMERICAL: "forward"}
PROGRESS_EVERY_S = 0.1
"""Shortest interval between two progress messages from a worker."""
BLAS_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
OUTPUT_LINES = 20
"""Lines of a plug-in's captured output a result keeps: the last ones."""


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
    pool = _Pool(action, impl, min(jobs, len(specs)), timeout if math.isfinite(timeout) else 0, options, progress)
    previous = _catch_signals()
    try:
        return pool.run(list(specs))
    except KeyboardInterrupt:
        raise Interrupted(pool.finished(), signal.SIGINT) from None
    except _Terminated:
        raise Interrupted(pool.finished(), signal.SIGTERM) from None
    finally:
        if previous is not None and _COMMAND_LINE:
            _hold()                                       # the command writes its report whatever comes now
        pool.close()
        if previous is not None and not _COMMAND_LINE:
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
        self.pool = _Pool("verify", impl, 1, timeout if math.isfinite(timeout) else 0, options, None)

    def start(self) -> None:
        """Start the worker and wait for its import of the plug-in (ImplError if it fails)."""
        self.pool.ready()

    def verify(self, spec, **options):
        """The SpecResult of one layer, checked in a worker with the session's options and these."""
        pool = self.pool
        saved = pool.options
        pool.options = {**saved, **options}
        previous = _catch_signals()
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


def _catch_signals() -> dict | None:
    """While a run lasts (main thread only): the first SIGINT or SIGTERM raises where the parent
    waits (KeyboardInterrupt, _Terminated: the run stops and keeps what it has); any later one
    is ignored, so that stopping the workers, removing their files and the report are never
    cut short. The previous handlers, or None off the main thread (signals left alone)."""
    raised = []

    def handler(signum, frame):
        if raised:
            return
        raised.append(signum)
        raise KeyboardInterrupt() if signum == signal.SIGINT else _Terminated()
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


class _Worker:
    """One worker process, its pipe, its published phase and its layers: the one it is checking
    and at most one more waiting in its pipe, so that it never waits for the parent."""

    def __init__(self, context, impl: str | None, output: str | None):
        """impl None: the worker imports the checker and waits to be told the plug-in and, if
        `output` is None, the file for its output (`adopt`; set `self.output` first)."""
        self.phase = context.RawValue("i", IMPORT)
        self.output = output          # the file its stdout and stderr go to
        self.conn, child = context.Pipe()
        parent = os.getpid() if context.get_start_method() == "fork" else None   # else the fork server
        self.process = context.Process(target=_work, args=(child, impl, self.phase, output, parent), daemon=True,
                                       name="convcheck-worker")
        with _main_unnamed():
            self.process.start()
        child.close()
        self.ready = False
        self.tasks = deque()          # (index, spec): the first is being checked
        self.since = time.monotonic() # when its import or its current layer began

    @property
    def task(self):
        return self.tasks[0] if self.tasks else None

    def adopt(self, impl: str) -> None:
        """A prestarted worker: import `impl` now; its import's time counts from here."""
        self.since = time.monotonic()
        self.conn.send((impl, self.output))

    def give(self, index: int, spec, action: str, options: dict) -> None:
        if not self.tasks:
            self.since = time.monotonic()
        self.tasks.append((index, spec))
        self.conn.send((index, spec, action, options))

    def kill(self, wait: bool = True) -> None:
        """SIGKILL the worker; `wait`: until it is gone, else multiprocessing's exit handler waits
        for it (it joins every child at exit)."""
        if self.process.is_alive():
            self.process.kill()
        if wait:
            self.process.join()
        self.conn.close()


class _Pool:
    def __init__(self, action: str, impl: str, jobs: int, timeout: float, options: dict, progress):
        self.action, self.impl, self.jobs, self.timeout, self.options = action, impl, jobs, timeout, options
        self.progress = progress
        self.context = context(jobs)
        self.workers: list[_Worker] = []
        self.results: list = []
        self.folder = _output_folder()                                 # one captured-output file per worker

    def _worker(self) -> "_Worker":
        return _Worker(self.context, self.impl, _output_file(self.folder))

    def start(self) -> None:
        """Workers up to `jobs` (the command line's prestarted ones first); a pool run again (a
        test session) keeps the ones still alive."""
        if not self.workers:
            self.workers = _adopt(self.impl, self.jobs)
        self.workers += [self._worker() for _ in range(self.jobs - len(self.workers))]

    def ready(self) -> None:
        """Wait until every worker has imported the plug-in: ImplError if one cannot (its import
        raised, crashed, exited or ran past the timeout)."""
        self.start()
        while not all(w.ready for w in self.workers):
            wait([w.conn for w in self.workers] + [w.process.sentinel for w in self.workers], self._until_deadline())
            for worker in self.workers:
                if not self._read(worker) or self._overdue(worker):
                    raise ImplError(f"--impl {self.impl}: the worker importing it stopped; a plug-in must import "
                                    "without crashing, exiting or hanging")

    def run(self, specs: list) -> list:
        self.results = [None] * len(specs)
        pending = list(range(len(specs)))[::-1]          # a stack: pop() gives the lowest index
        self.start()
        while pending or any(w.tasks for w in self.workers):
            for worker in self.workers:        # a second layer in the pipe while others remain for the rest
                while worker.ready and pending and len(worker.tasks) < (2 if len(pending) > self.jobs else 1):
                    index = pending.pop()
                    worker.give(index, specs[index], self.action, self.options)
                    if self.progress and len(worker.tasks) == 1:
                        self.progress.start(index, self._label(specs[index]))
            wait([w.conn for w in self.workers] + [w.process.sentinel for w in self.workers], self._until_deadline())
            for number, worker in enumerate(self.workers):
                if not self._read(worker) or self._overdue(worker):
                    worker.kill()
                    pending.extend(index for index, _ in reversed(list(worker.tasks)))  # waiting: checked next
                    self.workers[number] = self._worker() if pending else None
            self.workers = [w for w in self.workers if w is not None]
        return self.results

    def _read(self, worker: _Worker) -> bool:
        """Handle every message waiting from `worker`; False once it has died (its layer failed)."""
        try:
            while worker.conn.poll():
                self._handle(worker, worker.conn.recv())
        except (EOFError, OSError):
            pass
        if worker.process.is_alive():
            return True
        worker.process.join()
        self._lost(worker, _died(worker.phase.value, worker.process.exitcode))
        return False

    def _handle(self, worker: _Worker, message: tuple) -> None:
        kind = message[0]
        if kind == "ready":
            worker.ready, worker.phase.value = True, IDLE
        elif kind == "import_error":
            raise ImplError(message[1])
        elif kind == "fatal":
            raise ConvcheckError(message[1])
        elif kind == "progress" and self.progress and worker.task:
            self.progress.update(worker.task[0], *message[1:])
        elif kind == "notice":
            if self.progress:
                self.progress.notice(message[1])
            else:
                print(f"convcheck: {message[1]}", file=sys.stderr)
        elif kind == "result":
            self._finish(worker, message[2])

    def _label(self, spec) -> str:
        return f"{spec.name}: {'finite differences' if self.action == 'verify' else 'timing a forward'}"

    def _finish(self, worker: _Worker, result) -> None:
        """Record the result of the worker's current layer; the next in its pipe starts now."""
        index, _ = worker.tasks.popleft()
        self.results[index], worker.since = result, time.monotonic()
        if self.progress:
            self.progress.stop(index)
            self.progress.layers(sum(r is not None for r in self.results), len(self.results))
            if worker.tasks:
                following, spec = worker.task
                self.progress.start(following, self._label(spec))

    def _overdue(self, worker: _Worker) -> bool:
        """Past the timeout: its layer fails (its import, if it had not finished: ImplError)."""
        idle = worker.ready and not worker.tasks
        if idle or not self.timeout or time.monotonic() - worker.since <= self.timeout:
            return False
        self._lost(worker, f"timed out after {self.timeout:g} s")
        return True

    def _lost(self, worker: _Worker, what: str) -> None:
        """The worker is gone (`what` happened in its current phase): fail its layer."""
        phase = worker.phase.value
        if not worker.ready:
            how = "was " + what if what.startswith("killed") else what
            raise ImplError(f"--impl {self.impl}: the worker importing it {how}; a plug-in must import "
                            "without crashing, exiting or hanging")
        if worker.task is None:                          # died between layers: nothing lost
            return
        index, spec = worker.task
        words = f"{PHASES[phase]} {what}"
        if phase == NUMERICAL:
            words += " during finite differences"
        if phase in (NUMERICAL, IDLE) and what.startswith("timed out"):
            words += "; raise --timeout or choose a cheaper --method"
        result = _failed(self.action, spec, self.impl, self.options, words, time.monotonic() - worker.since)
        try:                                             # what it printed before it died
            with open(worker.output, "rb") as file:
                result.output, result.output_lines = _last_lines(file.fileno())
        except OSError:
            pass
        self._finish(worker, result)

    def finished(self) -> list:
        """The results in, in spec order, after an interruption: those already read, and those a
        worker sent that were still waiting in its pipe."""
        for worker in self.workers:
            try:
                while worker.tasks and worker.conn.poll():
                    message = worker.conn.recv()
                    if message[0] == "result":
                        index, _ = worker.tasks.popleft()
                        self.results[index] = message[2]
            except (EOFError, OSError):
                pass
        return [r for r in self.results if r is not None]

    def _until_deadline(self) -> float | None:
        """Seconds until the first import or layer in progress is due, None for no limit."""
        watched = [w.since for w in self.workers if w.task or not w.ready]
        if not self.timeout or not watched:
            return None
        return max(0.0, min(watched) + self.timeout - time.monotonic()) + 0.01

    def close(self) -> None:
        for worker in self.workers:     # the command line waits for them at exit: the kernel tears them
            worker.kill(wait=not _COMMAND_LINE)   # down while it writes the report
        self.workers = []
        _remove(self.folder)
        if self.progress:
            self.progress.close()


def _failed(action: str, spec, impl_name: str, options: dict, error: str, seconds: float = 0.0):
    """The result of a layer whose check (or plan) could not finish: `error` says why."""
    from .geometry import geometry
    from .options import checked, tolerances
    from .result import LayerPlan, SpecResult
    default_batch, spec = spec.batch is None, checked(spec)
    if action == "plan":
        return LayerPlan(spec, geometry(spec), impl_name, options.get("budget", 0.0), error=error, seconds=seconds)
    rtol, atol = tolerances(spec, options.get("rtol"), options.get("atol"))
    return SpecResult(spec, geometry(spec), impl_name, options.get("method", "auto"), rtol, atol, seconds=seconds,
                      error=error, backend=options.get("backend", "numpy"), default_batch=default_batch)


def _died(phase: int, exitcode: int) -> str:
    """'killed by signal SIGSEGV', 'exited with code 3'."""
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        return f"killed by signal {name}" + (" (out of memory?)" if name == "SIGKILL" else "")
    return f"exited with code {exitcode}"


_COMMAND_LINE = False
"""True once `prestart` has run: this process is the command line, which imports no user code."""


def context(jobs: int = 1):
    """The multiprocessing context workers come from: fork from the command line's own process
    (Linux), else a fork server that has imported the checker (spawn where there is none),
    started now if it is not running. Its BLAS gets cpu_count // jobs threads unless the user
    set them: the server reads them once, at start."""
    if _COMMAND_LINE and sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["convcheck.checker", __name__])
    unset = _blas_threads(jobs)
    try:
        from multiprocessing import forkserver
        forkserver.ensure_running()
    finally:
        for name in unset:
            del os.environ[name]
    return ctx


def _blas_threads(jobs: int) -> list[str]:
    """Give BLAS cpu_count // jobs threads in processes started from now on, unless the user set
    them; the variables set (for a caller to unset)."""
    unset = [name for name in BLAS_THREADS if name not in os.environ] if jobs > 1 else []
    os.environ.update({name: str(max(1, (os.cpu_count() or 1) // jobs)) for name in unset})
    return unset


_PRESTARTED: list = []
"""Workers `prestart` started for the command line, waiting to be told the plug-in."""


def prestart(jobs: int = 1) -> None:
    """For the command line, before it imports anything heavy: from now on workers are forked
    from this process, and `jobs` of them start now, importing NumPy and the checker while this
    process imports the command line and reads the specs; the first `verify_all` adopts them.
    Workers no run adopts die at exit. This process does no BLAS work: its BLAS setting is the
    workers'."""
    global _COMMAND_LINE
    _COMMAND_LINE = True
    if not sys.platform.startswith("linux"):
        return
    _blas_threads(jobs)
    _PRESTARTED.extend(_Worker(context(jobs), None, None) for _ in range(jobs))   # forked first: the rest
    folder = _output_folder()                                                   # runs beside their imports
    for worker in _PRESTARTED:
        worker.output = _output_file(folder)

    def clean():
        for worker in _PRESTARTED:
            worker.kill()
        _PRESTARTED.clear()
        _remove(folder)
    atexit.register(clean)


def _adopt(impl: str, jobs: int) -> list:
    """Up to `jobs` prestarted workers, told to import `impl`."""
    adopted = _PRESTARTED[:jobs]
    del _PRESTARTED[:jobs]
    for worker in adopted:
        worker.adopt(impl)
    return adopted


class _main_unnamed:
    """While a worker starts from a fork server (or spawn), the caller's __main__ has no file and
    no module name, so the worker never runs it again: a script that calls check() or verify_all
    without an `if __name__ == "__main__":` guard, or one read from stdin, would otherwise run
    itself in every worker (multiprocessing's spawn preparation). Workers need nothing from it:
    they import the plug-in by name."""

    def __enter__(self):
        self.main = sys.modules.get("__main__")
        self.saved = {key: self.main.__dict__[key] for key in ("__file__", "__spec__")
                      if self.main is not None and key in self.main.__dict__}
        for key in self.saved:
            setattr(self.main, key, None)
            if key == "__file__":
                del self.main.__file__

    def __exit__(self, *exc):
        for key, value in self.saved.items():
            setattr(self.main, key, value)


def _output_folder() -> str:
    """A new private folder for workers' captured output (tempfile is imported here: not before
    the command line forks its workers, which never need it)."""
    import tempfile
    return tempfile.mkdtemp(prefix="convcheck-output-")


def _remove(folder: str) -> None:
    """The output folder and its files (only files: `_output_file` made them)."""
    try:
        for entry in os.scandir(folder):
            os.remove(entry.path)
        os.rmdir(folder)
    except OSError:
        pass


def _output_file(folder: str) -> str:
    """A new file for one worker's captured output, in `folder`."""
    import tempfile
    fd, path = tempfile.mkstemp(suffix=".txt", dir=folder)
    os.close(fd)
    return path


# ---- the worker side -------------------------------------------------------------------------

class _Tracked:
    """The plug-in's forward and backward, publishing the phase as they run: the first
    FORWARD_CHECKS forwards of a layer are the forward check, later ones finite differences."""

    def __init__(self, impl, phase):
        from .options import FORWARD_CHECKS
        self.impl, self.phase, self.forwards, self.checks = impl, phase, 0, FORWARD_CHECKS

    def forward(self, *args, **kwargs):
        self.phase.value = FORWARD if self.forwards < self.checks else NUMERICAL
        self.forwards += 1
        try:
            return self.impl.forward(*args, **kwargs)
        finally:
            self.phase.value = IDLE

    def backward(self, *args, **kwargs):
        self.phase.value = BACKWARD
        try:
            return self.impl.backward(*args, **kwargs)
        finally:
            self.phase.value = IDLE


class _Progress:
    """progress(done, total) for `verify`, sent to the parent at most every PROGRESS_EVERY_S;
    notice(line) sent at once (the parent prints it on stderr)."""

    def __init__(self, conn):
        self.conn, self.last = conn, time.monotonic()     # nothing for layers shorter than that

    def __call__(self, done, total):
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            self.conn.send(("progress", float(done), float(total)))

    def notice(self, line: str) -> None:
        self.conn.send(("notice", line))


def _capture(path: str) -> int:
    """Send this process's stdout and stderr (file descriptors 1 and 2, so C code's prints too)
    to `path`, appending, Python's streams line-buffered; the descriptor to read it back with."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    for stream in (sys.stdout, sys.stderr):        # a line is in the file once printed: it survives a crash
        if stream is not None and hasattr(stream, "reconfigure"):
            stream.reconfigure(line_buffering=True)
    return fd


def _collect(fd: int) -> tuple[str, int]:
    """(the last OUTPUT_LINES lines printed since the last call, how many lines), then empty the file."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):    # a plug-in that closed or replaced them
            pass
    text, lines = _last_lines(fd)
    os.ftruncate(fd, 0)
    return text, lines


def _last_lines(fd: int, chunk: int = 2**20) -> tuple[str, int]:
    """(the last OUTPUT_LINES lines of the file, its number of lines), read in chunks."""
    size, lines, offset = os.fstat(fd).st_size, 0, 0
    while offset < size:
        lines += os.pread(fd, chunk, offset).count(b"\n")
        offset += chunk
    tail = os.pread(fd, min(size, 64 * 1024), max(0, size - 64 * 1024))
    if tail and not tail.endswith(b"\n"):
        lines += 1                                      # an unfinished last line counts
    kept = tail.decode("utf-8", errors="replace").splitlines()[-OUTPUT_LINES:]
    return "\n".join(kept), lines


def _work(conn, impl_name: str | None, phase, output: str | None, parent: int | None) -> None:
    """A worker's life: import the checker and the plug-in (its name and output file first read
    from the pipe if None), then check each layer the parent sends until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)       # Ctrl-C is the parent's to handle
    _die_with_parent(parent)
    from .checker import plan, verify
    from .impls import Implementation, load_impl
    try:
        if impl_name is None:
            impl_name, output = conn.recv()
    except (EOFError, OSError):                         # never adopted: the command ended first
        return
    captured = _capture(output)                         # a plug-in's prints go to a file, never into a report
    try:
        impl = load_impl(impl_name)
    except ConvcheckError as e:
        conn.send(("import_error", str(e)))
        return
    tracked = _Tracked(impl, phase)

    def bind(spec):                                     # an adapter that reads the spec, still tracked
        tracked.impl = impl.for_spec(spec)
        return tracked.forward, tracked.backward
    wrapped = Implementation(impl.name, tracked.forward, tracked.backward, impl.folder, impl.expressible,
                             bind if impl.bind else None)
    phase.value = IDLE
    conn.send(("ready",))
    while True:
        try:
            index, spec, action, options = conn.recv()
        except (EOFError, OSError):
            return
        tracked.forwards = 0
        try:
            if action == "plan":
                result = plan(spec, wrapped, **options)
            else:
                progress = _Progress(conn)
                result = verify(spec, wrapped, progress=progress, notify=progress.notice, **options)
        except ConvcheckError as e:
            conn.send(("fatal", str(e)))
            return
        except BaseException as e:   # a plug-in's KeyboardInterrupt, a returned object that broke the check
            result = _failed(action, spec, impl.name, options, f"the check could not finish: {impl.describe(e)}")
        phase.value = IDLE
        result.output, result.output_lines = _collect(captured)
        try:
            conn.send(("result", index, result))
        except Exception as e:                          # e.g. a returned object that cannot be pickled
            conn.send(("result", index, _failed(action, spec, impl.name, options,
                                                f"the result could not be sent: {e}")))


def _die_with_parent(parent: int | None) -> None:
    """Linux: SIGKILL this worker when its parent goes, so that a plug-in stuck in a loop never
    outlives a cancelled (even SIGKILLed) run. Forked from the command line (pid `parent`): a
    parent already gone before the request took effect ends the worker now. From a fork
    server (parent None): the server is the parent, and it exits once every holder of its
    'alive' pipe has closed it: convcheck's process, and every worker, which inherits a copy
    (multiprocessing's private attribute, hence the guard)."""
    if not sys.platform.startswith("linux"):
        return
    if parent is None:
        try:
            from multiprocessing import forkserver
            server = forkserver._forkserver
            if server._forkserver_alive_fd is not None:
                os.close(server._forkserver_alive_fd)
                server._forkserver_alive_fd = None
        except (AttributeError, OSError):
            pass
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)      # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if parent is not None and os.getppid() != parent:
        os._exit(1)
