"""Execute every chapter of the book at one budget, chapter by chapter, and record what happened.

For each MyST chapter of ``_toc.yml`` (read by ``scripts/sync_notebooks.py``, so the list is the
book's) this runs the chapter's current source as a notebook in a fresh kernel of this Python, with
``COURSE_BUDGET=<budget>`` and a results cache of its own, and records per chapter:

* the wall-clock seconds of the execution and how many files it added to the cache (runs trained);
* every cell that raised (a failed hidden check is an ``AssertionError``), with the error's last line;
* the glued values (``name -> text``), so the README's table of the budget's numbers is generated
  from this report, never typed (``--table``).

Execution continues after a failing cell (``allow_errors``), so one run lists *all* failing checks of
a chapter.  The report (``<out>/report.json``) is written atomically after every chapter; a rerun skips
the chapters whose source and package are unchanged and already passed (``--force`` reruns them).
A long run belongs in the background::

    nohup .venv/bin/python scripts/run_budget.py --budget full > _build/full_budget.log 2>&1 &

usage: python scripts/run_budget.py [--budget full] [--cache DIR] [--out DIR] [--force] [CHAPTER.md ...]
       python scripts/run_budget.py --table [--out DIR]     # print the README table from the report
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))


def _rel(md: Path) -> str:
    try:
        return str(md.relative_to(ROOT))
    except ValueError:  # a chapter outside the book (the tests' fixtures)
        return str(md)


def _source_hash(md: Path) -> str:
    from course_utils.train import package_source_hash
    return hashlib.sha256(md.read_bytes() + package_source_hash().encode()).hexdigest()[:16]


def _glued(nb) -> dict[str, str]:
    """name -> text/plain of every ``glue`` in the executed notebook (myst-nb's output metadata)."""
    out = {}
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            name = o.get("metadata", {}).get("scrapbook", {}).get("name")
            d = o.get("data", {})
            text = d.get("application/papermill.record/text/plain", d.get("text/plain"))
            if name and text is not None:
                out[name] = text
    return out


def _errors(nb) -> list[dict]:
    errs = []
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                errs.append({"cell": i, "ename": o.get("ename"), "evalue": str(o.get("evalue"))[:500],
                             "tags": cell.get("metadata", {}).get("tags", []),
                             "source_head": cell.get("source", "")[:200]})
    return errs


def run_chapter(md: Path, budget: str, cache: Path, timeout: int) -> tuple[dict, object]:
    import jupytext
    from nbclient import NotebookClient

    nb = jupytext.read(md)
    before = _count(cache)
    env_backup = dict(os.environ)
    os.environ.update({"COURSE_BUDGET": budget, "COURSE_CACHE": str(cache), "COURSE_PROGRESS": "0",
                       "PYTHONHASHSEED": "0", "MPLBACKEND": "agg"})
    t0 = time.perf_counter()
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(md.parent)}})
        client.execute()
        status = "executed"
    except Exception as e:  # a dead kernel or a cell past the timeout: record it, go on
        status = f"aborted: {type(e).__name__}: {str(e).splitlines()[-1][:300] if str(e) else ''}"
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    seconds = time.perf_counter() - t0
    errors = _errors(nb)
    return {"chapter": _rel(md), "seconds": round(seconds, 1), "status": status,
            "passed": status == "executed" and not errors, "errors": errors,
            "cells": len(nb.cells), "new_cache_files": _count(cache) - before,
            "glued": _glued(nb)}, nb


def cold_seconds(rec: dict, old: dict | None) -> float:
    """The chapter's cold time: this run's seconds when it trained something (or nothing was recorded
    before); a rerun that read every training run back from the cache keeps the earlier cold time."""
    if old and rec.get("new_cache_files", 0) == 0:
        return float(old.get("cold_seconds", old["seconds"]))
    return float(rec["seconds"])


def cold_environment(rec: dict, old: dict | None, env: dict) -> dict:
    """``{"cold_device", "cold_torch"}``: the machine of the run whose time :func:`cold_seconds` keeps. A rerun
    that read everything back keeps the earlier run's machine (``None`` where that record did not store it), so a
    record never pairs a cold time with the machine of a later, cached run."""
    if old and rec.get("new_cache_files", 0) == 0:
        kept = {k: old.get(f"cold_{k}") for k in ("device", "torch")}
        if not any(kept.values()) and old.get("cold_seconds", old.get("seconds")) == old.get("seconds"):
            # the old run was itself the cold one: its own machine
            kept = {k: old.get(k) for k in ("device", "torch")}
        return {f"cold_{k}": v for k, v in kept.items()}
    return {f"cold_{k}": env.get(k) for k in ("device", "torch")}


def _count(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file())


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _title(md: Path) -> str:
    """The chapter's first heading (its title in the book), or its file name."""
    try:
        for line in md.read_text(encoding="utf-8").splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    except OSError:
        pass
    return md.stem


