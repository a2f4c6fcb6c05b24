"""The JSON report of a run and the matrix merged from several reports."""
