"""linux.rootfsPropagation: the propagation of the container's root mount.

Rule: runc applies config-linux.md "Rootfs Mount Propagation" (no normative
keyword there, so a runc convention): with ``rootfsPropagation`` shared,
slave, private or unbindable, the container's ``/`` mount has that
propagation, as its line in /proc/self/mountinfo shows (``shared:N``,
``master:N``, neither, or ``unbindable`` among the optional fields). runc
1.1.5 leaves the root mount private whatever the field says (measured on
the test machines; 1.5.1 applies it): the checks skip on runc before 1.2.
"""

from __future__ import annotations

import pytest

from pytest_runc.oci import skips
from pytest_runc.testing.kit import assert_runs

pytestmark = pytest.mark.runc


def root_optional_fields(mountinfo: str) -> list[str]:
    """The optional fields (between the mount options and "-") of the last
    mount on "/": the one the process sees."""
    found: list[str] = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) > 6 and fields[4] == "/" and "-" in fields:
            found = fields[6 : fields.index("-")]
    return found


def runc_release(runtime) -> tuple[int, int]:
    """(major, minor) of a runc-like runtime's --version; (99, 0) when it names none."""
    for word in runtime.version().split():
        parts = word.split("+")[0].split(".")
        if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
            return int(parts[0]), int(parts[1])
    return 99, 0


def propagation_of(optional: list[str]) -> str:
    """The propagation that a mountinfo line's optional fields say."""
    tags = {field.split(":")[0] for field in optional}
    if "unbindable" in tags:
        return "unbindable"
    if "shared" in tags:
        return "shared"
    if "master" in tags:
        return "slave"
    return "private"


@pytest.mark.runc_cli("runc-cli.run.rootfs-propagation")
@pytest.mark.oci_inputs("config:linux.rootfsPropagation")
@pytest.mark.parametrize("propagation", ["shared", "private", "unbindable"])
def test_root_mount_has_the_configured_propagation(bundle, container, runtime, propagation):
    """rootfsPropagation P: the container's root mount's propagation is P."""
    if runc_release(runtime) < (1, 2):
        # The field changes nothing there, so not even "private" is its doing.
        skips.skip_runtime("runc before 1.2 leaves the root mount private whatever the field says")
    bundle.linux["rootfsPropagation"] = propagation
    bundle.command("cat", "/proc/self/mountinfo")
    optional = root_optional_fields(assert_runs(container().run(), "the container"))
    seen = propagation_of(optional)
    assert seen == propagation, (
        f"with rootfsPropagation {propagation!r} the root mount is {seen}"
        f" (optional fields {optional})"
    )
