"""im2col and col2im of ``kernels.im2col`` for CuPy arrays: one CUDA thread per element written.

Same layout as the numba kernels: x is channels last (N, H, W, C), patch-matrix column
k = ((g * KH + i) * KW + j) * Cg + c. col2im is a gather here: each thread sums one input element's
entries over the taps in increasing (i, j) order.
"""
import functools

from .. import backend

_GEOMETRY = ("int32 height, int32 width, int32 channels, int32 kh, int32 kw, int32 sh, int32 sw, int32 ph, "
             "int32 pw, int32 dh, int32 dw, int32 groups, int32 out_h, int32 out_w")

_IM2COL = """
    const int per_group = channels / groups;
    const long long columns = (long long)kh * kw * channels;
    const long long r = i / columns;
    const int k = i % columns;
    const int tap = (k / per_group) % (kh * kw);
    const int c = (k / (kh * kw * per_group)) * per_group + k % per_group;
    const int ow = r % out_w;
    const int oh = (r / out_w) % out_h;
    const long long img = r / ((long long)out_w * out_h);
    const int ih = oh * sh - ph + (tap / kw) * dh;
    const int iw = ow * sw - pw + (tap % kw) * dw;
    cols = (0 <= ih && ih < height && 0 <= iw && iw < width)
        ? x[((img * height + ih) * width + iw) * channels + c] : (T)0;
"""

_COL2IM = """
    const int per_group = channels / groups;
    const long long columns = (long long)kh * kw * channels;
    const int c = i % channels;
    const long long pixel = i / channels;
    const int iw = pixel % width;
    const int ih = (pixel / width) % height;
    const long long img = pixel / ((long long)width * height);
    const int g = c / per_group, cg = c % per_group;
    T total = 0;
    for (int ki = 0; ki < kh; ++ki) {
        const int t = ih + ph - ki * dh;  // oh * sh == t for the output pixels whose tap ki reads row ih
        if (t < 0 || t % sh != 0 || t / sh >= out_h) continue;
        for (int kj = 0; kj < kw; ++kj) {
            const int u = iw + pw - kj * dw;
            if (u < 0 || u % sw != 0 || u / sw >= out_w) continue;
            const long long r = (img * out_h + t / sh) * out_w + u / sw;
            total += cols[r * columns + ((g * kh + ki) * kw + kj) * per_group + cg];
        }
    }
    x = total;
"""


@functools.cache
def _kernels():
    cp = backend.cupy()
    im2col = cp.ElementwiseKernel("raw T x, " + _GEOMETRY, "T cols", _IM2COL, "minitorch_im2col")
    col2im = cp.ElementwiseKernel("raw T cols, " + _GEOMETRY, "T x", _COL2IM, "minitorch_col2im")
    return im2col, col2im


def _arguments(shape, geometry):
    _, height, width, channels = shape
    return (height, width, channels, *geometry.kernel, *geometry.stride, *geometry.padding, *geometry.dilation,
            geometry.groups, *geometry.output)


def im2col(x, geometry, shape, out=None):
    cp = backend.cupy()
    out = cp.empty(shape, x.dtype) if out is None else out
    _kernels()[0](cp.ascontiguousarray(x), *_arguments(x.shape, geometry), out)
    return out


def col2im(cols, geometry, input_shape, out=None):
    cp = backend.cupy()
    out = cp.empty(input_shape, cols.dtype) if out is None else out
    _kernels()[1](cp.ascontiguousarray(cols), *_arguments(input_shape, geometry), out)
    return out
