"""The examples in docstrings run and print what they say (doctest), so a docstring cannot drift from the code."""
import doctest
import importlib
import importlib.util
import pkgutil
from pathlib import Path

import pytest

import course_utils

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(m.name for m in pkgutil.iter_modules(course_utils.__path__, "course_utils.")
                 if not m.ispkg and m.name != "course_utils.jax_parity")  # jax is an optional extra


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_of_the_package(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} docstring examples failed"


def test_some_examples_are_collected():
    """A doctest that is never collected is worse than none: make sure the known ones run."""
    surfaces = importlib.import_module("course_utils.surfaces")
    assert doctest.testmod(surfaces).attempted >= 4


def test_docstring_examples_of_the_sphinx_extension():
    pytest.importorskip("sphinx")
    spec = importlib.util.spec_from_file_location("course_book", ROOT / "_ext" / "course_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = doctest.testmod(module)
    assert result.attempted >= 1 and result.failed == 0
