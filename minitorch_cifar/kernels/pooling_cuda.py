"""The pooling kernels of ``pooling`` for CuPy arrays: the same windows, scan order and results.

The forward kernels run one CUDA thread per output element. Overlapping windows (kernel 3, stride 2) can
send several gradients to one input, so the backward kernels are gathers, one thread per input element
adding up, in output order, what the outputs whose windows hold it send it: deterministic (no atomicAdd),
and the CPU's sums exactly. Inputs may have any strides (a raw CuPy array indexed by a flat C-order
position follows its strides); outputs are C-contiguous.
"""
import functools

from .. import backend

_WINDOW_PARAMS = ("raw int64 h_start, raw int64 h_stop, int64 h_step, raw int64 w_start, raw int64 w_stop, "
                  "int64 w_step, int64 height, int64 width, int64 out_h, int64 out_w")
_POSITION = "const long long ow = i % out_w, oh = i / out_w % out_h, plane = i / (out_w * out_h);"

_FIRST_ABOVE = """
// The first k in [0, n) with table[k] > value, else n: a binary search (window tables ascend).
template <typename Table>
__device__ long long first_above(const Table& table, long long n, long long value) {
    long long low = 0, high = n;
    while (low < high) {
        const long long middle = (low + high) / 2;
        if (table[middle] > value) high = middle; else low = middle + 1;
    }
    return low;
}
"""


def _gather(condition, addend):
    """A backward kernel's body: grad_input = the sum, in output order, of ``addend`` over the outputs o = (oh, ow)
    whose windows span input (ih, iw) and for which ``condition`` holds (C expressions)."""
    return """
    const long long iw = i % width, ih = i / width % height, plane = i / (width * height);
    // the outputs whose windows span (ih, iw): h_start[oh] <= ih < h_stop[oh], and likewise for columns
    const long long oh_end = first_above(h_start, out_h, ih), ow_end = first_above(w_start, out_w, iw);
    T total = 0;
    for (long long oh = first_above(h_stop, out_h, ih); oh < oh_end; ++oh)
        for (long long ow = first_above(w_stop, out_w, iw); ow < ow_end; ++ow) {
            const long long o = (plane * out_h + oh) * out_w + ow;
            if (""" + condition + """) total += """ + addend + """;
        }
    grad_input = total;
    """


@functools.cache
def _kernels():
    cp = backend.cupy()
    max_forward = cp.ElementwiseKernel(
        "raw T x, T lowest, " + _WINDOW_PARAMS, "raw T out, raw int64 indices",
        _POSITION + """
        T best = lowest;
        long long arg = h_start[oh] * width + w_start[ow];
        for (long long ih = h_start[oh]; ih < h_stop[oh]; ih += h_step) {
            for (long long iw = w_start[ow]; iw < w_stop[ow]; iw += w_step) {
                const T v = x[(plane * height + ih) * width + iw];
                if (v > best || v != v) { best = v; arg = ih * width + iw; }  // first max; a NaN wins
            }
        }
        out[i] = best;
        indices[i] = arg;
        """, "minitorch_max_pool_forward")
    max_backward = cp.ElementwiseKernel(
        "raw T grad, raw int64 indices, " + _WINDOW_PARAMS, "T grad_input",
        _gather("indices[o] == ih * width + iw", "grad[o]"),  # the outputs whose maximum (ih, iw) was
        "minitorch_max_pool_backward", preamble=_FIRST_ABOVE)
    avg_forward = cp.ElementwiseKernel(
        "raw T x, raw T divisor, " + _WINDOW_PARAMS, "raw T out",
        _POSITION + """
        T sum = 0;
        for (long long ih = h_start[oh]; ih < h_stop[oh]; ih += h_step)
            for (long long iw = w_start[ow]; iw < w_stop[ow]; iw += w_step)
                sum += x[(plane * height + ih) * width + iw];
        out[i] = sum / divisor[oh * out_w + ow];
        """, "minitorch_avg_pool_forward")
    avg_backward = cp.ElementwiseKernel(
        "raw T grad, raw T divisor, " + _WINDOW_PARAMS, "T grad_input",
        _gather("(ih - h_start[oh]) % h_step == 0 && (iw - w_start[ow]) % w_step == 0",  # taps of dilated windows
                "grad[o] / divisor[oh * out_w + ow]"),
        "minitorch_avg_pool_backward", preamble=_FIRST_ABOVE)
    return max_forward, max_backward, avg_forward, avg_backward


def _window_args(windows, like, input_shape, out_shape):
    """The kernels' window parameters; the tables are uploaded once per geometry and device (``device_constant``)."""
    h_start, h_stop, w_start, w_stop = (backend.device_constant(table, like) for table in
                                        (windows.h_start, windows.h_stop, windows.w_start, windows.w_stop))
    return (h_start, h_stop, windows.h_step, w_start, w_stop, windows.w_step,
            input_shape[2], input_shape[3], out_shape[2], out_shape[3])


def _out_shape(input_shape, windows):
    return tuple(input_shape[:2]) + (len(windows.h_start), len(windows.w_start))


def max_pool_forward(x, windows):
    cp = backend.cupy()
    shape = _out_shape(x.shape, windows)
    out, indices = cp.empty(shape, x.dtype), cp.empty(shape, cp.int64)
    _kernels()[0](x, x.dtype.type(-float("inf")), *_window_args(windows, x, x.shape, shape), out, indices,
                  size=out.size)
    return out, indices


def max_pool_backward(grad, indices, windows, input_shape):
    cp = backend.cupy()
    grad_input = cp.empty(input_shape, grad.dtype)
    _kernels()[1](grad, cp.ascontiguousarray(indices), *_window_args(windows, grad, input_shape, grad.shape),
                  grad_input)
    return grad_input


def avg_pool_forward(x, windows, divisor):
    cp = backend.cupy()
    shape = _out_shape(x.shape, windows)
    out = cp.empty(shape, x.dtype)
    _kernels()[2](x, backend.device_constant(divisor, x, x.dtype), *_window_args(windows, x, x.shape, shape), out,
                  size=out.size)
    return out


def avg_pool_backward(grad, windows, divisor, input_shape):
    cp = backend.cupy()
    grad_input = cp.empty(input_shape, grad.dtype)
    _kernels()[3](grad, backend.device_constant(divisor, grad, grad.dtype),
                  *_window_args(windows, grad, input_shape, grad.shape), grad_input)
    return grad_input
