"""Shared fixtures: every test that takes ``device`` runs on the CPU, and on CUDA when a GPU is present."""
import numpy as np
import pytest

import minitorch_cifar as mt

CUDA = mt.cuda_is_available()


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not CUDA, reason="CUDA tests need CuPy and an NVIDIA GPU (pip install 'minitorch_cifar[cuda12]')"))])
def device(request):
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _seeded():
    mt.manual_seed(0)
