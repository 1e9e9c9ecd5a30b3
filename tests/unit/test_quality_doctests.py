"""The examples in the quality docstrings run and give what they show."""

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", [f"plugin.quality.{module}" for module in ("accuracy", "decision", "plan")])
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0
