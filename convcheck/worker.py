"""A worker process's own loop (`work`): import the checker and the plug-in, then check each
layer the parent (pool.py) sends with `checker.verify` or `checker.plan`, publishing the
phase it is in (the plug-in's forward, backward, a forward during finite differences) through
shared memory, and capturing what the plug-in prints into a file per worker (`capture`):
each result carries the last OUTPUT_LINES lines printed while its layer was checked.
"""

import os
import signal
import sys
import time

from .errors import ConvcheckError

IDLE, IMPORT, FORWARD, BACKWARD, NUMERICAL = range(5)
"""What a worker is doing, as it publishes it: convcheck's own code, importing the plug-in,
the forward check, the backward, a forward during finite differences."""
PHASES = {IDLE: "check", IMPORT: "import", FORWARD: "forward", BACKWARD: "backward", NUMERICAL: "forward"}
PROGRESS_EVERY_S = 0.1
"""Shortest interval between two progress messages from a worker."""
OUTPUT_LINES = 20
"""Lines of a plug-in's captured output a result keeps: the last ones."""


def work(conn, impl_name: str | None, phase, output: str | None, parent: int | None) -> None:
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
    captured = capture(output)                         # a plug-in's prints go to a file, never into a report
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
                             bind if impl.bind else None, tracked.second if impl.second else None)
    phase.value = IDLE
    conn.send(("ready",))
    while True:
        try:
            index, spec, action, options = conn.recv()
        except (EOFError, OSError):
            return
        tracked.forwards = 0
        sent = []                                       # the provisional result, once sent
        try:
            if action == "plan":
                result = plan(spec, wrapped, **options)
            else:
                progress = _Progress(conn)
                result = verify(spec, wrapped, progress=progress, notify=progress.notice,
                                provisional=lambda checked: sent.append(_provisional(conn, index, checked, captured)),
                                **options)
        except ConvcheckError as e:
            conn.send(("fatal", str(e)))
            return
        except BaseException as e:   # a plug-in's KeyboardInterrupt, a returned object that broke the check
            result = sent[0] if sent else failed(action, spec, impl.name, options,
                                                 f"the check could not finish: {impl.describe(e)}")
        phase.value = IDLE
        printed = collect(captured)
        if not sent:                                    # else: printed while it shrank, not the layer's check
            result.output, result.output_lines = printed
        try:
            conn.send(("result", index, result))
        except Exception as e:                          # e.g. a returned object that cannot be pickled
            conn.send(("result", index, failed(action, spec, impl.name, options,
                                                f"the result could not be sent: {e}")))


def _provisional(conn, index: int, result, captured: int) -> None:
    """Send the parent a failing layer's result before shrinking it (shrink.py), with what the
    plug-in printed while the layer was checked and the seconds shrinking may take: a plug-in
    that hangs or crashes while the layer shrinks leaves the parent this verdict."""
    from .shrink import limit_for
    result.output, result.output_lines = collect(captured)
    conn.send(("checked", index, result, limit_for(result.seconds)))
    return result


def failed(action: str, spec, impl_name: str, options: dict, error: str, seconds: float = 0.0):
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

    def second(self, *args, **kwargs):
        self.phase.value = BACKWARD
        try:
            return self.impl.second(*args, **kwargs)
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


def capture(path: str) -> int:
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


def collect(fd: int) -> tuple[str, int]:
    """(the last OUTPUT_LINES lines printed since the last call, how many lines), then empty the file."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):    # a plug-in that closed or replaced them
            pass
    text, lines = last_lines(fd)
    os.ftruncate(fd, 0)
    return text, lines


def last_lines(fd: int, chunk: int = 2**20) -> tuple[str, int]:
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
