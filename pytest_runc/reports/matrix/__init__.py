"""``report merge``: --runc-report files joined into a matrix of rules against runtime@host.

:func:`~pytest_runc.reports.matrix.model.build` makes the matrix,
:mod:`pytest_runc.reports.matrix.render` writes it as Markdown, HTML or JSON and
:mod:`pytest_runc.reports.matrix.cli` is the command line.
"""

from __future__ import annotations

from pytest_runc.reports.matrix.model import STATES, Matrix, ReportError, build, load_report

__all__ = ["STATES", "Matrix", "ReportError", "build", "load_report"]
