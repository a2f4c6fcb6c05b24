"""The conformance suite: what an OCI runtime must do, checked with real containers.

Every test here runs containers only through pytest-runc's fixtures and
names the rule it checks. Run it with ``pytest --runc conformance``.
"""
