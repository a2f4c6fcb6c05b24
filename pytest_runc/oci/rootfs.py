"""Root filesystems for containers: built once per session, copied per test.

The default is a static busybox with RELATIVE applet links: ``busybox
--install -s`` writes absolute links to the host's busybox, which dangle
inside the container (docs/architecture.md). A user may name a directory or
tarball; as root, each test then gets an overlay of it (the tree is the
read-only lower layer, writes go to the test's own directory) instead of a
copy, which for a large tree cost seconds and its size in RAM per test.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from pytest_runc.oci.elf import read_elf
from pytest_runc.oci.errors import RootfsError

BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox", "/usr/local/bin/busybox")
BUSYBOX_FIX = "install a static busybox (`apt-get install busybox-static`) or pass --runc-rootfs"

#: Top-level directories of the built-in rootfs; `ls /` in a container
#: must show exactly these (and nothing of the host).
TOP_LEVEL = ("bin", "dev", "etc", "proc", "root", "sys", "tmp")

PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"


def find_static_busybox() -> tuple[Path | None, str]:
    """The first static busybox on this host, or None and why not."""
    seen_dynamic = []
    for candidate in BUSYBOX_CANDIDATES:
        path = Path(candidate)
        if not path.is_file():
            continue
        try:
            info = read_elf(path)
        except OSError as exc:
            seen_dynamic.append(f"{path} is unreadable ({exc.strerror})")
            continue
        if info is not None and info.is_static:
            return path.resolve(), ""
        seen_dynamic.append(f"{path} is not a static executable")
    detail = "; ".join(seen_dynamic) if seen_dynamic else "no busybox found"
    return None, f"no static busybox ({detail}): {BUSYBOX_FIX}"


def busybox_applets(busybox: Path) -> list[str]:
    """The applet names ``busybox --list`` reports (the binary runs on the host)."""
    try:
        done = subprocess.run(
            [str(busybox), "--list"], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise RootfsError(f"`{busybox} --list` failed ({exc}); {BUSYBOX_FIX}") from exc
    return [name for name in done.stdout.split() if name and "/" not in name]


def build_busybox_rootfs(busybox: Path, dest: Path) -> Path:
    """Write a minimal rootfs at ``dest``: busybox, relative applet links, /etc."""
    for name in TOP_LEVEL:
        (dest / name).mkdir(parents=True, exist_ok=True)
    (dest / "root").chmod(0o700)
    (dest / "tmp").chmod(0o1777)
    shutil.copyfile(busybox, dest / "bin" / "busybox")
    (dest / "bin" / "busybox").chmod(0o755)
    for applet in busybox_applets(busybox):
        if applet != "busybox":
            os.symlink("busybox", dest / "bin" / applet)
    (dest / "etc" / "passwd").write_text(PASSWD)
    (dest / "etc" / "group").write_text(GROUP)
    (dest / "etc" / "hostname").write_text("runc\n")
    return dest


def extract_tarball(tarball: Path, dest: Path) -> Path:
    """Unpack a rootfs tarball, refusing members that escape ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(tarball) as tar:
            if hasattr(tarfile, "tar_filter"):
                tar.extractall(dest, filter="tar")
            else:  # Python < 3.9.17 / 3.11.4: check paths ourselves
                for member in tar.getmembers():
                    target = (dest / member.name).resolve()
                    if not str(target).startswith(str(dest.resolve())):
                        raise RootfsError(f"{tarball}: member {member.name!r} escapes the rootfs")
                tar.extractall(dest)
    except (tarfile.TarError, OSError) as exc:
        raise RootfsError(f"cannot unpack rootfs tarball {tarball}: {exc}") from exc
    return dest


def copy_tree(source: Path, dest: Path) -> Path:
    """Copy a rootfs, keeping symlinks as symlinks (never following them).

    Much faster than ``shutil.copytree`` for a rootfs of links: no copystat
    per entry, only the mode of files and directories is carried over.
    Special files (devices, fifos, sockets) are skipped: runc makes /dev.
    """
    return TreePlan.scan(source).copy_to(dest)


