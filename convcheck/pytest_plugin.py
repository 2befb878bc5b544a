"""The pytest plugin `convcheck` (registered through the `pytest11` entry point).

    pytest --convcheck-impl my_conv.py configs/

collects every YAML spec file under the given paths as one test item per layer, with ids
`configs/file.yaml::layer-name`, and checks each in a worker process kept for the session, as
`convcheck verify` does (runner.Session): a plug-in that crashes, exits, hangs past
--convcheck-timeout or raises KeyboardInterrupt fails its item alone, and the session goes on
(`-x`, `-k`, `--junitxml` and pytest-xdist's `-n` work as for any test). A failure shows the
plain-text table, coverage, diagnosis and what the plug-in printed; a layer the
implementation's API cannot express is skipped; a spec file with a bad field is a collection
error with the CLI's one line; a plug-in that cannot be imported stops the run before any test.

Without `--convcheck-impl` (or the ini option `convcheck_impl`) it collects nothing, and a
YAML file that is not a spec (no `layers:` and none of n, m, k, p, padding, stride) is left
alone, so other projects' YAML files never become tests. The other options are `verify`'s,
`--convcheck-NAME` for each of options.OPTIONS. At startup this module imports pytest and
convcheck.options (with the package's light __init__ and errors: no NumPy); the rest of
convcheck loads when a spec is found.
"""

import re

import pytest

from .options import OPTIONS


def pytest_addoption(parser):
    group = parser.getgroup("convcheck", "convcheck: check conv layers' backward passes on YAML specs")
    group.addoption("--convcheck-impl", metavar="IMPL", default=None,
                    help="check this implementation (what `convcheck verify --impl` takes) on every layer of the "
                         "YAML spec files under the given paths; without it no YAML file is collected")
    for option in OPTIONS:                     # default None: verify's own default unless given
        if option.type is bool:                # on by default: --convcheck-no-NAME turns it off
            group.addoption(f"--convcheck-no-{option.name}", dest=f"convcheck_{option.name}", action="store_const",
                            const=False, default=None, help=_help(option))
            continue
        group.addoption(f"--convcheck-{option.name}", default=None, help=_help(option),
                        **(dict(choices=option.choices) if option.choices else dict(type=option.type)))
    parser.addini("convcheck_impl", "as --convcheck-impl, for every run", default=None)


def pytest_sessionstart(session):
    """An --impl that cannot be imported stops the run with the CLI's one line, before any test:
    its worker imports it (this process never runs the plug-in's code)."""
    if _impl_text(session.config) is not None:
        from .errors import ConvcheckError
        try:
            _workers(session.config).start()
        except ConvcheckError as e:
            raise pytest.UsageError(f"convcheck: error: {e}") from None


def pytest_sessionfinish(session):
    if _WORKERS in session.config.stash:
        session.config.stash[_WORKERS].close()


def pytest_collect_file(file_path, parent):
    if file_path.suffix in (".yaml", ".yml") and _impl_text(parent.config) is not None and \
            _looks_like_spec(file_path, parent.config):
        return SpecFile.from_parent(parent, path=file_path)
    return None


class SpecFile(pytest.File):
    """A YAML spec file: one item per layer."""

    def collect(self):
        import os
        from dataclasses import replace

        from .errors import ConvcheckError
        from .loader import load_file
        from .memory import refuse
        shown = os.path.relpath(self.path, self.config.invocation_params.dir)     # as the user typed it
        try:
            specs = load_file(self.path)
            for spec in specs:                           # a layer that cannot fit this machine: as the CLI says it
                refuse(spec)
        except ConvcheckError as e:
            raise self.CollectError(f"convcheck: error: {str(e).replace(str(self.path), shown, 1)}") from None
        for spec in specs:
            yield LayerItem.from_parent(self, name=spec.name, spec=replace(spec, source=shown))


class LayerFailed(Exception):
    """A layer's check failed; carries its SpecResult."""

    def __init__(self, result):
        super().__init__(result.spec.name)
        self.result = result


class LayerItem(pytest.Item):
    """One layer of a spec file, checked by `verify` with the session's implementation and options."""

    def __init__(self, *, spec, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        self.result = None

    def runtest(self):
        from .runner import Interrupted
        try:
            self.result = _workers(self.config).verify(self.spec)
        except Interrupted:
            raise KeyboardInterrupt() from None              # Ctrl-C stops the session, as for any test
        if self.result.skipped:
            pytest.skip(self.result.skipped)
        if not self.result.passed:
            raise LayerFailed(self.result)

    def repr_failure(self, excinfo, style=None):
        from .errors import ConvcheckError
        if isinstance(excinfo.value, LayerFailed):
            from .report.text import headline
            return f"{headline([excinfo.value.result])}\n\n{excinfo.value.result!r}"
        if isinstance(excinfo.value, ConvcheckError):
            return f"convcheck: error: {excinfo.value}"
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, (self.spec.line or 1) - 1, f"convcheck layer {self.spec.name}"


def _impl_text(config) -> str | None:
    """--convcheck-impl as given (a path relative to the current folder, as for `convcheck
    verify`), else the ini option, a .py path in it relative to the ini file's folder."""
    given = config.getoption("--convcheck-impl")
    if given:
        return given
    value = config.getini("convcheck_impl") or None
    return _beside(value, config.inipath) if value and config.inipath else value


def _beside(value: str, inipath) -> str:
    """`value` ('my_conv.py', 'cs231n:layers.py', 'layer:PATH.py:Class') with its .py path
    joined to the ini file's folder, where that file exists; else as it is."""
    import os
    head, colon, rest = value.partition(":")
    prefix, target = (head + colon, rest) if colon and not head.endswith(".py") else ("", value)
    path, colon, name = target.partition(":")
    candidate = os.path.join(os.path.dirname(inipath), path)
    return prefix + candidate + colon + name if path.endswith(".py") and os.path.isfile(candidate) else value


def _workers(config):
    """The session's worker processes (runner.Session), started on first use."""
    if _WORKERS not in config.stash:
        from .runner import Session
        options = _options(config)
        config.stash[_WORKERS] = Session(_impl_text(config), **options)
    return config.stash[_WORKERS]


_WORKERS = pytest.StashKey()


def _options(config) -> dict:
    return {option.name: value for option in OPTIONS
            if (value := config.getoption(f"convcheck_{option.name}")) is not None}


def _help(option) -> str:
    """The command line's help for the option, its flags as pytest's (--budget: --convcheck-budget),
    with verify's default."""
    flags = "|".join(o.name for o in OPTIONS)
    text = re.sub(rf"--((?:no-)?(?:{flags}))\b", r"--convcheck-\1", option.help)
    text = text.replace("%", "%%")                                                   # argparse's % format
    return text if option.default is None else f"{text} [default: {option.default}]"


def _looks_like_spec(path, config) -> bool:
    """loader.is_spec, imported only once a YAML file is found; a file marked `only_by_name: true`
    only when named on the command line, as `convcheck verify` does."""
    from pathlib import Path

    from .loader import is_spec, only_by_name
    if not is_spec(path):
        return False
    named = {(Path(config.invocation_params.dir) / arg.split("::")[0]).resolve() for arg in config.args}
    return Path(path).resolve() in named or not only_by_name(path)
