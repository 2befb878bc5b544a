"""A rich progress bar on stderr for long checks: it appears only once a check has run for
`delay` seconds, only on a terminal, and vanishes when the check ends."""

import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn


class LazyProgress:
    """Callable as progress(done, total) by `verify`; `start(label)` before each spec, `stop()` after."""

    def __init__(self, console: Console | None = None, delay: float = 1.0, enabled: bool | None = None):
        self.console = console or Console(stderr=True)
        self.enabled = self.console.is_terminal if enabled is None else enabled
        self.delay = delay
        self.bar = self.task = None
        self.label, self.started = "", time.perf_counter()

    def start(self, label: str) -> None:
        self.label, self.started = label, time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if time.perf_counter() - self.started < self.delay:
                return
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                                TimeRemainingColumn(), console=self.console, transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=total)
        self.bar.update(self.task, completed=done, total=total, description=self.label)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = self.task = None
