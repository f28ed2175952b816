"""Every exported name resolves and carries a docstring (STYLE: public surface in __all__)."""

import inspect

import pytest

import spire
import units


@pytest.mark.parametrize("package", [units, spire], ids=["units", "spire"])
def test_exports_resolve_and_are_documented(package):
    missing_doc = []
    for name in package.__all__:
        obj = getattr(package, name)
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and not inspect.getdoc(obj):
            missing_doc.append(name)
    assert missing_doc == []
