"""Every exported name resolves and carries a docstring (STYLE: public surface in __all__)."""

import inspect

import pytest

import spire
import spire.data
import spire.mini
import units


@pytest.mark.parametrize(
    "package", [units, spire, spire.data, spire.mini], ids=["units", "spire", "spire.data", "spire.mini"]
)
def test_exports_resolve_and_are_documented(package):
    missing_doc = []
    for name in package.__all__:
        obj = getattr(package, name)
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and not inspect.getdoc(obj):
            missing_doc.append(name)
    assert missing_doc == []


def test_package_docstring_examples_run():
    import doctest

    for package in (units, spire.data, spire.mini):
        failures, _ = doctest.testmod(package)
        assert failures == 0, package.__name__
