"""Whole-process CLI timings: what a user waits for, start-up and imports included.

Each command runs several times in a fresh interpreter (this checkout's code, a throwaway
data directory); the table shows the median wall time, the peak memory and the target.
When ``llmfit`` is on PATH it runs the same plans side by side and the ratio is printed
(its commands can be changed with LLMFIT_PLAN / LLMFIT_RECOMMEND). Prints figures;
asserts nothing. Run with ``make bench`` or ``python bench/bench_cli.py``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
ADVISOR = [sys.executable, "-m", "bot"]

# (label, advisor arguments, target seconds or None, llmfit command or None)
PLANS: list[tuple[str, list[str], float | None, str | None]] = [
    ("--help", ["--help"], 0.3, None),
    ("catalog load", ["catalog", "load"], 3.0, None),
    (
        "fit llama-3.1-70b 2x4090",
        ["fit", "llama-3.1-70b", "--gpu", "RTX 4090", "--gpus", "2"],
        None,
        os.environ.get(
            "LLMFIT_PLAN",
            "llmfit --memory=48G plan meta-llama/Llama-3.1-70B-Instruct --context 8192",
        ),
    ),
    (
        "recommend 4090 commercial",
        ["recommend", "--gpu", "RTX 4090", "--commercial"],
        None,
        os.environ.get("LLMFIT_RECOMMEND", "llmfit --memory=24G recommend --json"),
    ),
]
PEER_RATIO = 1.5  # advisor fit/recommend within 1.5x of llmfit's wall time


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, float, int]:
    """One run: (wall seconds, CPU seconds, peak RSS in MB, exit code)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss / 1024, proc.returncode


def measure(command: list[str], env: dict[str, str]) -> tuple[float, float, float, int]:
    """Median wall and CPU time, largest peak RSS over RUNS runs; a non-zero exit code."""
    walls, cpus, peaks, code = [], [], [], 0
    for _ in range(RUNS):
        wall, cpu, peak, rc = timed(command, env)
        walls.append(wall)
        cpus.append(cpu)
        peaks.append(peak)
        code = rc or code
    return statistics.median(walls), statistics.median(cpus), max(peaks), code


def main() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    env = {**os.environ, "ADVISOR_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    env.pop("ADVISOR_DATABASE_URL", None)
    llmfit = shutil.which("llmfit")
    print(f"whole processes, median of {RUNS} runs, this machine ({os.cpu_count()} CPUs)")
    # CPU time is shown beside wall time: on a shared machine it is the steadier figure.
    header = f"{'command':28} {'advisor':>9} {'cpu':>7} {'peak MB':>8} {'target':>12}"
    print(header + (f" {'llmfit':>9} {'ratio':>7}" if llmfit else ""))
    try:
        for label, args, target, peer in PLANS:
            wall, cpu, peak, code = measure(ADVISOR + args, env)
            goal = f"< {target:g} s" if target else (f"< {PEER_RATIO}x llmfit" if llmfit else "-")
            row = f"{label:28} {wall:8.2f}s {cpu:6.2f}s {peak:8.0f} {goal:>12}"
            if code:
                row += f"  (exit {code})"
            if llmfit and peer:
                peer_wall, _, _, peer_code = measure(shlex.split(peer), env)
                row += f" {peer_wall:8.2f}s {wall / peer_wall:6.1f}x"
                if peer_code:
                    row += f"  (llmfit exit {peer_code}: check LLMFIT_* commands)"
            print(row)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    if not llmfit:
        print("llmfit was not found on PATH: no side-by-side ratios (install it to compare).")


if __name__ == "__main__":
    main()
