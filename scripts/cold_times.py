#!/usr/bin/env python3
"""How long each chapter takes *alone and cold*: what a learner waits for on a fresh runtime.

A run of the whole book (the build, ``scripts/run_budget.py``) shares one results cache, so a chapter that
trains what an earlier chapter already trained looks fast there.  This runs each chapter of the toc in a
fresh kernel with an empty results cache of its own (the data files are decompressed again, as on a new
runtime) and records its seconds in ``_ext/cold_seconds.json``, which the learner notebooks' first cell
quotes (``_ext/learner_notebooks.py``).  The record is written after every chapter, so a long run can be
stopped and resumed (``--only`` the rest).

    python scripts/cold_times.py --budget cpu [--only book/part2/dying_relu.md ...]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
RECORD = ROOT / "_ext" / "cold_seconds.json"


def main(argv=None) -> int:
    import run_budget
    import sync_notebooks

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", default="cpu", choices=["cpu", "full"])
    ap.add_argument("--only", nargs="*", default=[], help="chapters (.md paths) to measure; default: all")
    ap.add_argument("--timeout", type=int, default=7200)
    args = ap.parse_args(argv)
    chapters = sync_notebooks.chapters(ROOT)
    if args.only:
        wanted = {Path(p).resolve() for p in args.only}
        chapters = [md for md in chapters if md.resolve() in wanted]
    record = json.loads(RECORD.read_text(encoding="utf-8")) if RECORD.is_file() else {}
    record.setdefault("note", "each chapter run alone in a fresh kernel with an empty results cache "
                              "(scripts/cold_times.py), on the machine named; seconds of wall-clock time")
    budgets = record.setdefault("budgets", {})
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=10", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    machine = f"{os.cpu_count()} CPU cores" + (" (CUDA)" if _cuda() else "")
    for md in chapters:
        rel = str(md.relative_to(ROOT))
        cache = Path(tempfile.mkdtemp(prefix="cold-"))
        try:
            rec, _ = run_budget.run_chapter(md, args.budget, cache, args.timeout)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        budgets.setdefault(args.budget, {})[rel] = {
            "seconds": rec["seconds"], "passed": rec["passed"], "trained_files": rec["new_cache_files"],
            "commit": commit, "machine": machine, "date": dt.date.today().isoformat()}
        tmp = RECORD.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, RECORD)
        print(f"{rel}: {rec['seconds']:.0f} s alone and cold at {args.budget}"
              + ("" if rec["passed"] else f" (FAILED: {rec['status']}, {len(rec['errors'])} errors)"), flush=True)
    return 0


def _cuda() -> bool:
    try:
        import torch
        return torch.cuda.is_available()
    except ImportError:
        return False


if __name__ == "__main__":
    sys.exit(main())
