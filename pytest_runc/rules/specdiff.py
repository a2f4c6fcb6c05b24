"""The catalogue against the spec's own text: which normative keywords it has not caught.

:func:`extract` reads one spec document (Markdown) and returns every RFC 2119
keyword in it that the catalogue covers (MUST, MUST NOT, SHALL, SHALL NOT,
REQUIRED, SHOULD, SHOULD NOT, RECOMMENDED, NOT RECOMMENDED; not MAY or
OPTIONAL), upper case only as RFC 8174 asks, each with its document, section
(the nearest heading) and line. :func:`compare` counts them per document,
section and level against the catalogue: one catalogue entry per keyword is
the convention ("The value SHOULD start with `L3:` and SHOULD NOT contain
newlines" is two entries).

``python -m pytest_runc rules --spec-diff SOURCE`` prints the comparison;
SOURCE is a directory holding the tag's ``*.md`` files or a runtime-spec git
directory (then ``git show v<SPEC_VERSION>:<document>.md`` reads them).
``spec-statements.json`` next to this module is the extraction of the pinned
tag (``--write-spec-statements`` regenerates it), so the comparison runs
without the spec at hand.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pytest_runc.rules import SPEC_DOCUMENTS, SPEC_VERSION, Catalogue

STATEMENTS_FILE = Path(__file__).with_name("spec-statements.json")
#: Longest first, so that "MUST NOT" is one keyword and not "MUST".
_KEYWORD = re.compile(
    r"\b(NOT RECOMMENDED|MUST NOT|SHALL NOT|SHOULD NOT|MUST|SHALL|SHOULD|REQUIRED|RECOMMENDED)\b"
)
_LEVEL = {"SHALL": "MUST", "SHALL NOT": "MUST NOT"}
_ANCHOR = re.compile(r"<a [^>]*/>\s*|<a [^>]*>\s*</a>\s*")
#: Sub-headings whose statements the catalogue files under the parent section.
_SUBSECTIONS = ("Example", "Examples")
#: Catalogue entries with no keyword of their own in the text, and why. Each
#: is counted off the catalogue's side before comparing.
NO_KEYWORD_OF_THEIR_OWN = {
    "config-linux.intelrdt.schemata-written-last": "the sentence says 'must' in lower case"
    " (not a keyword under RFC 8174); catalogued as the MUST it restates",
    "config-linux.intelrdt.missing-preconfigured-clos-error": "shares the MUST of 'runtime"
    " MUST assign container to this closID and generate an error if directory does not exist'",
}


@dataclass(frozen=True)
class Statement:
    """One normative keyword of the spec text."""

    document: str
    section: str
    level: str
    line: int
    text: str


def _heading(line: str) -> str:
    return _ANCHOR.sub("", line.lstrip("#")).strip()


def extract(text: str, document: str) -> list[Statement]:
    """Every catalogued-kind RFC 2119 keyword of one document, outside code blocks."""
    found: list[Statement] = []
    section = ""
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        if line.startswith("#"):
            heading = _heading(line)
            if heading not in _SUBSECTIONS:
                section = heading
            continue
        for match in _KEYWORD.finditer(line):
            around = (
                line[max(match.start() - 1, 0) : match.start()]
                + line[match.end() : match.end() + 1]
            )
            if "/" in around or '"' in around:
                continue  # 'MUST/SHOULD/MAY implement', 'The "MUST" options': words about levels
            level = _LEVEL.get(match.group(1), match.group(1))
            found.append(Statement(document, section, level, number, line.strip()))
    return found


def read_spec(source: Path, version: str = SPEC_VERSION) -> dict[str, str]:
    """The spec documents' text from a directory of ``*.md`` or a git directory (tag v<version>)."""
    texts: dict[str, str] = {}
    for document in SPEC_DOCUMENTS:
        path = source / f"{document}.md"
        if path.is_file():
            texts[document] = path.read_text(encoding="utf-8")
            continue
        done = subprocess.run(
            ["git", "-C", str(source), "show", f"v{version}:{document}.md"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise FileNotFoundError(
                f"{source}: neither {document}.md nor a git tag v{version} with it"
                f" ({done.stderr.strip() or 'git failed'})"
            )
        texts[document] = done.stdout
    return texts


def extract_all(texts: dict[str, str]) -> list[Statement]:
    return [s for document, text in texts.items() for s in extract(text, document)]


def write_statements(statements: Iterable[Statement], path: Path = STATEMENTS_FILE) -> None:
    data = {"spec_version": SPEC_VERSION, "statements": [asdict(s) for s in statements]}
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def load_statements(path: Path = STATEMENTS_FILE) -> list[Statement]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [Statement(**entry) for entry in data["statements"]]


def compare(statements: Iterable[Statement], rules: Catalogue) -> dict[str, Any]:
    """Counts per (document, section, level) in the spec and in the catalogue, and the gaps."""
    spec = Counter((s.document, s.section, s.level) for s in statements)
    ours = Counter(
        (r.document, r.section, r.level)
        for r in rules
        if r.is_spec and r.id not in NO_KEYWORD_OF_THEIR_OWN
    )
    rows: list[dict[str, Any]] = []
    for key in sorted(set(spec) | set(ours)):
        if spec[key] != ours[key]:
            document, section, level = key
            rows.append(
                {
                    "document": document,
                    "section": section,
                    "level": level,
                    "spec": spec[key],
                    "catalogue": ours[key],
                }
            )
    return {
        "spec_version": SPEC_VERSION,
        "spec_statements": sum(spec.values()),
        "catalogue_statements": sum(ours.values()) + len(NO_KEYWORD_OF_THEIR_OWN),
        "without_keyword_of_their_own": dict(NO_KEYWORD_OF_THEIR_OWN),
        "in_spec_not_in_catalogue": sum(max(0, r["spec"] - r["catalogue"]) for r in rows),
        "in_catalogue_not_in_spec": sum(max(0, r["catalogue"] - r["spec"]) for r in rows),
        "differences": rows,
    }


def render(result: dict[str, Any]) -> str:
    lines = [
        f"runtime-spec v{result['spec_version']}: {result['spec_statements']} normative keywords"
        f" in the text, {result['catalogue_statements']} catalogued statements",
        f"in the spec, not in the catalogue: {result['in_spec_not_in_catalogue']};"
        f" in the catalogue, not in the spec: {result['in_catalogue_not_in_spec']}",
    ]
    if result["differences"]:
        lines += ["", f"{'spec':>5} {'ours':>5}  document § section: level"]
        for row in result["differences"]:
            lines.append(
                f"{row['spec']:>5} {row['catalogue']:>5}  {row['document']}.md §"
                f" {row['section']}: {row['level']}"
            )
    return "\n".join(lines) + "\n"
