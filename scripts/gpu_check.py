"""The prepared GPU check: on a CUDA machine, the benchmarks and as many `full` chapters as fit in ~10 minutes.

``make gpu-check`` runs, in this order, and writes everything to one file (``_build/gpu_check.json``):

1. ``bench/train_throughput.py`` — the sources' DataLoader pipeline against preloaded tensors (target: the
   preloaded path ≥ 20× faster on a GPU);
2. ``bench/where_time_goes.py`` — training step, evaluation, the from-scratch optimizers, and the seeds of
   one configuration trained together (stacked) against one after another;
3. ``scripts/run_budget.py --budget full`` over the chapters of the toc, in order, until the time budget
   (``--minutes``, default 10) is spent: each chapter's cold time and whether its hidden checks passed.

Without CUDA it stops at once with a message that says so (exit status 2) — unless ``--dry-run``, which
runs the same three steps on the CPU at toy sizes (a few batches per benchmark, one cheap chapter at the
``cpu`` budget) in about a minute, to show the script itself works (``make gpu-check DRY=1``; the unit
tests run it).

usage: python scripts/gpu_check.py [--dry-run] [--minutes 10] [--out _build/gpu_check.json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DRY_CHAPTER = "book/part1/variance_derivation.md"  # seconds at either budget, no training run


def _run(cmd: list[str], env: dict | None = None) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **(env or {})})
    return p.returncode, (p.stdout + p.stderr)[-4000:], time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="CPU, toy sizes: check that the script works")
    ap.add_argument("--minutes", type=float, default=10.0, help="time budget for the full chapters (default 10)")
    ap.add_argument("--out", default=str(ROOT / "_build" / "gpu_check.json"))
    args = ap.parse_args(argv)

    import torch
    if not args.dry_run and not torch.cuda.is_available():
        print("gpu-check: no CUDA device is visible to torch "
              f"(torch {torch.__version__}, torch.cuda.is_available() is False). This check is meant for a "
              "GPU machine; there, run `make gpu-check`. On this machine `make gpu-check DRY=1` runs its CPU "
              "dry-run (toy sizes) to show that the check itself works.", file=sys.stderr)
        return 2
    py = sys.executable
    device = "cpu" if args.dry_run else "cuda"
    result = {"dry_run": args.dry_run, "device": device, "started": time.strftime("%Y-%m-%d %H:%M:%S"),
              "gpu": None if args.dry_run else torch.cuda.get_device_name(), "torch": torch.__version__, "steps": {}}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        tp = Path(tmp)
        # 1. DataLoader vs preloaded tensors
        cmd = [py, "bench/train_throughput.py", "--device", device, "--json", str(tp / "tp.json")]
        rc, log, secs = _run(cmd + (["--max-batches", "5"] if args.dry_run else []))
        result["steps"]["train_throughput"] = {"rc": rc, "seconds": round(secs, 1), "log_tail": log[-1500:],
                                               **(json.loads((tp / "tp.json").read_text()) if rc == 0 else {})}
        ok &= rc == 0
        if rc == 0 and not args.dry_run:
            result["steps"]["train_throughput"]["target_20x_met"] = result["steps"]["train_throughput"]["speedup"] >= 20
        # 2. where the time goes, stacked seeds
        cmd = [py, "bench/where_time_goes.py", "--device", device, "--json", str(tp / "wt.json")]
        rc, log, secs = _run(cmd + (["--max-batches", "5", "--repeats", "1"] if args.dry_run else []))
        result["steps"]["where_time_goes"] = {"rc": rc, "seconds": round(secs, 1), "log_tail": log[-1500:],
                                              **(json.loads((tp / "wt.json").read_text()) if rc == 0 else {})}
        ok &= rc == 0
        # 3. full chapters until the time is spent (one chapter at the cpu budget in a dry run)
        budget = "cpu" if args.dry_run else "full"
        sys.path.insert(0, str(ROOT / "scripts"))
        from sync_notebooks import chapters
        todo = [ROOT / DRY_CHAPTER] if args.dry_run else chapters(ROOT)
        deadline = time.perf_counter() + 60 * args.minutes
        done = []
        for md in todo:
            if time.perf_counter() > deadline:
                break
            rel = str(md.relative_to(ROOT))
            rc, log, secs = _run([py, "scripts/run_budget.py", "--budget", budget, "--force",
                                  "--cache", str(tp / "cache" if args.dry_run else ROOT / f".cache-{budget}-gpu"),
                                  "--out", str(tp / "report"), rel])
            done.append({"chapter": rel, "seconds": round(secs, 1), "passed": rc == 0,
                         "log_tail": "" if rc == 0 else log[-1500:]})
            ok &= rc == 0
        result["steps"]["chapters"] = {"budget": budget, "run": done, "not_reached": len(todo) - len(done)}
    result["passed"] = bool(ok)
    result["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    tmp_out = out.with_suffix(".tmp")
    tmp_out.write_text(json.dumps(result, indent=1))
    os.replace(tmp_out, out)
    print(f"gpu-check{' (dry run)' if args.dry_run else ''}: {'passed' if ok else 'FAILED'}; "
          f"{len(done)} chapter(s) at '{budget}', details in {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
