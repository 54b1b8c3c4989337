"""Shared fixtures: every test that takes ``device`` runs on the CPU, and on CUDA when a GPU is present; every
test that uses ``kernels`` runs with the fast kernels and with the plain reference ones (``kernels.switch``)."""
import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar.kernels import switch

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
def kernels(request):
    """The kernels setting the test runs under (a module opts in with ``pytest.mark.usefixtures("kernels")``)."""
    with mt.use_kernels(request.param):
        yield request.param


def pytest_generate_tests(metafunc):
    # Tests that take ``kernel_build`` hold the fast kernels against the reference: they run in fast mode only.
    if "kernels" in metafunc.fixturenames:
        modes = ["fast"] if "kernel_build" in metafunc.fixturenames else list(switch.KERNELS)
        metafunc.parametrize("kernels", modes, indirect=True)


@pytest.fixture(autouse=True)
def _kernels_restored():
    """A test that changes the kernels setting leaves it as it found it."""
    with mt.use_kernels(mt.get_kernels()):
        yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _seeded():
    mt.manual_seed(0)
