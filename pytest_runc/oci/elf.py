"""Just enough ELF reading to tell static from dynamic executables.

Used for the busybox we build a rootfs from and by the bundle checks (a
dynamic ``args[0]`` whose interpreter or libraries are missing). Reads the
program and dynamic headers only; never executes the file.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

_PT_LOAD, _PT_DYNAMIC, _PT_INTERP = 1, 2, 3
_DT_NEEDED, _DT_STRTAB = 1, 5
_MAX_HEADER_READ = 1 << 20


@dataclass(frozen=True)
class ElfInfo:
    """What an ELF file needs from its filesystem to start."""

    interpreter: str | None
    needed: list[str] = field(default_factory=list)

    @property
    def is_static(self) -> bool:
        return self.interpreter is None


def read_elf(path: Path) -> ElfInfo | None:
    """Parse ``path``; None when it is not an ELF file (a script, say).

    Raises OSError when the file cannot be read.
    """
    with open(path, "rb") as f:
        ident = f.read(16)
        if len(ident) < 16 or ident[:4] != b"\x7fELF":
            return None
        is64 = ident[4] == 2
        order = "<" if ident[5] == 1 else ">"
        header = f.read(48 if is64 else 36)
        try:
            if is64:
                phoff, phentsize, phnum = (
                    struct.unpack_from(order + "Q", header, 16)[0],
                    *struct.unpack_from(order + "HH", header, 38),
                )
            else:
                phoff, phentsize, phnum = (
                    struct.unpack_from(order + "I", header, 12)[0],
                    *struct.unpack_from(order + "HH", header, 26),
                )
        except struct.error:
            return None
        segments = []
        for index in range(min(phnum, 256)):
            f.seek(phoff + index * phentsize)
            raw = f.read(phentsize)
            try:
                if is64:
                    p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from(
                        order + "IIQQQQ", raw
                    )
                else:
                    p_type, p_offset, p_vaddr, _, p_filesz = struct.unpack_from(
                        order + "IIIII", raw
                    )
            except struct.error:
                return None
            segments.append((p_type, p_offset, p_vaddr, p_filesz))
        interpreter = None
        for p_type, p_offset, _, p_filesz in segments:
            if p_type == _PT_INTERP:
                f.seek(p_offset)
                interpreter = f.read(min(p_filesz, 4096)).rstrip(b"\0").decode(errors="replace")
        needed = _needed_libraries(f, segments, is64, order)
    return ElfInfo(interpreter=interpreter, needed=needed)


def _needed_libraries(
    stream: BinaryIO, segments: list[tuple[int, int, int, int]], is64: bool, order: str
) -> list[str]:
    dynamic = [s for s in segments if s[0] == _PT_DYNAMIC]
    if not dynamic:
        return []
    _, d_offset, _, d_size = dynamic[0]
    stream.seek(d_offset)
    data = stream.read(min(d_size, _MAX_HEADER_READ))
    entry = "qQ" if is64 else "iI"
    step = struct.calcsize(order + entry)
    needed_offsets: list[int] = []
    strtab_vaddr = None
    for pos in range(0, len(data) - step + 1, step):
        tag, value = struct.unpack_from(order + entry, data, pos)
        if tag == 0:
            break
        if tag == _DT_NEEDED:
            needed_offsets.append(value)
        elif tag == _DT_STRTAB:
            strtab_vaddr = value
    if strtab_vaddr is None:
        return []
    # The string table is addressed by virtual address: map it to a file
    # offset through the PT_LOAD segment that contains it.
    strtab_offset = None
    for p_type, p_offset, p_vaddr, p_filesz in segments:
        if p_type == _PT_LOAD and p_vaddr <= strtab_vaddr < p_vaddr + p_filesz:
            strtab_offset = p_offset + (strtab_vaddr - p_vaddr)
    if strtab_offset is None:
        return []
    names = []
    for offset in needed_offsets:
        stream.seek(strtab_offset + offset)
        names.append(stream.read(256).split(b"\0", 1)[0].decode(errors="replace"))
    return names
