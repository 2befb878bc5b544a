"""The worker pool, the parent's side of `runner`: start worker processes (forked from the
command line's own process, else from a fork server that has imported only the checker),
hand each its layers (one being checked, at most one more waiting in its pipe), read back
results, progress and notices, and replace a worker that dies or runs past the timeout,
failing that layer alone with one line naming the phase (worker.PHASES).
"""

import atexit
import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from multiprocessing.connection import wait

from .errors import ConvcheckError, ImplError
from .worker import IDLE, IMPORT, NUMERICAL, PHASES, failed, last_lines, work

BLAS_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
SHRINK_GRACE_S = 10.0
"""Seconds a shrinking layer may run past twice its own limit (one candidate's check started
just before it) before its worker is stopped and the layer's verdict kept without it."""


class Worker:
    """One worker process, its pipe, its published phase and its layers: the one it is checking
    and at most one more waiting in its pipe, so that it never waits for the parent."""

    def __init__(self, context, impl: str | None, output: str | None):
        """impl None: the worker imports the checker and waits to be told the plug-in and, if
        `output` is None, the file for its output (`adopt`; set `self.output` first)."""
        self.phase = context.RawValue("i", IMPORT)
        self.output = output          # the file its stdout and stderr go to
        self.conn, child = context.Pipe()
        parent = os.getpid() if context.get_start_method() == "fork" else None   # else the fork server
        self.process = context.Process(target=work, args=(child, impl, self.phase, output, parent), daemon=True,
                                       name="convcheck-worker")
        with _main_unnamed():
            self.process.start()
        child.close()
        self.ready = False
        self.tasks = deque()          # (index, spec): the first is being checked
        self.since = time.monotonic() # when its import or its current layer (or its shrinking) began
        self.provisional = None       # the current layer's failing result, sent before it shrinks
        self.limit = None             # seconds its shrinking may take before it is stopped (None: the timeout)

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