@dataclass(frozen=True)
class TreePlan:
    """What :func:`copy_tree` makes, read once from a tree that does not change.

    Every test copies the same template: scanning it (a readdir, lstat and
    readlink per entry) once and replaying the plan halves the copy's cost.
    Entries are relative paths, parents before children.
    """

    root: Path
    root_mode: int
    dirs: tuple[tuple[str, int], ...]  # (relative path, mode)
    links: tuple[tuple[str, str, str], ...]  # (parent, name, link target)
    files: tuple[tuple[str, int], ...]  # (relative path, mode)

    @classmethod
    def scan(cls, source: Path) -> TreePlan:
        dirs: list[tuple[str, int]] = []
        links: list[tuple[str, str, str]] = []
        files: list[tuple[str, int]] = []
        pending = [""]
        while pending:
            rel_dir = pending.pop()
            with os.scandir(os.path.join(source, rel_dir)) as entries:
                for entry in entries:
                    rel = os.path.join(rel_dir, entry.name)
                    if entry.is_symlink():
                        links.append((rel_dir, entry.name, os.readlink(entry.path)))
                    elif entry.is_dir(follow_symlinks=False):
                        dirs.append((rel, stat.S_IMODE(entry.stat(follow_symlinks=False).st_mode)))
                        pending.append(rel)
                    elif entry.is_file(follow_symlinks=False):
                        files.append((rel, stat.S_IMODE(entry.stat(follow_symlinks=False).st_mode)))
        root_mode = stat.S_IMODE(os.lstat(source).st_mode)
        return cls(Path(source), root_mode, tuple(dirs), tuple(links), tuple(files))

    def copy_to(self, dest: Path) -> Path:
        """Make the tree at ``dest`` (which must not exist)."""
        os.mkdir(dest, 0o700)
        base = str(dest)
        for rel, _ in self.dirs:
            os.mkdir(os.path.join(base, rel), 0o700)
        for rel, mode in self.files:
            target = os.path.join(base, rel)
            shutil.copyfile(os.path.join(self.root, rel), target, follow_symlinks=False)
            os.chmod(target, mode)
        # Links relative to their directory's descriptor: one path lookup per
        # directory instead of one per link (a rootfs is mostly applet links).
        opened: dict[str, int] = {}
        try:
            for parent, name, link in self.links:
                fd = opened.get(parent)
                if fd is None:
                    fd = opened[parent] = os.open(
                        os.path.join(base, parent), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
                    )
                os.symlink(link, name, dir_fd=fd)
        finally:
            for fd in opened.values():
                os.close(fd)
        # Modes last: a read-only directory (0555) is filled before it is closed.
        for rel, mode in self.dirs:
            os.chmod(os.path.join(base, rel), mode)
        os.chmod(dest, self.root_mode)
        return dest


#: Where a test's overlay keeps its upper and work directories: beside the
#: rootfs, inside the test's own directory (``rootfs-layers``).
LAYERS_SUFFIX = "-layers"


def overlay_refusal() -> str | None:
    """Why this process cannot mount an overlay itself (None as root).

    Through sudo or in a rootless run the mount would need privileges the
    test process does not have: those runs copy the tree.
    """
    return None if os.geteuid() == 0 else "an overlay needs root"


def _escape_option(path: Path) -> str:
    # overlayfs splits lowerdir on ':' and mount options on ','.
    return str(path).replace("\\", "\\\\").replace(":", "\\:").replace(",", "\\,")


