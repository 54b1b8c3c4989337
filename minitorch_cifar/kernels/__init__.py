"""Raw array kernels, apart from autograd: numba on the CPU, CuPy kernels on the GPU."""
