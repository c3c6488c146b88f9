#!/usr/bin/env python3
"""Fan the `full` budget out over several hosted runners, and merge what they trained.

The publishing workflow (``.github/workflows/book.yml``) trains the chapters of the toc in groups, one
runner per group, each with a results cache of its own (``.cache/runs``, ``.cache/jax``,
``.cache/transfer``: content-addressed, so a file trained by any group is valid for every page), then one
job merges every group's results and builds the site, which then reads every training run back instead
of training it.

Groups are balanced by the recorded cold times (longest first onto the least loaded group):

* ``course_utils/results/full_budget.json``: each chapter at `full`, run one after the other on 2 CPU
  cores (``scripts/run_budget.py``), so a chapter that reuses an earlier chapter's runs looks fast there;
* ``_ext/cold_seconds.json``: each chapter *alone* with an empty cache at `cpu` (``scripts/cold_times.py``).

A chapter's time alone at `full` is estimated as the larger of the two (alone it trains at least what it
trained in the sequence, and `full` is at least as long as `cpu`); a chapter with neither record counts
``UNRECORDED_SECONDS``.  The chapters in ``READERS`` train nothing of their own at `full`: they read the
runs of other chapters (or the shipped record), so they are left to the merge job, which has every
group's results; run alone they would train those runs a second time.

    python scripts/fanout.py plan [--groups 4] [--budget full] [--github-output]   # the job matrix
    python scripts/fanout.py estimate [--speedup 1.0]      # expected publish time at each budget
    python scripts/fanout.py merge DIR... --into .cache     # merge the groups' result folders
    python scripts/fanout.py dry-run [--groups 4]           # plan, fake results per group, merge, check

``plan --github-output`` appends ``matrix=<json>`` and ``fanout=true|false`` to ``$GITHUB_OUTPUT``.
Only the standard library and PyYAML are needed (the workflow's plan job installs nothing else).
"""
from __future__ import annotations

import argparse
import filecmp
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FULL_RECORD = "course_utils/results/full_budget.json"
COLD_RECORD = "_ext/cold_seconds.json"
#: Chapters that read other chapters' runs (or the shipped record) and train nothing of their own at `full`:
#: built by the merge job, after every group's results are in place.
READERS = {
    "book/part5/guidelines.md": "re-runs the configurations of Parts II-V to quote them (38 s at `full` "
                                "after them in the recorded sequence; alone it would train them again)",
    "book/full_budget.md": "reads the shipped record",
}
#: The folders of the results cache that the groups hand to the merge job (relative to the cache root).
RESULT_FOLDERS = ("runs", "jax", "transfer")
#: Seconds assumed for a chapter with no record at all (a new chapter): a group of its own is not needed,
#: but it is not free either.
UNRECORDED_SECONDS = 600.0
#: Seconds of a hosted job before and after its chapters: checkout, Python, the pip install (wheels from
#: the pip cache), the Debian data package and the page JavaScript.  An assumption, not a record.
JOB_SETUP_SECONDS = 300.0
#: The site tests of the merge job (the built products and every page in headless Chromium, on 2 cores).
SITE_SECONDS = 150.0
#: `make book` with every training run restored from the results cache, on 2 cores (the whole book at `full`).
REBUILD_SECONDS = 13 * 60.0
#: Hosted runner: 4 vCPU (public repositories); the records are from 2 cores.
TARGET_MINUTES = 45


