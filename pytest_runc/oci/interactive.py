"""An interactive ``runc run`` session on a terminal, driven like a person would.

busybox ash on a runc terminal echoes input and queries the cursor position
(ESC[6n) after each prompt. We set a unique prompt, switch echo off, wrap
every command with a marker that carries its exit status, and strip escape
sequences from what comes back.
"""

from __future__ import annotations

import contextlib
import io
import re
import secrets
from dataclasses import dataclass

import pexpect

from pytest_runc.oci.bundle import Bundle
from pytest_runc.oci.runtime import Runtime
from pytest_runc.oci.transcript import strip_terminal_codes


@dataclass(frozen=True)
class CommandResult:
    """What a command typed in the session printed, and its exit status."""

    output: str
    status: int

    @property
    def lines(self) -> list[str]:
        return [line for line in self.output.splitlines() if line.strip()]


class InteractiveSession:
    """``runc run`` with ``terminal: true`` and a shell inside."""

    def __init__(self, runtime: Runtime, bundle: Bundle, container_id: str) -> None:
        self.runtime = runtime
        self.bundle = bundle
        self.id = container_id
        token = secrets.token_hex(4)
        self.prompt = f"prt-{token}# "
        self._marker = f"__prt_{token}_status="
        self.child: pexpect.spawn[str] | None = None
        self.exit_status: int | None = None

    def start(self, *, keep: bool = False) -> InteractiveSession:
        """Run the bundle's shell on a terminal and wait for its first prompt."""
        if not self.bundle.process.get("args"):
            self.bundle.args("sh")
        self.bundle.terminal(True).env(PS1=self.prompt)
        self.bundle.write()
        args = ["run", "--bundle", str(self.bundle.path)] + (["--keep"] if keep else [])
        self.child = self.runtime.spawn(*args, self.id)
        self._expect_prompt()
        self.run("stty -echo")
        return self

    def _expect_prompt(self, timeout: float | None = None) -> str:
        assert self.child is not None, "session not started"
        # The prompt ends with "# "; ash may follow it with ESC[6n.
        self.child.expect_exact(self.prompt, timeout=timeout or self.runtime.timeout)
        return str(self.child.before)

    def run(self, command: str, timeout: float | None = None) -> CommandResult:
        """Type ``command``, wait for it, return its output and exit status."""
        assert self.child is not None, "session not started"
        self.child.sendline(f"{command}; echo {self._marker}$?")
        self.child.expect(
            re.escape(self._marker) + r"(\d+)", timeout=timeout or self.runtime.timeout
        )
        raw_output = str(self.child.before)
        match = self.child.match
        assert isinstance(match, re.Match)
        status = int(match.group(1))
        self._expect_prompt(timeout)
        output = strip_terminal_codes(raw_output)
        # With echo still on (before `stty -echo` took effect), the typed
        # line comes back first: drop exactly that line.
        first, _, rest = output.partition("\n")
        if first.rstrip().endswith(f"echo {self._marker}$?"):
            output = rest
        return CommandResult(output=output.strip("\n"), status=status)

    def exit(self, status: int = 0, timeout: float | None = None) -> int:
        """Type ``exit STATUS``; return the exit status of ``runc run`` itself."""
        assert self.child is not None, "session not started"
        self.child.sendline(f"exit {status}")
        return self.wait(timeout)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for ``runc run`` to end; its status (128+N after signal N)."""
        assert self.child is not None, "session not started"
        self.child.expect(pexpect.EOF, timeout=timeout or self.runtime.timeout)
        self.child.close()
        if self.child.signalstatus is not None:
            self.exit_status = 128 + int(self.child.signalstatus)
        else:
            self.exit_status = int(self.child.exitstatus or 0)
        return self.exit_status

    @property
    def transcript(self) -> str:
        """Everything the terminal showed so far, without escape sequences."""
        log = self.child.logfile_read if self.child is not None else None
        return strip_terminal_codes(log.getvalue()) if isinstance(log, io.StringIO) else ""

    def close(self) -> None:
        """Teardown: end ``runc run`` if it still runs, then delete the container."""
        # KILL the container's init: `runc run` then ends and deletes the
        # container by itself. Much faster than pexpect's HUP/INT/KILL
        # sequence, or than `delete --force` of a live container (runc 1.1
        # polls for 100 ms); the forced delete below then finds nothing.
        if self.child is not None and self.child.isalive():
            self.runtime.kill(self.id, "KILL", check=False)
            with contextlib.suppress(pexpect.TIMEOUT, pexpect.EOF):
                self.child.expect(pexpect.EOF, timeout=5)
            self.child.close(force=True)
        self.runtime.delete(self.id, force=True, check=False)
