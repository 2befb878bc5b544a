"""The `convcheck` command's entry point (also `python -m convcheck`).

For `verify` and `plan` it forks the workers first (`pool.prestart`), so that their imports (NumPy,
the checker) run on other cores while this process imports the command line.
"""

import sys


def _jobs(argv: list[str]) -> int:
    """--jobs N from the raw arguments (1 if absent or not a number; 0: one per CPU); typer
    parses them properly later, this only decides how many workers to fork early."""
    for i, arg in enumerate(argv):
        value = arg[len("--jobs="):] if arg.startswith("--jobs=") else argv[i + 1] if arg == "--jobs" and \
            i + 1 < len(argv) else None
        if value is not None and value.isdigit():
            import os
            return int(value) or os.cpu_count() or 1
    return 1


def main():
    if sys.argv[1:2] in (["verify"], ["plan"]):
        from .pool import prestart
        prestart(_jobs(sys.argv[2:]))
    from .cli import app
    try:
        app(prog_name="convcheck")
    except SystemExit as end:
        _exit(end.code)


def _exit(code) -> None:
    """Exit as sys.exit(code) would, without tearing down every module the command imported
    (typer, rich, PyYAML, multiprocessing: about 15 ms, a tenth of a small check): output
    flushed, atexit handlers run (the workers are killed and waited for there), then os._exit."""
    import atexit
    import os
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    try:
        atexit._run_exitfuncs()           # CPython's own exit step, the one os._exit skips
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):     # a closed pipe (| head): as Python itself ignores at exit
                pass
        os._exit(code or 0)


if __name__ == "__main__":
    main()
