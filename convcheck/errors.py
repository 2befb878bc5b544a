"""Errors a user can cause. The CLI catches `ConvcheckError` once and exits with code 2; from
Python (convcheck.testing) it is a ValueError whose message is the CLI's one line."""


class ConvcheckError(ValueError):
    """Bad input from the user: a spec, a path, a plug-in that cannot be loaded."""


class SpecError(ConvcheckError):
    """A layer spec that cannot be used, located by file, line, layer and field."""

    def __init__(self, message, *, file=None, line=None, layer=None, field=None):
        self.file, self.line, self.layer, self.field = file, line, layer, field
        self.detail = message
        where = [str(file) + (f":{line}" if line else "")] if file else []
        if layer is not None:
            where.append(f"layer '{layer}'")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(": ".join(where + [message]))


class ImplError(ConvcheckError):
    """An implementation (`--impl`) that cannot be imported or lacks forward/backward."""


class NotTwiceDifferentiable(Exception):
    """An op whose backward autograd cannot differentiate (order 2): why, in words. Not the
    user's input going wrong but the op's verdict: the check reports it, nothing exits."""
