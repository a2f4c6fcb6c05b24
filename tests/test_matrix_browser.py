"""The HTML matrix in headless Chromium, at 1400 and at 400 px wide.

Each width is looked at twice, the same way: the DOM (positions read by a
small script in a same-size iframe, dumped with ``--dump-dom``) and a
screenshot of the page itself, whose pixels are sampled where the DOM says
the cells are. The DOM says what should be where; the screenshot shows it
is painted there, in view.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from pytest_runc.reports.matrix import build
from pytest_runc.reports.matrix.render import html_page
from pytest_runc.rules import catalogue
from tests.matrix_reports import A, B, C, two_hosts

#: Colours of the stylesheet that the screenshots are sampled for.
HEADER_GREY = (0xEE, 0xEE, 0xEE)
FIRST_COLUMN = (0xF8, 0xF8, 0xF8)
PASSED_GREEN = (0xD9, 0xF2, 0xD9)
FAILED_RED = (0xF7, 0xC6, 0xC6)


class _Cells(HTMLParser):
    """Collects, per ``data-rule`` row of the #matrix table, the state cells' classes."""

    def __init__(self) -> None:
        super().__init__()
        self.table = ""
        self.rows: dict[str, list[str]] = {}
        self._row: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table":
            self.table = found.get("id") or ""
        elif tag == "tr" and self.table == "matrix" and found.get("data-rule"):
            self._row = found["data-rule"]
            self.rows[self._row or ""] = []
        elif tag == "td" and self._row and found.get("class") != "first":
            self.rows[self._row].append(found.get("class") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = None


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("environment: no chromium to render the HTML (apt-get install chromium)")


def _headless(browser: str, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
            env={**os.environ, "HOME": profile},
        )


def test_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    browser = _chromium()
    page = tmp_path / "matrix.html"
    page.write_text(html_page(build(two_hosts())))
    dumped = _headless(browser, "--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    parsed = _Cells()
    parsed.feed(dumped.stdout)
    assert parsed.rows[A] == ["passed"] * 4
    assert parsed.rows[B] == [
        "passed host-difference",
        "departure",
        "failed host-difference",
        "departure",
    ]
    assert parsed.rows[C] == [
        "passed host-difference",
        "passed",
        "host-lacks host-difference",
        "not-run",
    ]


# -- positions and pixels ------------------------------------------------------

#: Scrolls every table box to its right end, as a reader on a phone would
#: to see the last runtime: sticky cells must stay put.
SCROLL_RIGHT = (
    "<script>for (const box of document.querySelectorAll('.scroll'))"
    " box.scrollLeft = 100000;</script>"
)
#: Reads where things are (after the scroll) and hands them to the parent page.
MEASURE = """<script>
const rect = (el) => { const r = el.getBoundingClientRect();
  return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; };
const table = (id) => document.getElementById(id);
const box = (id) => table(id).parentElement;
const matrixBox = box("matrix");
const found = {
  width: document.documentElement.clientWidth,
  pageWidth: document.documentElement.scrollWidth,
  viewport: document.querySelector('meta[name="viewport"]') !== null,
  diffBox: rect(box("differences")),
  diffHeads: [...table("differences").tHead.rows[0].cells].map(rect),
  diffRow: [...table("differences").tBodies[0].rows[0].cells].map(rect),
  diffScrollable: box("differences").scrollWidth > box("differences").clientWidth,
};
matrixBox.scrollTop = 100000;
found.matrixScrolled = matrixBox.scrollTop;
const rows = [...table("matrix").tBodies[0].rows];
found.matrixBox = rect(matrixBox);
found.matrixHeads = [...table("matrix").tHead.rows[0].cells].map(rect);
found.matrixLastFirst = rect(rows[rows.length - 1].cells[0]);
parent.document.body.insertAdjacentHTML("beforeend",
  '<pre id="measured">' + JSON.stringify(found) + '</pre>');
</script>"""


def _framed(page: str, width: int, height: int, where: Path) -> Path:
    """``page`` scrolled right and measured, in an iframe of exactly ``width`` x
    ``height`` at the top left of a wrapper page.

    An iframe, not the window: a headless window lays the page out at 500 px
    or more while loading and only then shrinks to a smaller --window-size, so
    a scroll made at load is not the one painted. The iframe is that size from
    the start, for the DOM dump and the screenshot alike.
    """
    inner = page.replace("</body>", SCROLL_RIGHT + MEASURE + "</body>")
    wrapper = where / f"framed-{width}.html"
    wrapper.write_text(
        '<!DOCTYPE html><html><body style="margin:0">'
        f'<iframe style="border:0;display:block;width:{width}px;height:{height}px"'
        f' srcdoc="{html.escape(inner, quote=True)}"></iframe></body></html>'
    )
    return wrapper


def _measure(browser: str, wrapper: Path, window: str) -> dict[str, Any]:
    """What MEASURE found, from the DOM of ``wrapper``."""
    dumped = _headless(browser, f"--window-size={window}", "--dump-dom", wrapper.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    found = re.search(r'<pre id="measured">(.*?)</pre>', dumped.stdout, re.S)
    assert found, dumped.stdout[-2000:]
    return json.loads(html.unescape(found.group(1)))


def _png_pixels(data: bytes, last_row: int) -> tuple[int, int, list[bytes]]:
    """Width, height and the RGB(A) rows 0..last_row of an 8-bit, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, header = 8, b"", b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and interlace == 0 and colour in (2, 6), (depth, colour, interlace)
    channels = 3 if colour == 2 else 4
    stride = width * channels
    raw = zlib.decompress(idat)
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(min(height, last_row + 1)):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up = previous[x]
            corner = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                near = min(
                    (abs(guess - left), 0, left),
                    (abs(guess - up), 1, up),
                    (abs(guess - corner), 2, corner),
                )
                line[x] = (line[x] + near[2]) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, rows


def _pixel(rows: list[bytes], channels: int, x: float, y: float) -> tuple[int, int, int]:
    line = rows[int(y)]
    start = int(x) * channels
    return (line[start], line[start + 1], line[start + 2])


def _near(found: tuple[int, int, int], wanted: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 6 for a, b in zip(found, wanted))


def _tall_two_hosts() -> list[tuple[str, dict[str, Any]]]:
    """:func:`two_hosts` with 60 more rules passed everywhere: a #matrix taller than the
    window."""
    more = [rule.id for rule in catalogue() if rule.id not in (A, B, C)][:60]
    reports = two_hosts()
    for _, document in reports:
        document["records"] += [
            {"nodeid": f"t::more{i}", "rules": [rule], "outcome": "passed", "duration": 0.1}
            for i, rule in enumerate(more)
        ]
    return reports


@pytest.mark.parametrize(("width", "height"), [(1400, 900), (400, 1800)])
def test_runtime_columns_are_in_view_and_sticky_at_1400_and_400_px(
    tmp_path: Path, width: int, height: int
) -> None:
    """The differences table of a two-host matrix, scrolled to its right end:
    its header row and rule column are painted in view at both widths; at
    400 px the page itself does not scroll sideways, the table box does."""
    browser = _chromium()
    wrapper = _framed(html_page(build(_tall_two_hosts())), width, height, tmp_path)
    window = f"{max(width, 600)},{height + 100}"
    found = _measure(browser, wrapper, window)
    assert found["viewport"]
    # The page fits the width; a wide table scrolls in its own box.
    assert found["pageWidth"] <= found["width"] <= width
    box, heads, row = found["diffBox"], found["diffHeads"], found["diffRow"]
    rule_head, first_runtime = heads[0], heads[1]
    # Sticky first column: at the box's left edge even when scrolled right.
    assert abs(rule_head["left"] - box["left"]) <= 2 and abs(row[0]["left"] - box["left"]) <= 2
    # The first column leaves room for the runtimes: at most 40 % of the width.
    assert rule_head["right"] - rule_head["left"] <= 0.4 * width + 20
    # The last runtime's header is in view, beside the rule column.
    assert heads[-1]["right"] <= box["right"] + 1 and heads[-1]["left"] >= rule_head["right"] - 1
    if width == 400:
        assert found["diffScrollable"], "at 400 px four runtime columns cannot all fit"
        # Scrolled right: the first runtime column went under the sticky rule column.
        assert first_runtime["left"] < rule_head["right"]
    else:
        assert not found["diffScrollable"]
        assert first_runtime["left"] >= rule_head["right"] - 1
    # The #matrix box scrolled to its bottom: its header row stays on top,
    # the rule column on the left.
    matrix_box = found["matrixBox"]
    assert found["matrixScrolled"] > 0, "the #matrix box must be taller than its limit"
    assert all(abs(head["top"] - matrix_box["top"]) <= 2 for head in found["matrixHeads"])
    assert abs(found["matrixLastFirst"]["left"] - matrix_box["left"]) <= 2
    assert found["matrixLastFirst"]["bottom"] <= matrix_box["bottom"] + 1

    # The same page, the same size, as pixels (the iframe is the top-left corner).
    shot = tmp_path / f"matrix-{width}.png"
    done = _headless(browser, f"--screenshot={shot}", f"--window-size={window}", wrapper.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    last_row = int(max(row[0]["bottom"], heads[0]["bottom"])) + 1
    assert last_row < height, "the differences table must be in the screenshot"
    png_width, _, rows = _png_pixels(shot.read_bytes(), last_row)
    assert png_width >= width
    channels = len(rows[0]) // png_width
    # Header row, over the last runtime column: the header grey, on screen.
    last = heads[-1]
    assert _near(_pixel(rows, channels, last["right"] - 4, last["top"] + 3), HEADER_GREY)
    # The rule column, just inside the differences row: its own colour, painted
    # over whatever scrolled beneath it.
    assert _near(_pixel(rows, channels, row[0]["right"] - 4, row[0]["bottom"] - 4), FIRST_COLUMN)
    # The last runtime's cell (crun@v2, a departure) and runc@v2 (failed) in view.
    failed = row[3]
    if failed["left"] >= row[0]["right"]:
        assert _near(_pixel(rows, channels, failed["right"] - 6, failed["bottom"] - 6), FAILED_RED)
    passed = row[1]
    if passed["left"] >= row[0]["right"]:
        assert _near(
            _pixel(rows, channels, passed["right"] - 6, passed["bottom"] - 6), PASSED_GREEN
        )
    # At 400 px at least one runtime's cell colour is visible beside the rule column.
    assert failed["left"] >= row[0]["right"] or passed["left"] >= row[0]["right"]
