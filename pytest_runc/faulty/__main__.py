"""Entry point of a faulty or tolerant runtime: ``python -m pytest_runc.faulty NAME REAL ARGS...``."""

from __future__ import annotations

import json
import os
import sys

from pytest_runc.faulty.behaviours import Call, exit_of, run
from pytest_runc.faulty.registry import FAULTS, fault_from_env


def main(argv: list[str]) -> int:
    fault_name, real_binary, *args = argv
    call = Call.parse(real_binary, args)
    # A fault's wrapper names the module of its fault (FAULTY_MODULE): that one
    # import, and not the tolerant variants nor the other faults. No name is
    # both a fault and a tolerance (the discovery of FAULTS refuses it).
    fault = fault_from_env(fault_name)
    if fault is None:
        from pytest_runc.faulty import tolerance

        if fault_name in tolerance.TOLERANCES:
            return tolerance.main(fault_name, call)
        fault = FAULTS[fault_name]

    if fault.mutate is not None and call.command in {"create", "run"}:
        config_path = call.bundle / "config.json"
        try:
            original = config_path.read_bytes()
            config = json.loads(original)
        except (OSError, ValueError):
            return exit_of(run(call.real).returncode)
        fault.mutate(config)
        config_path.write_text(json.dumps(config, indent=2))
        try:
            return exit_of(run(call.real).returncode)
        finally:
            if not fault.tamper:
                config_path.write_bytes(original)

    if fault.intercept is not None:
        status = fault.intercept(call)
        if status is not None:
            return status

    os.execv(real_binary, call.real)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
