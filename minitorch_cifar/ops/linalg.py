"""Matrix products: ``matmul`` with NumPy's batching rules, and the fused ``linear`` layer op."""
from .. import backend
from ..autograd import Function, unbroadcast
from ..kernels import numba_kernels, switch


class MatMul(Function):
    """a @ b. For C = A B:  dL/dA = G B^T  and  dL/dB = A^T G (batched, then summed over broadcast)."""

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul needs tensors of at least one dimension, got shapes {a.shape} and {b.shape}")
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} do not fit "
                             f"({a.shape[-1]} columns against {b.shape[-2 if b.ndim > 1 else 0]} rows)")
        self.a, self.b = a, b
        return backend.matmul(a, b)

    def backward(self, grad):
        a, b = self.a, self.b
        # treat a vector as a matrix with one row (a) or one column (b), as matmul itself does
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = grad
        if b.ndim == 1:
            g2 = g2[..., None]
        if a.ndim == 1:
            g2 = g2[..., None, :]
        grad_a = grad_b = None
        if self.needs_grad[0]:
            grad_a = unbroadcast(backend.matmul(g2, b2.swapaxes(-1, -2)), a2.shape).reshape(a.shape)
        if self.needs_grad[1]:
            grad_b = unbroadcast(backend.matmul(a2.swapaxes(-1, -2), g2), b2.shape).reshape(b.shape)
        return grad_a, grad_b


class Linear(Function):
    """y = x W^T + b over the last axis of x;  dL/dx = G W,  dL/dW = G^T x,  dL/db = sum of G over rows."""

    def forward(self, x, weight, bias=None):
        if weight.ndim != 2 or x.ndim < 1 or x.shape[-1] != weight.shape[1]:
            raise ValueError(f"linear: input of shape {tuple(x.shape)} does not fit weight of shape "
                             f"{tuple(weight.shape)} (needs input[..., {weight.shape[-1] if weight.ndim else '?'}])")
        if bias is not None and bias.shape != (weight.shape[0],):
            raise ValueError(f"linear: bias of shape {tuple(bias.shape)} does not fit weight of shape {tuple(weight.shape)}")
        self.x, self.weight = x, weight
        out = _linear_product(x.reshape(-1, x.shape[-1]), weight).reshape(x.shape[:-1] + (weight.shape[0],))
        if bias is not None:
            out += bias
        return out

    def backward(self, grad):
        x, w = self.x, self.weight
        rows = grad.reshape(-1, grad.shape[-1])
        products, owned = [], []  # computed side by side
        if self.needs_grad[0]:
            products.append((rows, w))  # dx = G W
            owned.append(False)
        if self.needs_grad[1]:
            products.append((rows.T, x.reshape(-1, x.shape[-1])))  # dW = G^T x, which autograd keeps as .grad
            owned.append(True)
        results = _matmuls(products, owned)
        grad_x = results[0].reshape(x.shape) if self.needs_grad[0] else None
        grad_w = results[-1] if self.needs_grad[1] else None
        grad_b = rows.sum(axis=0) if len(self.needs_grad) > 2 and self.needs_grad[2] else None
        return grad_x, grad_w, grad_b


BIG_WEIGHT_BYTES = 1 << 20  # from here on, a weight at least 4x the size of the input is multiplied as W x^T


def _linear_product(rows, weight):
    """rows W^T, the forward product. On the CPU a big weight against a small batch is multiplied the other way
    round, (W rows^T)^T, and the result copied to C order: rows W^T has OpenBLAS pack the transposed weight, which
    its AVX-512 (SkylakeX) kernels, its choice on any AVX-512 CPU, do slowly. 3072 -> 1024 on 2 threads, AMD Zen 4:
    at batch 4 1.27 ms against 0.51, at batch 32 1.95 against 1.31, at batch 128 4.95 against 4.82 (mlp_final's
    step 3% faster, 4% on 1 thread). Its AVX2 (Haswell) kernels take the two within 10% of each other, either way."""
    if (switch.reference() or backend.is_cupy_array(rows) or weight.nbytes < BIG_WEIGHT_BYTES
            or weight.size < 4 * rows.size):
        return _matmul(rows, weight.T)
    return _matmul(weight, rows.T).T.copy()


def _matmul(a, b):
    """a @ b of 2-D arrays, as ``_matmuls`` computes one."""
    return _matmuls([(a, b)], [False])[0]


def _matmuls(pairs, owned):
    """[a @ b for (a, b) in pairs] of 2-D arrays: the plain products in reference mode and on the GPU
    (``backend.matmul``), else side by side on all CPU threads where they are large (``kernels.workers.matmuls``;
    ``owned``: which results must own their memory)."""
    if switch.reference() or (pairs and backend.is_cupy_array(pairs[0][0])):
        return [backend.matmul(a, b) for a, b in pairs]
    return numba_kernels("workers").matmuls(pairs, owned)


def check_product_shapes(what, a, b):
    """PyTorch's checks of the shapes ``a`` and ``b`` for ``what`` (mm, bmm, dot, outer), with its messages."""
    if what == "mm":
        for name, shape in (("self", a), ("mat2", b)):
            if len(shape) != 2:
                raise ValueError(f"mm: {name} must be a matrix, got shape {shape}")
        if a[1] != b[0]:
            raise ValueError(f"mat1 and mat2 shapes cannot be multiplied ({a[0]}x{a[1]} and {b[0]}x{b[1]})")
    elif what == "bmm":
        for name, shape in (("batch1", a), ("batch2", b)):
            if len(shape) != 3:
                raise ValueError(f"bmm: {name} must be a 3D tensor, got shape {shape}")
        if b[:2] != (a[0], a[2]):
            raise ValueError(f"Expected size for first two dimensions of batch2 tensor to be: [{a[0]}, {a[2]}] but "
                             f"got: [{b[0]}, {b[1]}].")
    elif len(a) != 1 or len(b) != 1:
        raise ValueError(f"{what}: 1D tensors expected, but got {len(a)}D and {len(b)}D tensors")
    elif what == "dot" and a != b:
        raise ValueError(f"dot: inconsistent tensor size, expected tensor [{a[0]}] and src [{b[0]}] to have the same "
                         f"number of elements, but got {a[0]} and {b[0]} elements respectively")
