"""The `convcheck` command's entry point (also `python -m convcheck`).

For `verify` and `plan` it forks the workers first (`runner.prestart`), so that their imports (NumPy,
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
        from .runner import prestart
        prestart(_jobs(sys.argv[2:]))
    from .cli import app
    app(prog_name="convcheck")


if __name__ == "__main__":
    main()
