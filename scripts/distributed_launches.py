"""Launch chapter 8's two-process DistributedDataParallel run many times, under load.

Each launch is the chapter's launch cell: ``python -m torch.distributed.run --standalone
--nproc_per_node=2 -m lmbook.distributed --out ddp.pt`` (``lmbook.distributed.launch``),
and it succeeds when torchrun exits with 0, no rank aborted, and ``ddp.pt`` holds both
ranks' equal weights. Beside the launches run ``--busy`` processes that spin in pure
Python, killed at the end. The counts, and each failure's exit code and last stderr
lines, are printed and written to scripts/distributed_launches.md. Run from the
repository root:

    .venv/bin/python scripts/distributed_launches.py [--runs 100] [--busy 2]
"""

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import torch

from lmbook import distributed

OUTPUT = Path(__file__).resolve().parent / "distributed_launches.md"
SPIN = "while True: pass"


def start_busy(count: int) -> list[subprocess.Popen]:
    """``count`` processes that spin in pure Python, the load beside chapter 8's launches."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be a whole number ≥ 0, got {count!r}")
    return [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(count)]


def stop_busy(processes: list[subprocess.Popen]) -> None:
    """Kill the spinning processes and wait for them."""
    for process in processes:
        process.kill()
        process.wait()


def launch_once(workdir: Path) -> dict:
    """One chapter 8 launch: its outcome, exit code, seconds and, if it failed, why."""
    out = workdir / "ddp.pt"
    out.unlink(missing_ok=True)
    tic = time.perf_counter()
    try:
        run = distributed.launch(out)
    except (distributed.RankFailedError, TimeoutError) as error:
        code = getattr(error, "exitcode", "timeout")
        return {"ok": False, "exitcode": code, "seconds": time.perf_counter() - tic, "why": error}
    seconds = time.perf_counter() - tic
    why = check_results(out, run.stderr)
    return {"ok": why is None, "exitcode": 0, "seconds": seconds, "why": why}


def check_results(out: Path, stderr: str) -> str | None:
    """None when the launch did its job; otherwise what is wrong."""
    if "terminate called" in stderr:
        return "a rank aborted: " + stderr[-1500:]
    if not out.exists():
        return "rank 0 saved no results"
    weights = torch.load(out, weights_only=True)["weights"]
    if len(weights) != 2 or not torch.equal(weights[0], weights[1]):
        return "the two ranks' weights differ"
    return None


def report(results: list[dict], busy: int, wall: float) -> str:
    """The Markdown table of counts, then each failure's exit code and last stderr lines."""
    failures = [(i, r) for i, r in enumerate(results, 1) if not r["ok"]]
    seconds = sorted(r["seconds"] for r in results)
    lines = [
        "# Chapter 8's distributed launch, repeated",
        "",
        f"Written by `scripts/distributed_launches.py` on {date.today().isoformat()}: "
        f"torch {torch.__version__}, Python {platform.python_version()}, "
        f"{platform.machine()}, {len(os.sched_getaffinity(0))} CPU cores. Each launch runs "
        "`python -m torch.distributed.run --standalone --nproc_per_node=2 -m lmbook.distributed "
        "--out ddp.pt`, as chapter 8's launch cell does, beside processes spinning in pure "
        "Python.",
        "",
        "| launches | busy processes | successes | failures | wall time | median launch "
        "| slowest launch |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {len(results)} | {busy} | {len(results) - len(failures)} | {len(failures)} "
        f"| {wall / 60:.1f} min | {seconds[len(seconds) // 2]:.1f} s | {seconds[-1]:.1f} s |",
    ]
    for number, result in failures:
        lines += ["", f"## Launch {number}: exit code {result['exitcode']}", "", "```"]
        lines += [str(result["why"]), "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the launches, print each outcome, write the table; exit 1 if any failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="how many launches")
    parser.add_argument("--busy", type=int, default=2, help="spinning processes beside them")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="the Markdown table")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be ≥ 1, got {args.runs}")
    busy = start_busy(args.busy)
    results, tic = [], time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as workdir:
            for number in range(1, args.runs + 1):
                results.append(launch_once(Path(workdir)))
                outcome = "ok" if results[-1]["ok"] else f"FAILED: {results[-1]['why']}"
                print(f"launch {number}: {results[-1]['seconds']:.1f} s, {outcome}", flush=True)
    finally:
        stop_busy(busy)
    table = report(results, args.busy, time.perf_counter() - tic)
    args.output.write_text(table)
    print(table, f"(written to {args.output})", sep="\n")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
