"""The examples in the metric and scoring docstrings run and give what they show."""

import doctest
import importlib

import pytest

MODULES = [
    "plugin.labelconfig",
    "plugin.metrics.alpha",
    "plugin.metrics.bootstrap",
    "plugin.metrics.brush",
    "plugin.metrics.geometry",
    "plugin.metrics.kappa",
    "plugin.metrics.matching",
    "plugin.metrics.spans",
    "plugin.metrics.text",
    "plugin.scoring.settings",
    "plugin.scoring.task",
    "plugin.scoring.verdict",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0
