"""A rich progress display on stderr for long runs: a bar per layer being checked (one per
worker), and one for the run when it has several layers. A bar appears only once its layer
has run for `delay` seconds, only on a terminal, and the display vanishes when the run ends.
rich.progress is imported with the first bar: a run of small layers, or one in CI, never shows one."""

import time

from rich.console import Console
from rich.markup import escape


class LazyProgress:
    """`start(key, label)` when a layer starts, `update(key, done, total)` as its finite
    differences run, `stop(key)` when it ends; `close()` after the run. `layers(done, total)`
    counts finished layers, `notice(line)` prints a line. Keys tell apart layers checked at
    the same time."""

    def __init__(self, console: Console | None = None, delay: float = 1.0, enabled: bool | None = None):
        self.console = console or Console(stderr=True, emoji=False)
        self.enabled = self.console.is_terminal if enabled is None else enabled
        self.delay = delay
        self.bar = None
        self.running = {}            # key -> [label, started, task id or None]
        self.run_task = None
        self.opened = time.perf_counter()

    def start(self, key, label: str) -> None:
        self.running[key] = [label, time.perf_counter(), None]

    def update(self, key, done: float, total: float) -> None:
        entry = self.running.get(key)
        if not self.enabled or entry is None or time.perf_counter() - entry[1] < self.delay:
            return
        if entry[2] is None:
            entry[2] = self._display().add_task(entry[0], total=total)
        self.bar.update(entry[2], completed=done, total=total)

    def stop(self, key) -> None:
        entry = self.running.pop(key, None)
        if entry is not None and entry[2] is not None:
            self.bar.remove_task(entry[2])

    def layers(self, done: int, total: int) -> None:
        """A bar for the run, once it has lasted `delay` seconds and has more than one layer."""
        if not self.enabled or total < 2 or time.perf_counter() - self.opened < self.delay:
            return
        if self.run_task is None:
            self.run_task = self._display().add_task("layers", total=total)
        self.bar.update(self.run_task, completed=done, total=total)

    def notice(self, line: str) -> None:
        """A line for the user on stderr now, above any bar: with or without a terminal, quiet or not."""
        self.console.print(f"convcheck: {escape(line)}", highlight=False, soft_wrap=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
        self.bar, self.run_task, self.running = None, None, {}

    def _display(self):
        if self.bar is None:
            from rich import progress as bars
            self.bar = bars.Progress(bars.TextColumn("{task.description}"), bars.BarColumn(), bars.TaskProgressColumn(),
                                     bars.MofNCompleteColumn(), bars.TimeRemainingColumn(), console=self.console,
                                     transient=True)
            self.bar.start()
        return self.bar
