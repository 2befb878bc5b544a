"""backward raises with terminal escapes, a NUL and a line that looks like a GitHub workflow
command in its message, after printing coloured log lines: every report shows them inert."""
import sys


def forward(x, w, b, **kwargs):
    from convcheck.impls import direct
    print("\033[32mINFO\033[0m forward \x00 done \a")
    return direct.forward(x, w, b, **kwargs)


def backward(dy, x, w, b, **kwargs):
    print("\033]0;pwned\a\033[2J", file=sys.stderr)
    raise ValueError("\033[2J\x00bad\r\n::error file=ci.yml::pwned\x1b[0m")
