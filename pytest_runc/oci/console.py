"""The receiving end of ``--console-socket``: a runtime sends a terminal's master here.

With ``process.terminal: true`` and no terminal of its own to give, ``runc
create`` (or ``exec --detach --tty``) connects to a unix socket and passes
the pseudo-terminal's master fd with SCM_RIGHTS. The fd must stay open until
the container has started: closing it earlier makes runc 1.1 fail the
create (see docs/architecture.md).
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time
from pathlib import Path


class ConsoleSocket:
    """A listening unix socket that accepts one connection and keeps the fd sent.

    Use as a context manager: it listens from ``__enter__``; :meth:`master`
    waits for the fd; everything is closed on ``__exit__``.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._server: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._fd: int | None = None
        self._error: str | None = None
        self._received = threading.Event()

    def __enter__(self) -> ConsoleSocket:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(self.path))
        # Through sudo the runtime (root) connects; as root nothing changes.
        os.chmod(self.path, 0o777)
        server.listen(1)
        self._server = server
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        return self

    def _accept(self) -> None:
        assert self._server is not None
        try:
            conn, _ = self._server.accept()
            with conn:
                _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
            if fds:
                self._fd = fds[0]
            else:
                self._error = "a connection came, but no fd was sent with it"
        except OSError as exc:
            self._error = f"receiving on {self.path}: {exc}"
        finally:
            self._received.set()

    def master(self, timeout: float = 5.0) -> int | None:
        """The terminal master fd the runtime sent, or None if none came in time."""
        self._received.wait(timeout)
        return self._fd

    @property
    def error(self) -> str | None:
        return self._error

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            # A blocked accept() returns once the socket is shut down.
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def read_until(fd: int, text: str, timeout: float = 5.0) -> str:
    """Read a terminal master until ``text`` shows up (or the deadline, or EOF); all read."""
    seen = b""
    deadline = time.monotonic() + timeout
    while text.encode() not in seen:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        seen += chunk
    return seen.decode(errors="replace")