class Pool:
    def __init__(self, action: str, impl: str, jobs: int, timeout: float, options: dict, progress):
        self.action, self.impl, self.jobs, self.timeout, self.options = action, impl, jobs, timeout, options
        self.progress = progress
        self.context = context(jobs)
        self.workers: list[Worker] = []
        self.results: list = []
        self.folder = _output_folder()                                 # one captured-output file per worker
        self.blocked = False          # waiting for workers: a signal may stop the run here (runner)
        self.pending = None           # the exception a signal asked for while the pool was reading

    def _worker(self) -> "Worker":
        return Worker(self.context, self.impl, _output_file(self.folder))

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
            self._wait()
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
            self._wait()
            for number, worker in enumerate(self.workers):
                if not self._read(worker) or self._overdue(worker):
                    worker.kill()
                    pending.extend(index for index, _ in reversed(list(worker.tasks)))  # waiting: checked next
                    self.workers[number] = self._worker() if pending else None
            self.workers = [w for w in self.workers if w is not None]
        self._stop_if_asked()
        return self.results

    def _wait(self) -> None:
        """Block until a worker sends something, dies or is due. Only here does a signal stop the
        run at once (runner._catch_signals); one that comes while a message is being read is
        raised once it has been handled (`_stop_if_asked`), so that no verdict read from a
        pipe is lost with the exception."""
        self._stop_if_asked()
        self.blocked = True
        try:
            wait([w.conn for w in self.workers] + [w.process.sentinel for w in self.workers], self._until_deadline())
        finally:
            self.blocked = False

    def _stop_if_asked(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            raise pending

    def _read(self, worker: Worker) -> bool:
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

    def _handle(self, worker: Worker, message: tuple) -> None:
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
        elif kind == "checked":                       # a failing layer's verdict, before shrinking
            worker.provisional, worker.since = message[2], time.monotonic()
            worker.limit = 2 * message[3] + SHRINK_GRACE_S
        elif kind == "result":
            self._finish(worker, message[2])

    def _label(self, spec) -> str:
        return f"{spec.name}: {'finite differences' if self.action == 'verify' else 'timing a forward'}"

    def _finish(self, worker: Worker, result) -> None:
        """Record the result of the worker's current layer; the next in its pipe starts now."""
        index, _ = worker.tasks.popleft()
        self.results[index], worker.since = result, time.monotonic()
        worker.provisional = worker.limit = None
        if self.progress:
            self.progress.stop(index)
            self.progress.layers(sum(r is not None for r in self.results), len(self.results))
            if worker.tasks:
                following, spec = worker.task
                self.progress.start(following, self._label(spec))

    def _overdue(self, worker: Worker) -> bool:
        """Past the timeout: its layer fails (its import, if it had not finished: ImplError)."""
        idle = worker.ready and not worker.tasks
        limit = self._limit(worker)
        if idle or not limit or time.monotonic() - worker.since <= limit:
            return False
        self._lost(worker, f"timed out after {limit:g} s")
        return True

    def _limit(self, worker: Worker) -> float:
        """Seconds the worker's current step may take (0: no limit): the timeout, or while a
        layer shrinks, less when its own limit is lower."""
        if worker.limit is None:
            return self.timeout
        return min(self.timeout, worker.limit) if self.timeout else worker.limit

    def _lost(self, worker: Worker, what: str) -> None:
        """The worker is gone (`what` happened in its current phase): fail its layer."""
        phase = worker.phase.value
        if not worker.ready:
            how = "was " + what if what.startswith("killed") else what
            raise ImplError(f"--impl {self.impl}: the worker importing it {how}; a plug-in must import "
                            "without crashing, exiting or hanging")
        if worker.task is None:                          # died between layers: nothing lost
            return
        if worker.provisional is not None:               # while shrinking: the verdict stands
            self._finish(worker, _unshrunk(worker.provisional, f"the plug-in's {PHASES[phase]} {what} while the "
                                                               "layer shrank"))
            return
        index, spec = worker.task
        words = f"{PHASES[phase]} {what}"
        if phase == NUMERICAL:
            words += " during finite differences"
        if phase in (NUMERICAL, IDLE) and what.startswith("timed out"):
            words += "; raise --timeout or choose a cheaper --method"
        result = failed(self.action, spec, self.impl, self.options, words, time.monotonic() - worker.since)
        try:                                             # what it printed before it died
            with open(worker.output, "rb") as file:
                result.output, result.output_lines = last_lines(file.fileno())
        except OSError:
            pass
        self._finish(worker, result)

    def finished(self) -> list:
        """The results in, in spec order, after an interruption: those already read, those a
        worker sent that were still waiting in its pipe, and a shrinking layer's verdict."""
        for worker in self.workers:
            try:
                while worker.tasks and worker.conn.poll():
                    message = worker.conn.recv()
                    if message[0] == "checked":
                        worker.provisional = message[2]
                    elif message[0] == "result":
                        index, _ = worker.tasks.popleft()
                        self.results[index], worker.provisional = message[2], None
            except (EOFError, OSError):
                pass
            if worker.tasks and worker.provisional is not None:
                self.results[worker.task[0]] = _unshrunk(worker.provisional, "the run was stopped while the layer "
                                                                             "shrank")
        return [r for r in self.results if r is not None]

    def _until_deadline(self) -> float | None:
        """Seconds until the first import or layer in progress is due, None for no limit."""
        watched = [w.since + self._limit(w) for w in self.workers if (w.task or not w.ready) and self._limit(w)]
        if not watched:
            return None
        return max(0.0, min(watched) - time.monotonic()) + 0.01

    def close(self) -> None:
        for worker in self.workers:     # the command line waits for them at exit: the kernel tears them
            worker.kill(wait=not _COMMAND_LINE)   # down while it writes the report
        self.workers = []
        _remove(self.folder)
        if self.progress:
            self.progress.close()


def _unshrunk(result, why: str):
    """A failing layer's verdict whose shrinking did not end: `why`, in place of its smallest layer."""
    from .result import Smallest
    from .shrink import failure
    result.smallest = Smallest({}, [list(f) for f in failure(result)], stopped="no smallest layer: " + why)
    return result


def _died(phase: int, exitcode: int) -> str:
    """'killed by signal SIGSEGV', 'exited with code 3'."""
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        return f"killed by signal {name}" + (" (out of memory?)" if name == "SIGKILL" else "")
    return f"exited with code {exitcode}"


_COMMAND_LINE = False
"""True once `prestart` has run: this process is the command line, which imports no user code."""


def command_line() -> bool:
    """This process is the command line (`prestart` ran): it imports no user code."""
    return _COMMAND_LINE


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
    ctx.set_forkserver_preload(["convcheck.checker", "convcheck.worker", __name__])
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
    _PRESTARTED.extend(Worker(context(jobs), None, None) for _ in range(jobs))   # forked first: the rest
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
