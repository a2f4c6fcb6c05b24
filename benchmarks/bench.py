"""Benchmarks of pytest-runc against raw runc, measured in one run.

    sudo python3 benchmarks/bench.py            # layers: rootfs, container vs raw runc
    sudo python3 benchmarks/bench.py --suite    # also the conformance suite, serial and -n 2

Reports ratios, not absolute goals: the same machine runs both sides back
to back, and the raw baseline (``runc run`` of the same bundle the fixtures
make: ``runc spec`` config, busybox rootfs, ``true``) is measured again
before, between and after the suite runs, so that a busy machine slows both
sides alike. The load average is printed with every suite number for the
same reason. The raw baseline spawns runc directly on purpose: it is what
the plugin's overhead is measured against.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from pytest_runc.oci.bundle import Bundle
from pytest_runc.oci.constants import run_prefix
from pytest_runc.oci.container import Container
from pytest_runc.oci.rootfs import RootfsSource
from pytest_runc.oci.runtime import Runtime
from pytest_runc.sessions.workdir import WorkDir, base_dir

REPO = Path(__file__).resolve().parent.parent
PYTEST = [
    sys.executable,
    "-m",
    "pytest",
    "--runc",
    "-q",
    "-p",
    "no:cacheprovider",
    "-p",
    "no:hypothesispytest",
]


def timed(fn: Callable[[], object], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def p90_ms(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] * 1000


def ms(samples: list[float]) -> str:
    return f"{median_ms(samples):7.1f} ms"


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


class Bench:
    """A locked private directory (swept like a test run's if we die), the
    session's rootfs template and a ``true`` bundle for the raw baseline."""

    def __init__(self, runc: str) -> None:
        self.runc = runc
        self.workdir = WorkDir.create(binary=runc)
        self.work = self.workdir.path
        self.prefix = run_prefix(self.workdir.token)
        self.runtime = Runtime(runc, self.workdir.state_root)
        self.source = RootfsSource(None, self.work)
        self.source.template()
        self.bundle = Bundle(self.work / "bundle")
        self.bundle.path.mkdir()
        self.source.copy_to(self.bundle.path / "rootfs")
        self.bundle.command("true").write()
        self._ids = iter(range(10**6))

    def new_id(self, kind: str) -> str:
        return f"{self.prefix}{kind}-{next(self._ids)}"

    def raw_run(self) -> None:
        """One ``runc run`` of the bundle, spawned directly (no plugin code)."""
        subprocess.run(
            [
                self.runc,
                "--root",
                str(self.workdir.state_root),
                "run",
                "--bundle",
                str(self.bundle.path),
                self.new_id("raw"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            check=True,
        )

    def close(self) -> None:
        self.workdir.remove()


def layer_benchmarks(bench: Bench, rounds: int) -> tuple[dict[str, float], list[float]]:
    work = bench.work
    source = bench.source

    def cold() -> None:
        target = work / "cold"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        RootfsSource(None, target).template()

    cold_s = timed(cold, rounds)
    counter = iter(range(10**6))

    def cached() -> None:
        dest = work / f"copy-{next(counter)}"
        source.copy_to(dest)
        shutil.rmtree(dest)

    cached_s = timed(cached, rounds)

    def plugin() -> None:
        made = Container(bench.runtime, bench.bundle, bench.new_id("bench"))
        assert made.run().returncode == 0
        made.remove()

    def plugin_with_rootfs() -> None:
        fresh = Bundle(work / f"b-{next(counter)}")
        fresh.path.mkdir()
        source.copy_to(fresh.path / "rootfs")
        fresh.command("true")
        made = Container(bench.runtime, fresh, bench.new_id("bench"))
        assert made.run().returncode == 0
        made.remove()
        shutil.rmtree(fresh.path)

    def created_and_removed() -> None:
        # The teardown of a live container: create, then the fixture's remove().
        made = Container(bench.runtime, bench.bundle, bench.new_id("bench"))
        made.create()
        made.remove()

    # Interleave so that both sides see the same machine state.
    raw_s: list[float] = []
    plugin_s: list[float] = []
    full_s: list[float] = []
    created_s: list[float] = []
    for _ in range(rounds):
        raw_s += timed(bench.raw_run, 1)
        plugin_s += timed(plugin, 1)
        full_s += timed(plugin_with_rootfs, 1)
        created_s += timed(created_and_removed, 1)
    applets = len(os.listdir(work / "cold/rootfs-template/bin"))
    raw = median_ms(raw_s)
    print(f"rootfs build, cold (busybox + {applets} applet links):    {ms(cold_s)}")
    print(f"rootfs copy per test (cached template):            {ms(cached_s)}")
    print(f"raw `runc run` of `true`:                           {ms(raw_s)}")
    print(
        f"container fixture: run `true` + delete:             {ms(plugin_s)}"
        f"   ratio {median_ms(plugin_s) / raw:.2f}x"
    )
    print(
        f"whole test: rootfs copy + run + delete + cleanup:   {ms(full_s)}"
        f"   ratio {median_ms(full_s) / raw:.2f}x"
    )
    print(
        f"create + teardown of the live container:           {ms(created_s)}"
        f"   ratio {median_ms(created_s) / raw:.2f}x"
    )
    results = {
        "rootfs_cold_ms": median_ms(cold_s),
        "rootfs_cached_ms": median_ms(cached_s),
        "raw_runc_ms": raw,
        "container_ms": median_ms(plugin_s),
        "container_ratio": median_ms(plugin_s) / raw,
        "whole_test_ms": median_ms(full_s),
        "whole_test_ratio": median_ms(full_s) / raw,
        "create_teardown_ms": median_ms(created_s),
        "create_teardown_ratio": median_ms(created_s) / raw,
    }
    return results, raw_s


def suite_run(extra: list[str], paths: list[str]) -> dict[str, object]:
    """One pytest run of the conformance suite: wall time, per-item times, outcomes."""
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "junit.xml"
        before = load()
        start = time.perf_counter()
        done = subprocess.run(
            [*PYTEST, *paths, f"--junitxml={xml}", *extra],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            check=False,
        )
        wall = time.perf_counter() - start
        after = load()
        cases = list(ET.parse(xml).iter("testcase"))
    ran: list[float] = []
    skipped = 0
    failed = 0
    for case in cases:
        if case.find("skipped") is not None:
            skipped += 1
            continue
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        # JUnit "time" is setup + call + teardown: the whole cost of the item.
        ran.append(float(case.get("time", 0)))
    return {
        "wall": wall,
        "items": len(cases),
        "ran": ran,
        "skipped": skipped,
        "failed": failed,
        "exit": done.returncode,
        "load": f"{before} -> {after}",
    }


def suite_benchmarks(bench: Bench, raw_s: list[float], rounds: int) -> dict[str, float]:
    paths = ["conformance"]
    raw_s = list(raw_s) + timed(bench.raw_run, rounds)
    serial = suite_run([], paths)
    raw_s += timed(bench.raw_run, rounds)
    parallel = suite_run(["-n", "2"], paths)
    raw_s += timed(bench.raw_run, rounds)
    raw = median_ms(raw_s)
    ran: list[float] = serial["ran"]  # type: ignore[assignment]
    items = int(serial["items"])  # type: ignore[call-overload]
    serial_wall = float(serial["wall"])  # type: ignore[arg-type]
    parallel_wall = float(parallel["wall"])  # type: ignore[arg-type]
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    for name, run in (("serial", serial), ("-n 2", parallel)):
        note = f"; exit {run['exit']}, {run['failed']} failed" if run["exit"] else ""
        print(
            f"conformance suite, {name:6}: {float(run['wall']):6.1f} s wall for {run['items']}"  # type: ignore[arg-type]
            f" items ({len(run['ran'])} ran, {run['skipped']} skipped or xfailed{note});"  # type: ignore[arg-type]
            f" load {run['load']}"
        )
    print(
        f"  -n 2 speed-up over serial:                        {serial_wall / parallel_wall:5.2f}x"
    )
    print(
        f"raw `runc run` of the same bundle (n={len(raw_s)}, around the runs):"
        f" median {raw:.1f} ms, p90 {p90_ms(raw_s):.1f} ms"
    )
    print(
        f"per item that ran (serial, setup+call+teardown):    median {median_ms(ran):6.1f} ms"
        f" = {median_ms(ran) / raw:.2f}x raw;  p90 {p90_ms(ran):6.1f} ms = {p90_ms(ran) / raw:.2f}x raw"
    )
    wall_item = serial_wall / items * 1000
    par_item = parallel_wall / items * 1000
    print(
        f"wall per collected item: serial {wall_item:.1f} ms = {wall_item / raw:.2f}x raw;"
        f" -n 2 {par_item:.1f} ms = {par_item / raw:.2f}x raw"
    )
    print(f"peak RSS of a pytest process:                       {peak_kib / 1024:7.1f} MiB")
    return {
        "suite_items": items,
        "suite_ran": len(ran),
        "suite_serial_s": serial_wall,
        "suite_parallel_s": parallel_wall,
        "parallel_speedup": serial_wall / parallel_wall,
        "suite_raw_runc_ms": raw,
        "suite_raw_runc_p90_ms": p90_ms(raw_s),
        "item_median_ms": median_ms(ran),
        "item_p90_ms": p90_ms(ran),
        "item_median_ratio": median_ms(ran) / raw,
        "item_p90_ratio": p90_ms(ran) / raw,
        "wall_per_item_serial_ms": wall_item,
        "wall_per_item_parallel_ms": par_item,
        "peak_rss_mib": peak_kib / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--suite", action="store_true", help="also time the conformance suite")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("the benchmark runs containers: run it as root", file=sys.stderr)
        return 2
    runc = shutil.which("runc")
    if runc is None:
        print("no runc on PATH: install runc or add its directory to PATH", file=sys.stderr)
        return 2
    version = subprocess.run([runc, "--version"], capture_output=True, text=True).stdout
    print(
        f"runc: {version.splitlines()[0] if version else '?'}; {os.cpu_count()} cores;"
        f" load {load()}; work dir under {base_dir()}"
    )
    bench = Bench(runc)
    try:
        results, raw_s = layer_benchmarks(bench, args.rounds)
        if args.suite:
            results.update(suite_benchmarks(bench, raw_s, args.rounds))
    finally:
        bench.close()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
