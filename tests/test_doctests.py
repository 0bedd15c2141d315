"""The docstring examples of the package run as doctests (``make test`` runs this file with the rest)."""

import doctest
import importlib
import os.path as osp
import pkgutil

import pytest

import convnext_dense

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
MODULES = sorted(m.name for m in pkgutil.walk_packages(convnext_dense.__path__, 'convnext_dense.'))


def _has_examples(name):
    return any(test.examples for test in doctest.DocTestFinder().find(importlib.import_module(name)))


def test_modules_with_examples_are_found():
    with_examples = [name for name in MODULES if _has_examples(name)]
    assert 'convnext_dense.datasets.synthetic.draw' in with_examples and len(with_examples) >= 10, with_examples


@pytest.mark.parametrize('name', [name for name in MODULES if _has_examples(name)])
def test_docstring_examples(name, monkeypatch):
    monkeypatch.chdir(ROOT)  # examples name configs by their path in the repository
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, f'{name}: {result.failed} of {result.attempted} examples failed'
