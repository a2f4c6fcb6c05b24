"""The /dev symlinks a Linux runtime adds.

Rules: runtime spec runtime-linux.md "Dev symbolic links": once the mounts
are in place, /dev/fd, /dev/stdin, /dev/stdout and /dev/stderr link to
/proc/self/fd, /proc/self/fd/0, /1 and /2 (their targets exist: /proc is
mounted by the default config).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.runc

LINKS = {
    "/dev/fd": "/proc/self/fd",
    "/dev/stdin": "/proc/self/fd/0",
    "/dev/stdout": "/proc/self/fd/1",
    "/dev/stderr": "/proc/self/fd/2",
}


@pytest.mark.oci_rule("runtime-linux.dev-symbolic-links.fd-std-symlinks")
def test_dev_fd_and_std_links_point_into_proc_self_fd(bundle, container):
    """runtime-linux.md: /dev/fd, stdin, stdout, stderr are symlinks to /proc/self/fd[/N]."""
    script = "; ".join(f'echo "{link} $(readlink {link})"' for link in LINKS)
    bundle.shell(script)
    made = container()
    done = made.run()
    assert done.returncode == 0, f"the container failed: {done.stderr.strip()}"
    seen = dict(line.split(" ", 1) for line in made.output().splitlines() if " " in line)
    wrong = {link: seen.get(link, "").strip() or "(no link)" for link in LINKS}
    wrong = {link: got for link, got in wrong.items() if got != LINKS[link]}
    assert not wrong, f"/dev links missing or wrong: {wrong}; expected {LINKS}"
