"""Shared fixtures: every test that takes ``device`` runs on the CPU, and on CUDA when a GPU is present."""
import numpy as np
import pytest

import minitorch_cifar as mt

CUDA = mt.cuda_is_available()


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(
    not CUDA, reason="CUDA tests need CuPy and an NVIDIA GPU (pip install 'minitorch_cifar[cuda12]')")])])
def device(request):
    return request.param


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: a case that runs only on a GPU (`pytest -m cuda` runs exactly those)")


def pytest_collection_modifyitems(items):
    """Mark ``cuda`` also the tests skipped for want of a GPU without the ``device`` fixture (their reason says
    'NVIDIA GPU')."""
    for item in items:
        if any("NVIDIA GPU" in mark.kwargs.get("reason", "") for mark in item.iter_markers("skipif")):
            item.add_marker(pytest.mark.cuda)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _seeded():
    mt.manual_seed(0)