def export(report: dict) -> dict:
    """What the book shows of a budget run: per chapter its time, its checks and its glued numbers/words."""
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=10", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    chapters = {}
    for key, ch in report["chapters"].items():
        # numbers and sentences (one line, a paragraph at most), no tables or figures
        glued = {k: v for k, v in ch["glued"].items() if len(v) <= 2000 and "\n" not in v}
        chapters[key] = {"title": _title(ROOT / key), "seconds": ch.get("cold_seconds", ch["seconds"]),
                         "last_seconds": ch["seconds"], "passed": ch["passed"],
                         "failed_checks": len(ch["errors"]),
                         "finished": ch.get("finished"), "commit": ch.get("commit", "unknown"),
                         "device": ch.get("device"), "torch": ch.get("torch"),
                         "cold_device": ch.get("cold_device"), "cold_torch": ch.get("cold_torch"), "glued": glued}
    from sync_notebooks import chapters as toc_chapters

    toc = {_rel(md): _title(md) for md in toc_chapters(ROOT)}
    return {"budget": report["budget"], "exported_at_commit": commit, "toc": toc,
            "note": "produced by scripts/run_budget.py; each chapter's numbers are its glued values",
            "chapters": chapters}


def table(report: dict, cpu_report: dict | None = None) -> str:
    """A Markdown table: chapter, seconds, checks — the README's per-chapter table of a budget."""
    rows = ["| chapter | seconds (cold) | last run (s) | hidden checks |", "|---|---:|---:|---|"]
    total = last = 0.0
    for ch in report["chapters"].values():
        cold = ch.get("cold_seconds", ch["seconds"])
        total += cold
        last += ch["seconds"]
        ok = "all passed" if ch["passed"] else \
            f"{len(ch['errors'])} failed" + (f" ({ch['status']})" if ch["status"] != "executed" else "")
        rows.append(f"| {ch['chapter']} | {cold:.0f} | {ch['seconds']:.0f} | {ok} |")
    rows.append(f"| **total** | **{total:.0f}** ({total / 60:.1f} min) | {last:.0f} | |")
    return "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("chapters", nargs="*", help="only these chapters (.md paths); default: every chapter of the toc")
    ap.add_argument("--budget", default="full", choices=["full", "cpu"])
    ap.add_argument("--cache", default=None, help="results cache (default: .cache-<budget>)")
    ap.add_argument("--out", default=None, help="report folder (default: _build/budget-<budget>)")
    ap.add_argument("--timeout", type=int, default=7200, help="seconds per cell before giving up")
    ap.add_argument("--force", action="store_true", help="rerun chapters that already passed unchanged")
    ap.add_argument("--table", action="store_true", help="print the Markdown table of the report and exit")
    ap.add_argument("--export", default=None, metavar="JSON",
                    help="write the report's per-chapter times, checks and glued numbers to JSON (for the book) and exit")
    args = ap.parse_args(argv)

    out = Path(args.out or ROOT / "_build" / f"budget-{args.budget}")
    cache = Path(args.cache or ROOT / f".cache-{args.budget}").resolve()  # kernels run in the chapter's folder
    report_path = out / "report.json"
    report = json.loads(report_path.read_text()) if report_path.is_file() else {"budget": args.budget, "chapters": {}}
    if args.export:
        if not report["chapters"]:
            print(f"No report at {report_path}: run the chapters first.", file=sys.stderr)
            return 2
        _write_atomic(Path(args.export), json.dumps(export(report), indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {args.export}")
        return 0
    if args.table:
        if not report["chapters"]:
            print(f"No report at {report_path}: run the chapters first.", file=sys.stderr)
            return 2
        print(table(report))
        return 0
    out.mkdir(parents=True, exist_ok=True)
    cache.mkdir(parents=True, exist_ok=True)

    from sync_notebooks import chapters as toc_chapters
    mds = [Path(c).resolve() for c in args.chapters] if args.chapters else toc_chapters(ROOT)
    from course_utils import provenance
    env = provenance.record_environment()  # device and torch of this run (the kernels run here too)
    failed = 0
    for md in mds:
        key = _rel(md)
        h = _source_hash(md)
        old = report["chapters"].get(key)
        if old and old.get("hash") == h and old["passed"] and not args.force:
            print(f"skip {key} (unchanged, passed in {old['seconds']:.0f} s)", flush=True)
            continue
        print(f"run  {key} ...", flush=True)
        rec, nb = run_chapter(md, args.budget, cache, args.timeout)
        rec["hash"] = h
        rec["commit"] = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=10", "HEAD"],
                                       capture_output=True, text=True).stdout.strip() or "unknown"
        rec["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
        rec.update({k: env[k] for k in ("device", "torch")})  # the machine that produced the numbers
        rec["cold_seconds"] = cold_seconds(rec, old)
        rec.update(cold_environment(rec, old, env))  # the machine behind the cold time, not the last run's
        report["chapters"][key] = rec
        import nbformat
        (out / "notebooks").mkdir(exist_ok=True)
        nbformat.write(nb, out / "notebooks" / (key.strip("/").replace("/", "__").removesuffix(".md") + ".ipynb"))
        _write_atomic(report_path, json.dumps(report, indent=1))
        failed += not rec["passed"]
        print(f"     {rec['seconds']:.0f} s, {'passed' if rec['passed'] else 'FAILED'}"
              + "".join(f"\n       cell {e['cell']}: {e['ename']}: {e['evalue'][:200]}" for e in rec["errors"]),
              flush=True)
    print(table(report))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
