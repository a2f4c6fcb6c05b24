"""A record of every runtime command a test ran, for failure reports."""

from __future__ import annotations

import io
import re
import shlex
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Completed:
    """One finished runtime command: its command line, status and output."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    duration: float

    @property
    def command(self) -> str:
        """The command line as a person would paste it into a shell."""
        return shlex.join(self.argv)


@dataclass
class Transcript:
    """Commands and interactive sessions of one test, in the order they ran."""

    entries: list[str | tuple[str, io.StringIO]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)

    def add_command(self, done: Completed) -> None:
        lines = [f"$ {done.command}", f"# exit {done.returncode} in {done.duration:.3f}s"]
        lines += [f"  stdout| {line}" for line in done.stdout.splitlines()[-40:]]
        lines += [f"  stderr| {line}" for line in done.stderr.splitlines()[-40:]]
        self.entries.append("\n".join(lines))
        self.commands.append(done.command)

    def add_note(self, text: str) -> None:
        self.entries.append(text)

    def add_stream(self, command: str, stream: io.StringIO) -> None:
        """A live log (an interactive session's terminal), read when rendered."""
        self.entries.append((f"$ {command}   (on a terminal)", stream))
        self.commands.append(command)

    def render(self) -> str:
        if not self.entries:
            return "(no runtime command ran)"
        parts = []
        for entry in self.entries:
            if isinstance(entry, str):
                parts.append(entry)
            else:
                title, stream = entry
                parts.append(f"{title}\n{strip_terminal_codes(stream.getvalue())}")
        return "\n".join(parts)


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]")


def strip_terminal_codes(text: str) -> str:
    """Remove ANSI escape sequences and carriage returns from terminal output."""
    return _ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "")
