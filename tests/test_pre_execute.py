"""scripts/pre_execute.py: the pages it caches are the ones the build looks up (same hash), it skips what the
cache holds, and it runs the longest pages first."""
from __future__ import annotations

import sys
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import pre_execute as pe  # noqa: E402


@pytest.fixture()
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(pe, "CACHE", tmp_path / "jc")
    return tmp_path / "jc"


def test_every_page_hashes_as_an_independent_reader_reads_it():
    """myst-nb's reader (what the build hashes) and jupytext give every page the same notebook hash: a page
    cached here is a cache hit in the build."""
    from jupyter_cache.cache.main import JupyterCacheBase

    hashed = JupyterCacheBase(str(ROOT / "_build" / "unused")).create_hashed_notebook
    pages = pe.pages()
    assert len(pages) >= 30 and all(p.suffix == ".md" for p in pages)
    for p in pages:
        assert hashed(pe.read(p))[1] == hashed(jupytext.read(p))[1], p


def test_dry_run_lists_the_uncached_pages_longest_first(tmp_cache, capsys):
    from jupyter_cache import get_cache
    from jupyter_cache.cache.main import CacheBundleIn

    assert pe.main(["--dry-run", "--jobs", "2"]) == 0
    listed = [ln.strip() for ln in capsys.readouterr().out.splitlines() if ln.startswith("  ")]
    pages = pe.pages()
    assert sorted(listed) == sorted(p.relative_to(ROOT).as_posix() for p in pages
                                    if p.relative_to(ROOT).as_posix() not in pe.SERIAL)
    assert pe.SERIAL and not pe.SERIAL & set(listed)   # thread-sensitive pages stay with the serial build
    cold = pe.cold_seconds()
    known = [cold[x] for x in listed if x in cold]
    assert known == sorted(known, reverse=True) and len(known) >= 30   # longest first
    # a page the cache holds (under the build's hash) is not run again
    page = next(p for p in pages if p.relative_to(ROOT).as_posix() not in pe.SERIAL)
    get_cache(str(tmp_cache)).cache_notebook_bundle(CacheBundleIn(pe.read(page), str(page)), check_validity=False)
    assert pe.main(["--dry-run", "--jobs", "2"]) == 0
    again = [ln.strip() for ln in capsys.readouterr().out.splitlines() if ln.startswith("  ")]
    assert sorted(again) == sorted(set(listed) - {page.relative_to(ROOT).as_posix()})


def test_one_job_leaves_the_pages_to_the_build(tmp_cache, capsys):
    assert pe.main(["--jobs", "1"]) == 0
    assert "one job: the build executes them" in capsys.readouterr().out


def test_two_pages_run_in_the_pool_are_cache_hits_with_their_outputs(tmp_cache, tmp_path, monkeypatch, capsys):
    """The real path: two small MyST pages, run by the pool in fresh kernels (one thread each, in the page's
    folder), land in the cache under the hash the build looks up, with their outputs; a failing page is not
    cached and is named."""
    from jupyter_cache import get_cache

    head = ("---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
            "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n\n# T\n\n")
    ok = tmp_path / "pages" / "ok.md"
    ok.parent.mkdir()
    ok.write_text(head + "```{code-cell} ipython3\nimport os\nprint(os.environ.get('OMP_NUM_THREADS'), "
                  "os.path.basename(os.getcwd()))\n```\n", encoding="utf-8")
    bad = tmp_path / "pages" / "bad.md"
    bad.write_text(head + "```{code-cell} ipython3\nraise ValueError('boom')\n```\n", encoding="utf-8")
    monkeypatch.setattr(pe, "pages", lambda: [ok, bad])
    monkeypatch.setattr(pe, "ROOT", tmp_path)
    monkeypatch.setattr(pe, "timeout", lambda: 120)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert pe.main(["--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert "1 of 2 page(s) cached" in out and "pages/bad.md: failed" in out and "ValueError" in out, out
    cache = get_cache(str(tmp_cache))
    _, merged = cache.merge_match_into_notebook(pe.read(ok))
    assert merged.cells[-1].outputs[0]["text"].split() == ["1", "pages"]  # one thread, the page's folder
    with pytest.raises(KeyError):
        cache.match_cache_notebook(pe.read(bad))
