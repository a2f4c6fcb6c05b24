"""The conformance suite: one check per behaviour, each tagged with the rule it checks.

It ships inside the package, version-locked to the plugin, so that
``python -m pytest_runc run --runtime BINARY`` (or ``pytest --pyargs
pytest_runc.conformance --runc``) runs it from any directory. Reports,
fault tables and the coverage index name its checks ``conformance/<file>::<test>``
wherever it is installed (see :mod:`pytest_runc.suite`).
"""
