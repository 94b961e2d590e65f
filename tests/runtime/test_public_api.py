"""The public surface: what ``import imgadapt`` offers, and the public modules the torch side uses."""
import importlib

import numpy as np
import pytest

import imgadapt
from imgadapt import ensemble, errors

PUBLIC = [
    "list_models", "model_info", "load", "demosaic", "upscale", "edges", "Model", "PATTERNS",
    "ImgadaptError", "InputDtypeError", "InputShapeError", "InputSizeError", "InputValueError",
    "ModelIntegrityError", "ProviderError", "UnknownNameError", "UnsupportedRawError", "CorruptRawError", "raw",
]


def test_all_is_pinned():
    """A change here changes the public API: make it on purpose, with the README."""
    assert imgadapt.__all__ == PUBLIC
    assert all(hasattr(imgadapt, name) for name in PUBLIC)
    assert isinstance(imgadapt.__version__, str)


def test_the_errors_are_the_public_modules_errors():
    for name in PUBLIC:
        if name.endswith("Error"):
            assert getattr(imgadapt, name) is getattr(errors, name)
            assert issubclass(getattr(errors, name), errors.ImgadaptError)


@pytest.mark.parametrize("module", ["imgadapt.errors", "imgadapt.bayer", "imgadapt.session", "imgadapt.ensemble",
                                    "imgadapt.raw", "imgadapt.bench.evaluate", "imgadapt.bench.table",
                                    "imgadapt.bench.timing", "imgadapt.cli"])
def test_public_modules_import(module):
    importlib.import_module(module)


@pytest.mark.parametrize("k", range(8))
def test_dihedral_is_undone(k):
    image = np.arange(2 * 3 * 3).reshape(2, 3, 3)
    turned = ensemble.dihedral(image, k)
    assert turned.flags.c_contiguous
    np.testing.assert_array_equal(ensemble.undo_dihedral(turned, k), image)


def test_the_eight_dihedral_transforms_differ():
    image = np.arange(12).reshape(3, 4)
    turned = [ensemble.dihedral(image, k) for k in range(8)]
    assert len({(t.shape, t.tobytes()) for t in turned}) == 8


def test_load_takes_only_documented_public_options():
    import inspect

    params = inspect.signature(imgadapt.load).parameters
    assert list(params) == ["name", "task", "providers", "threads", "tile", "strict"]
    for option in params:
        assert f"{option}:" in imgadapt.load.__doc__
