"""Benchmarks of pytest-runc against raw runc, measured in one run.

    sudo python3 benchmarks/bench.py            # layers: rootfs, container vs raw runc
    sudo python3 benchmarks/bench.py --suite    # also the conformance suite, serial vs -n 2

Reports ratios, not absolute goals: the same machine runs both sides
back to back. The raw baseline spawns runc directly on purpose: it is what
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
from pathlib import Path

from pytest_runc.bundle import Bundle
from pytest_runc.container import Container
from pytest_runc.rootfs import RootfsSource
from pytest_runc.runtime import Runtime
from pytest_runc.workdir import base_dir

REPO = Path(__file__).resolve().parent.parent


def timed(fn, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:7.1f} ms"


def layer_benchmarks(rounds: int) -> dict[str, float]:
    parent = base_dir()
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-", dir=parent))
    runc = shutil.which("runc") or "runc"
    results: dict[str, float] = {}
    try:

        def cold() -> None:
            target = work / "cold"
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            RootfsSource(None, target).template()

        cold_s = timed(cold, rounds)
        source = RootfsSource(None, work)
        source.template()
        counter = iter(range(10**6))

        def cached() -> None:
            dest = work / f"copy-{next(counter)}"
            source.copy_to(dest)
            shutil.rmtree(dest)

        cached_s = timed(cached, rounds)

        bundle = Bundle(work / "bundle")
        bundle.path.mkdir()
        source.copy_to(bundle.path / "rootfs")
        bundle.command("true").write()
        state = work / "state"
        runtime = Runtime(runc, state)
        ids = iter(range(10**6))

        def raw() -> None:
            subprocess.run(
                [
                    runc,
                    "--root",
                    str(state),
                    "run",
                    "--bundle",
                    str(bundle.path),
                    f"raw-{next(ids)}",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                check=True,
            )

        def plugin() -> None:
            made = Container(runtime, bundle, f"bench-{next(ids)}")
            assert made.run().returncode == 0
            made.remove()

        def plugin_with_rootfs() -> None:
            fresh = Bundle(work / f"b-{next(ids)}")
            fresh.path.mkdir()
            source.copy_to(fresh.path / "rootfs")
            fresh.command("true")
            made = Container(runtime, fresh, f"bench-{next(ids)}")
            assert made.run().returncode == 0
            made.remove()
            shutil.rmtree(fresh.path)

        # Interleave so that both sides see the same machine state.
        raw_s, plugin_s, full_s = [], [], []
        for _ in range(rounds):
            raw_s += timed(raw, 1)
            plugin_s += timed(plugin, 1)
            full_s += timed(plugin_with_rootfs, 1)
        print(
            f"rootfs build, cold (busybox + {len(os.listdir(work / 'cold/rootfs-template/bin'))}"
            f" applet links): {ms(cold_s)}"
        )
        print(f"rootfs copy per test (cached template):            {ms(cached_s)}")
        print(f"raw `runc run` of `true`:                           {ms(raw_s)}")
        print(
            f"container fixture: run `true` + delete:             {ms(plugin_s)}"
            f"   ratio {statistics.median(plugin_s) / statistics.median(raw_s):.2f}x"
        )
        print(
            f"whole test: rootfs copy + run + delete + cleanup:   {ms(full_s)}"
            f"   ratio {statistics.median(full_s) / statistics.median(raw_s):.2f}x"
        )
        results.update(
            rootfs_cold_ms=statistics.median(cold_s) * 1000,
            rootfs_cached_ms=statistics.median(cached_s) * 1000,
            raw_runc_ms=statistics.median(raw_s) * 1000,
            container_ms=statistics.median(plugin_s) * 1000,
            container_ratio=statistics.median(plugin_s) / statistics.median(raw_s),
            whole_test_ms=statistics.median(full_s) * 1000,
            whole_test_ratio=statistics.median(full_s) / statistics.median(raw_s),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def suite_run(extra: list[str]) -> tuple[float, list[float], int]:
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "junit.xml"
        start = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "--runc",
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:hypothesispytest",
                "conformance",
                f"--junitxml={xml}",
                *extra,
            ],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            check=False,
        )
        wall = time.perf_counter() - start
        cases = list(ET.parse(xml).iter("testcase"))
        times = [float(case.get("time", 0)) for case in cases]
        # Isolation checks are one `runc run` of one bundle each: the fair
        # comparison with a raw `runc run`.
        single_run = [
            float(case.get("time", 0))
            for case in cases
            if "test_isolation" in case.get("classname", "")
        ]
        suite_run.single_run = single_run  # type: ignore[attr-defined]
    if done.returncode != 0:
        print(f"  (the suite exited {done.returncode})")
    return wall, times, len(times)


def suite_benchmarks(raw_ms: float) -> dict[str, float]:
    serial_wall, serial_times, count = suite_run([])
    parallel_wall, _, _ = suite_run(["-n", "2"])
    median_test = statistics.median(serial_times) * 1000
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"conformance suite, {count} tests, serial:           {serial_wall:7.1f} s")
    print(
        f"conformance suite, -n 2:                            {parallel_wall:7.1f} s"
        f"   speed-up {serial_wall / parallel_wall:.2f}x"
    )
    print(
        f"median conformance test (JUnit time):               {median_test:7.1f} ms"
        f"   ratio to raw runc run {median_test / raw_ms:.2f}x"
    )
    single = statistics.median(suite_run.single_run) * 1000  # type: ignore[attr-defined]
    print(
        f"median single-run test (test_isolation, one bundle): {single:6.1f} ms"
        f"   ratio to raw runc run {single / raw_ms:.2f}x"
    )
    print(f"peak RSS of a pytest process:                       {peak_kib / 1024:7.1f} MiB")
    return {
        "suite_serial_s": serial_wall,
        "suite_parallel_s": parallel_wall,
        "parallel_speedup": serial_wall / parallel_wall,
        "median_test_ms": median_test,
        "median_test_ratio": median_test / raw_ms,
        "peak_rss_mib": peak_kib / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--suite", action="store_true", help="also time the conformance suite")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("the benchmark runs containers: run it as root", file=sys.stderr)
        return 2
    print(
        f"runc: {subprocess.run(['runc', '--version'], capture_output=True, text=True).stdout.splitlines()[0]}"
        f"; {os.cpu_count()} cores; work dir under {base_dir()}"
    )
    results = layer_benchmarks(args.rounds)
    if args.suite:
        results.update(suite_benchmarks(results["raw_runc_ms"]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