# ----------------------------------------------------------------------------- the chapters and their times
def toc_chapters(root: Path = ROOT) -> list[str]:
    """The MyST-notebook chapters of ``_toc.yml`` in toc order (as ``scripts/sync_notebooks.py`` lists them)."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    files: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(str(node["file"]))
            for k in ("root",):
                if k in node:
                    files.append(str(node[k]))
            for v in node.values():
                if isinstance(v, (list, dict)):
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(toc)
    out = []
    for f in files:
        p = root / f
        p = p if p.suffix else p.with_suffix(".md")
        if p.is_file() and _is_myst_notebook(p):
            rel = p.relative_to(root).as_posix()
            if rel not in out:
                out.append(rel)
    return out


def _is_myst_notebook(p: Path) -> bool:
    text = p.read_text(encoding="utf-8")
    m = re.match(r"---\n(.*?)\n---\n", text, re.S)
    return bool(m and re.search(r"^(jupytext|kernelspec):", m.group(1), re.M))


def _json(root: Path, rel: str) -> dict:
    p = root / rel
    return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else {}


def estimated_seconds(root: Path = ROOT, budget: str = "full") -> dict[str, tuple[float, str]]:
    """chapter -> (estimated cold seconds alone at ``budget`` on 2 cores, where the number comes from)."""
    full = _json(root, FULL_RECORD).get("chapters", {})
    cold = _json(root, COLD_RECORD).get("budgets", {})
    out = {}
    for ch in toc_chapters(root):
        alone = cold.get(budget, {}).get(ch, {}).get("seconds")
        cpu_alone = cold.get("cpu", {}).get(ch, {}).get("seconds")
        seq = full.get(ch, {}).get("seconds") if budget == "full" else None
        if alone is not None:
            out[ch] = (float(alone), f"{COLD_RECORD} ({budget}, alone)")
        elif seq is not None or cpu_alone is not None:
            vals = {k: v for k, v in (("full, in sequence", seq), ("cpu, alone", cpu_alone)) if v is not None}
            src = max(vals, key=vals.get)
            out[ch] = (float(vals[src]), src)
        else:
            out[ch] = (UNRECORDED_SECONDS, "no record")
    return out


# ----------------------------------------------------------------------------- grouping
def slug(chapter: str) -> str:
    """A name for a group, from its heaviest chapter: stable while that chapter leads it (cache keys)."""
    stem = chapter.removeprefix("book/").removesuffix(".md")
    return re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")


def plan(times: dict[str, float], groups: int, readers=READERS) -> list[dict]:
    """Longest-processing-time-first: each chapter (heaviest first) onto the least loaded group.

    Returns ``[{"group": name, "chapters": [...], "seconds": total}]``, heaviest group first, without empty
    groups and without the ``readers`` (the merge job builds those).
    """
    if groups < 1:
        raise ValueError(f"--groups must be at least 1, not {groups}")
    bins: list[dict] = [{"chapters": [], "seconds": 0.0} for _ in range(groups)]
    for ch in sorted((c for c in times if c not in readers), key=lambda c: (-times[c], c)):
        b = min(bins, key=lambda b: (b["seconds"], len(b["chapters"])))
        b["chapters"].append(ch)
        b["seconds"] += times[ch]
    bins = [b for b in bins if b["chapters"]]
    for b in bins:
        b["group"] = slug(b["chapters"][0])
        b["seconds"] = round(b["seconds"], 1)
    bins.sort(key=lambda b: -b["seconds"])
    names = [b["group"] for b in bins]
    assert len(set(names)) == len(names), names  # distinct heaviest chapters give distinct names
    return bins


def matrix(groups: list[dict]) -> dict:
    """The GitHub Actions matrix: one entry per group, its chapters as one space-separated string."""
    return {"include": [{"group": g["group"], "chapters": " ".join(g["chapters"]),
                         "minutes": round(g["seconds"] / 60, 1)} for g in groups]}


# ----------------------------------------------------------------------------- merging
def merge(sources: list[Path], into: Path) -> dict:
    """Copy every result file of every group's folder into ``into`` (the results cache).

    Entries are content-addressed, so a name that two groups both trained is the same run: the first copy
    is kept (``duplicates``; ``differing`` counts those whose bytes differ, e.g. a save's timestamps).
    """
    stats = {"copied": 0, "duplicates": 0, "differing": 0, "sources": 0}
    for src in sources:
        if not src.is_dir():
            raise SystemExit(f"{src}: not a folder of results (expected the groups' downloaded artifacts)")
        stats["sources"] += 1
        for f in sorted(p for p in src.rglob("*") if p.is_file()):
            rel = f.relative_to(src)
            if rel.parts[0] not in RESULT_FOLDERS:
                continue
            dest = into / rel
            if dest.exists():
                stats["duplicates"] += 1
                stats["differing"] += not filecmp.cmp(f, dest, shallow=False)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + ".part")
            shutil.copy2(f, tmp)
            os.replace(tmp, dest)  # atomic: a reader never sees half a file
            stats["copied"] += 1
    return stats


def result_files(cache: Path) -> set[str]:
    return {p.relative_to(cache).as_posix() for d in RESULT_FOLDERS if (cache / d).is_dir()
            for p in (cache / d).rglob("*") if p.is_file()}


# ----------------------------------------------------------------------------- estimates
def estimate(root: Path = ROOT, groups: int = 4, speedup: float = 1.0) -> dict:
    """Expected wall time of a publish at each budget, in minutes, from the recorded 2-core times.

    ``speedup``: how much faster a 4-vCPU hosted runner trains than the 2 cores of the records (1.0: no
    faster; 2.0: perfectly parallel).  Setup and site tests are not scaled.
    """
    times = {c: s for c, (s, _) in estimated_seconds(root, "full").items()}
    g = plan(times, groups)
    longest = g[0]["seconds"] / speedup
    full_cold = (JOB_SETUP_SECONDS + longest                          # the slowest group
                 + JOB_SETUP_SECONDS + REBUILD_SECONDS / speedup + SITE_SECONDS)  # merge: build + site
    single_cold = JOB_SETUP_SECONDS + sum(times.values()) / speedup + SITE_SECONDS
    cpu = _json(root, COLD_RECORD).get("budgets", {}).get("cpu", {})
    cpu_book = sum(v["seconds"] for v in cpu.values())
    cpu_cold = JOB_SETUP_SECONDS + cpu_book / speedup + SITE_SECONDS
    merge_job = JOB_SETUP_SECONDS + REBUILD_SECONDS / speedup + SITE_SECONDS
    # warm: every group finds its chapters unchanged in its report (scripts/run_budget.py skips them)
    warm = JOB_SETUP_SECONDS + merge_job
    runner = sum(JOB_SETUP_SECONDS + grp["seconds"] / speedup for grp in g) + merge_job
    m = lambda s: round(s / 60, 1)  # noqa: E731
    return {
        "speedup": speedup, "groups": len(g), "critical_group": g[0]["group"],
        "critical_group_minutes": m(longest),
        "full_fanout_cold_minutes": m(full_cold), "full_one_runner_cold_minutes": m(single_cold),
        "full_warm_minutes": m(warm), "cpu_cold_minutes": m(cpu_cold),
        "full_fanout_runner_minutes": m(runner),
        "meets_target": m(full_cold) < TARGET_MINUTES, "target_minutes": TARGET_MINUTES,
    }


# ----------------------------------------------------------------------------- dry run
def dry_run(root: Path = ROOT, groups: int = 4, work: Path | None = None) -> dict:
    """Plan the groups, let each "train" a marker file per chapter into its own cache, merge, and check
    that the merged cache holds every chapter's results exactly once, and that no reader was trained."""
    times = {c: s for c, (s, _) in estimated_seconds(root, "full").items()}
    g = plan(times, groups)
    work = Path(work or tempfile.mkdtemp(prefix="fanout-"))
    planned = [c for grp in g for c in grp["chapters"]]
    if sorted(planned) != sorted(set(planned)):
        raise AssertionError("a chapter is in two groups")
    missing = set(times) - set(planned) - set(READERS)
    if missing:
        raise AssertionError(f"chapters in no group: {sorted(missing)}")
    dirs = []
    for grp in g:
        d = work / "artifacts" / f"results-{grp['group']}"
        for ch in grp["chapters"]:
            f = d / "runs" / (slug(ch) + ".pt")
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(ch)
        (d / "data").mkdir(exist_ok=True)
        (d / "data" / "not-a-result.bin").write_text("x")  # data is not merged
        dirs.append(d)
    into = work / "merged"
    stats = merge(dirs, into)
    got = result_files(into)
    want = {f"runs/{slug(c)}.pt" for c in planned}
    if got != want:
        raise AssertionError(f"merged cache differs: missing {sorted(want - got)}, extra {sorted(got - want)}")
    return {"groups": g, "merged": stats, "work": str(work)}


# ----------------------------------------------------------------------------- command line
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("plan", help="print the job matrix")
    p.add_argument("--groups", type=int, default=4)
    p.add_argument("--budget", default="full", choices=["full", "cpu"])
    p.add_argument("--github-output", action="store_true", help="append matrix= and fanout= to $GITHUB_OUTPUT")
    e = sub.add_parser("estimate", help="expected publish time at each budget")
    e.add_argument("--groups", type=int, default=4)
    e.add_argument("--speedup", type=float, action="append", help="4-vCPU over 2-core speed (repeatable)")
    m = sub.add_parser("merge", help="merge the groups' result folders into the results cache")
    m.add_argument("sources", nargs="+", type=Path)
    m.add_argument("--into", type=Path, default=ROOT / ".cache")
    d = sub.add_parser("dry-run", help="plan, fake each group's results, merge, check")
    d.add_argument("--groups", type=int, default=4)
    args = ap.parse_args(argv)

    if args.cmd == "plan":
        if args.groups < 1:
            print(f"--groups must be at least 1, not {args.groups}", file=sys.stderr)
            return 2
        times = estimated_seconds(ROOT, "full")
        groups = plan({c: s for c, (s, _) in times.items()}, args.groups) if args.budget == "full" else []
        mat = matrix(groups)
        for grp in groups:
            print(f"{grp['group']:40s} {grp['seconds'] / 60:6.1f} min (2 cores)  {' '.join(grp['chapters'])}",
                  file=sys.stderr)
        print(f"built by the merge job: {' '.join(sorted(READERS))}", file=sys.stderr)
        print(json.dumps(mat))
        if args.github_output:
            out = os.environ.get("GITHUB_OUTPUT")
            if not out:
                print("GITHUB_OUTPUT is not set (this option is for GitHub Actions)", file=sys.stderr)
                return 2
            with open(out, "a", encoding="utf-8") as fh:
                fh.write(f"matrix={json.dumps(mat)}\nfanout={'true' if groups else 'false'}\n")
        return 0
    if args.cmd == "estimate":
        for s in args.speedup or [1.0, 2.0]:
            print(json.dumps(estimate(ROOT, args.groups, s)))
        return 0
    if args.cmd == "merge":
        stats = merge(args.sources, args.into)
        print(f"merged {stats['sources']} group(s) into {args.into}: {stats['copied']} files copied, "
              f"{stats['duplicates']} trained by two groups ({stats['differing']} with differing bytes; first kept)")
        return 0
    if args.cmd == "dry-run":
        res = dry_run(ROOT, args.groups)
        for grp in res["groups"]:
            print(f"{grp['group']:40s} {grp['seconds'] / 60:6.1f} min  {len(grp['chapters'])} chapters")
        print(f"merged: {res['merged']}  (in {res['work']})")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
