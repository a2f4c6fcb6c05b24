"""Typed errors raised by pytest-runc's layers."""

from __future__ import annotations

import shlex
from collections.abc import Sequence


class RuncError(Exception):
    """Base class of every error pytest-runc raises on purpose."""


class RuntimeCommandError(RuncError):
    """A runtime command exited with a non-zero status.

    Carries the full command line, the exit status and what the runtime wrote
    to stderr, so a failure report can say exactly what to run again.
    """

    def __init__(self, argv: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(
            f"`{shlex.join(self.argv)}` exited with status {returncode}: "
            f"{self.message or '(no message on stderr)'}"
        )

    @property
    def message(self) -> str:
        """The runtime's own error message, without runc's logrus decoration."""
        return runtime_message(self.stderr)


class RuntimeTimeout(RuncError):
    """A runtime command did not finish before its deadline; it was killed."""

    def __init__(self, argv: Sequence[str], timeout: float, stdout: str, stderr: str) -> None:
        self.argv = list(argv)
        self.timeout = timeout
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(
            f"`{shlex.join(self.argv)}` did not finish within {timeout:g}s and was killed"
            " (raise --runc-timeout if the runtime is just slow)"
        )


class BundleError(RuncError):
    """A bundle cannot be written or read as asked."""


class RootfsError(RuncError):
    """A root filesystem cannot be built from the given source."""


def runtime_message(stderr: str) -> str:
    """Extract the human part of a runtime's stderr.

    runc logs `time="..." level=error msg="..."`; users want the msg text.
    Other runtimes print plain text, which is returned stripped.
    """
    messages: list[str] = []
    for line in stderr.splitlines():
        marker = ' msg="'
        start = line.find(marker)
        if start >= 0 and line.endswith('"'):
            text = line[start + len(marker) : -1]
            messages.append(text.replace('\\"', '"'))
        elif line.strip():
            messages.append(line.strip())
    return "; ".join(messages)