def _mount(argv: list[str]) -> str | None:
    """Run a mount command; None on success, else its error text."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    return None if done.returncode == 0 else (done.stderr.strip() or f"exit {done.returncode}")


def mount_overlay(lower: Path, dest: Path) -> str | None:
    """Mount at ``dest`` an overlay of ``lower`` (never written: the read-only
    lower layer), with its upper and work directories at ``dest-layers``.

    Returns None when mounted, else why not (and leaves neither directory).
    """
    layers = dest.with_name(dest.name + LAYERS_SUFFIX)
    upper, work = layers / "upper", layers / "work"
    os.mkdir(layers, 0o700)
    os.mkdir(upper, 0o700)
    os.mkdir(work, 0o700)
    # The merged root takes the upper directory's mode and owner.
    info = os.stat(lower)
    os.chmod(upper, stat.S_IMODE(info.st_mode))
    os.chown(upper, info.st_uid, info.st_gid)
    os.mkdir(dest, 0o700)
    options = (
        f"lowerdir={_escape_option(lower)},upperdir={_escape_option(upper)},"
        f"workdir={_escape_option(work)}"
    )
    problem = _mount(["mount", "-t", "overlay", "overlay", "-o", options, str(dest)])
    if problem is None:
        # Under a shared parent (/dev/shm is) the mount would propagate to other namespaces.
        problem = _mount(["mount", "--make-private", str(dest)])
        if problem is not None:
            _mount(["umount", "-l", str(dest)])
    if problem is not None:
        os.rmdir(dest)
        shutil.rmtree(layers, ignore_errors=True)
    return problem


@dataclass
class RootfsSource:
    """Where test rootfs copies come from; the template is made on first use.

    ``source`` is the user's ``--runc-rootfs`` (directory or tarball), or
    None for the built-in busybox. ``workdir`` is a private directory that
    holds the template for this session (or xdist worker); only building the
    template needs it, so a source can be checked and described without one.
    """

    source: Path | None
    workdir: Path | None = None
    _template: Path | None = None
    _plan: TreePlan | None = None
    #: Why a user's rootfs is copied rather than overlaid (None: overlays, so far).
    copy_reason: str | None = None
    #: Set when an overlay mount failed mid-run (the header said "overlay").
    refused: str | None = None

    def __post_init__(self) -> None:
        if self.source is not None:
            self.copy_reason = overlay_refusal()

    def describe(self) -> str:
        if self.source is None:
            busybox, reason = find_static_busybox()
            return f"busybox {busybox}" if busybox else f"busybox (unavailable: {reason})"
        return f"{self.source} ({self.per_test()})"

    def per_test(self) -> str:
        """How each test gets its own rootfs from a user's source, in words."""
        if self.copy_reason is None:
            return (
                "an overlay per test: the tree is the read-only lower layer,"
                " writes stay in the test's directory"
            )
        return f"copied per test: {self.copy_reason}"

    def problem(self) -> str | None:
        """Why no rootfs can be made here, in words a person can act on; None if fine."""
        if self.source is None:
            busybox, reason = find_static_busybox()
            return None if busybox else reason
        if not self.source.exists():
            return f"--runc-rootfs {self.source} does not exist; pass a directory or a tarball"
        if self.source.is_dir():
            if not any(self.source.iterdir()):
                return f"--runc-rootfs {self.source} is an empty directory"
            return None
        if tarfile.is_tarfile(self.source):
            return None
        return f"--runc-rootfs {self.source} is neither a directory nor a tarball"

    def template(self) -> Path:
        """The session's pristine rootfs, built or unpacked once."""
        if self._template is None:
            reason = self.problem()
            if reason:
                raise RootfsError(reason)
            if self.workdir is None:
                raise RootfsError("no work directory to build the rootfs template in")
            target = self.workdir / "rootfs-template"
            if target.exists():
                shutil.rmtree(target)
            if self.source is None:
                busybox, _ = find_static_busybox()
                assert busybox is not None
                build_busybox_rootfs(busybox, target)
            elif self.source.is_dir():
                # A user's directory is used in place as the template: it is
                # only ever read, each test gets its own copy.
                self._template = self.source
                return self.source
            else:
                extract_tarball(self.source, target)
            self._template = target
        return self._template

    def copy_to(self, dest: Path) -> Path:
        """A test's own rootfs at ``dest``: writes there never reach another test.

        A user's rootfs is overlaid where this process may mount (unmount it
        with :func:`pytest_runc.sessions.workdir.unmount_below` before removing the
        test's directory); the first refused mount makes every later test copy.
        """
        template = self.template()
        if self.source is not None and self.copy_reason is None:
            problem = mount_overlay(template, dest)
            if problem is None:
                return dest
            self.copy_reason = f"the overlay mount was refused ({problem})"
            self.refused = f"{self.source}: {self.per_test()}"
        if template == self.source:
            # A user's directory may change between tests: read it every time.
            return copy_tree(template, dest)
        if self._plan is None:
            # Our own template: nobody writes to it after it is made.
            self._plan = TreePlan.scan(template)
        return self._plan.copy_to(dest)
