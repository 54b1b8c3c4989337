"""The direct convolution, stride 1, with the images of a chunk as the vector lanes (numba).

A layer with few output channels makes thin matrix products (6 or 16 columns) that run far below the BLAS
ceiling. Here the sums of the convolution run as they are written, vectorised across images instead: a chunk
of nb images is laid out "lanes last", X[c, h, w, n] = x[n, h, w, c], so that one row of X holds every
image's row h and shifting a row by one pixel shifts it by nb elements. With stride 1 an output row is then

    Y[co, oh, :] = sum over c, i, j of  w[co, c, i, j] * X[c, oh + i * dh, j * dw : j * dw + OW, :]

a sum of contiguous, equally long slices (OW * nb values each): loops that LLVM vectorises, with nothing copied. The
kernel takes two output channels and eight taps at a time (four on AVX2), from any channels and kernel rows, so each
slice it loads serves two multiply-adds and each output value it loads and stores sixteen (eight). The weight
gradient is the same sum turned around, dW[co, c, i, j] = sum over oh of the dot product of dY[co, oh, :] with that
slice: with dY's rows laid out as long as X's (zeros after OW), one dot product along both flat arrays. The input
gradient is a correlation of dY, padded by the dilated kernel less the padding, with the kernels flipped and their
channel axes swapped.

The sums are reassociated (vectorised), so their float rounding differs from the matrix products' but not in
size. Serial and releasing the GIL: ``kernels.conv_methods.Direct`` runs them on chunks in threads.
"""
import llvmlite.binding
import numba
import numpy as np

LANES = 16  # the fewest images a chunk should hold: one 512-bit vector of float32 values


def _compiles_for_avx512():
    """Whether numba compiles for AVX-512 here: the host's features, or NUMBA_CPU_FEATURES where set (a named
    NUMBA_CPU_NAME without features counts as no, the portable reading)."""
    if numba.config.CPU_FEATURES:
        return "+avx512f" in numba.config.CPU_FEATURES.split(",")
    if numba.config.CPU_NAME not in (None, "host"):
        return False
    return bool(llvmlite.binding.get_host_cpu_features().get("avx512f"))


# Taps ``correlate`` takes in one pass: eight with AVX-512's 32 vector registers, which hold their 16 kernel values
# and 8 slices; four with AVX2's 16, where eight spill (see correlate). A constant to numba: its dead loop is gone.
TAPS_PER_PASS = 8 if _compiles_for_avx512() else 4
# reassociate sums (to vectorise them) and fuse multiply-adds; no assumptions about NaN or infinity
_SUMS = {"reassoc", "nsz", "contract"}


@numba.njit(cache=True, nogil=True)
def to_lanes(x, top, left, out):
    """out (C, R, Q, nb) = x (nb, H, W, C) lanes last, its row h at row top + h and column w at column left + w;
    the rest zeros (``top`` and ``left`` may be negative: what falls outside is left out)."""
    images, height, width, channels = x.shape
    rows, columns = out.shape[1], out.shape[2]
    first, stop = max(0, top), min(rows, top + height)  # the rows and columns that receive x
    left_end, right_start = max(0, left), min(columns, left + width)
    out[:, :first] = 0
    out[:, stop:] = 0
    out[:, first:stop, :left_end] = 0
    out[:, first:stop, right_start:] = 0
    for c in range(channels):  # a channel's plane at a time: x may be an (N, H, W, C) view of NCHW memory
        for h in range(max(0, -top), min(height, rows - top)):
            for w in range(max(0, -left), min(width, columns - left)):
                lanes = out[c, top + h, left + w]
                for n in range(images):
                    lanes[n] = x[n, h, w, c]


@numba.njit(cache=True, nogil=True)
def from_lanes(y, bias, out):
    """out (nb, OH, OW, C) = the first C channels of y (C' >= C, OH, OW, nb) back in channels-last order, plus
    ``bias`` (C,) unless it is empty: added here, in a pass made anyway (NumPy's pass over a chunk's output took
    40 us a chunk of 64 images of LeNet's 6 -> 16 layer on the Xeon guest)."""
    images, out_h, out_w, channels = out.shape
    if channels < LANES:  # fewer channels than a vector: a pixel's channels one at a time, across the images
        # (one thread on the 2-core Zen 5 EPYC, against the pixel-block transpose below: 21 images, 6 channels at 28x28
        # 69 -> 42 us, at 14x14 25 -> 14; 64 images 213 -> 111 and 81 -> 32; 12 channels at 14x14 34 -> 28 and 106 ->
        # 52; from 16 channels on the transpose's channel loop vectorises and is as fast or faster: 32 at 8x8 14 us
        # against 152)
        for oh in range(out_h):
            for ow in range(out_w):
                for c in range(channels):
                    for n in range(images):
                        out[n, oh, ow, c] = y[c, oh, ow, n] + bias[c] if bias.size else y[c, oh, ow, n]
        return
    # a pixel at a time, its (C, nb) block of y read and written transposed: on the 2-core Xeon guest, 64 images,
    # 16 channels at 10x10 147 -> 42 us and 6 at 28x28 272 -> 244 against reading y in order (itself 2x faster than
    # writing out in order at 6 channels on the 2-core EPYC)
    for oh in range(out_h):
        for ow in range(out_w):
            for n in range(images):
                for c in range(channels):  # without a bias, not y + 0, which would turn -0.0 into 0.0
                    out[n, oh, ow, c] = y[c, oh, ow, n] + bias[c] if bias.size else y[c, oh, ow, n]


@numba.njit(inline="always")
def _list_taps(kernel_shape, kernel_rows, base, rows, dh, step, plane, row_size, starts, listed):
    """List the taps (c, i, j) of every channel and of the kernel rows i in range(*kernel_rows) whose row of x,
    base + i * dh, lies in x's rows range(*rows): in ``starts`` where each one's slice of flat x begins (column j is
    j * step further along the row), in ``listed`` which of the (C_out, C, KH, KW) kernels' C * KH * KW taps it is.
    Returns how many."""
    _, channels, kh, kw = kernel_shape
    n = 0
    for c in range(channels):
        for i in range(kernel_rows[0], kernel_rows[1]):
            if rows[0] <= base + i * dh < rows[1]:
                for j in range(kw):
                    starts[n] = c * plane + (base + i * dh) * row_size + j * step
                    listed[n] = (c * kh + i) * kw + j
                    n += 1
    return n


@numba.njit(cache=True, nogil=True, fastmath=_SUMS)
def correlate(x, rows, w, dh, dw, out):
    """out (C_out, OH, OW, nb) = the stride-1 correlation of x (C, R, Q, nb) with w (C_out, C, KH, KW), C_out
    even, dilation (dh, dw); x holds the padded input: R >= OH + (KH - 1) * dh, Q >= OW + (KW - 1) * dw, zero
    outside its rows range(*rows) (those taps are skipped). An output row's taps, (c, i, j) for each row i that
    lies in range, are listed first and then taken eight (or four) at a time, whichever channel and kernel row each
    comes from: a kernel row of 5 or 7 taps would leave taps to passes of their own, which load and store the
    output row for two multiply-adds a value. Eight rather than four taps a pass halve those loads and stores per
    multiply-add: on the 2-core Xeon guest, one thread, 64 lanes, LeNet's 6 -> 16 layer 70 -> 77 GF/s and its
    3 -> 6 layer 59 -> 76; four rather than one had taken the first from 91 to 107 GF/s on the 2-core EPYC. Its
    16 kernel values and 8 slices take 24 vector registers, which AVX-512 has (32), and AVX2 has not (16): on a
    Zen 3 EPYC (AVX2), one thread, LeNet's 3 -> 6, 6 -> 16 and 16 -> 6 layers ran at 46, 38 and 38 GF/s with eight
    taps and 55, 46 and 47 with four (21 lanes, a chunk of LeNet's batch of 128), 45, 51 and 52 against 52, 67 and
    61 (64 lanes); compiled for AVX2 on the Xeon, 61 and 71, 63 and 68, 75 and 65. So four with AVX2
    (``TAPS_PER_PASS``); with eight, four more where at least four are left."""
    out_channels, channels, kh, kw = w.shape
    images = x.shape[3]
    length, step = out.shape[2] * images, dw * images  # an output row's values; one tap further along it
    row_size = x.shape[2] * images
    plane = x.shape[1] * row_size  # one channel of x
    x_flat = x.reshape(-1)
    taps = w.reshape(out_channels, channels * kh * kw)
    y = out.reshape(out_channels, out.shape[1], length)
    starts = np.empty(channels * kh * kw, np.int64)  # where each listed tap's slice of x begins
    listed = np.empty(channels * kh * kw, np.int64)  # and which of w's taps it is
    for oh in range(y.shape[1]):
        n = _list_taps(w.shape, (0, kh), oh, rows, dh, step, plane, row_size, starts, listed)
        for co in range(0, out_channels, 2):
            y0, y1 = y[co, oh], y[co + 1, oh]
            y0[:] = 0
            y1[:] = 0
            t = 0
            while TAPS_PER_PASS == 8 and t + 8 <= n:  # eight taps: Y0 += a . x_t..t+7, Y1 += b . x_t..t+7
                k0, k1, k2, k3 = listed[t], listed[t + 1], listed[t + 2], listed[t + 3]
                k4, k5, k6, k7 = listed[t + 4], listed[t + 5], listed[t + 6], listed[t + 7]
                a0, a1, a2, a3 = taps[co, k0], taps[co, k1], taps[co, k2], taps[co, k3]
                a4, a5, a6, a7 = taps[co, k4], taps[co, k5], taps[co, k6], taps[co, k7]
                b0, b1, b2, b3 = taps[co + 1, k0], taps[co + 1, k1], taps[co + 1, k2], taps[co + 1, k3]
                b4, b5, b6, b7 = taps[co + 1, k4], taps[co + 1, k5], taps[co + 1, k6], taps[co + 1, k7]
                x0, x1 = x_flat[starts[t]:starts[t] + length], x_flat[starts[t + 1]:starts[t + 1] + length]
                x2, x3 = x_flat[starts[t + 2]:starts[t + 2] + length], x_flat[starts[t + 3]:starts[t + 3] + length]
                x4, x5 = x_flat[starts[t + 4]:starts[t + 4] + length], x_flat[starts[t + 5]:starts[t + 5] + length]
                x6, x7 = x_flat[starts[t + 6]:starts[t + 6] + length], x_flat[starts[t + 7]:starts[t + 7] + length]
                for p in range(length):  # loaded once: y0 might alias x as far as LLVM knows
                    v0, v1, v2, v3, v4, v5, v6, v7 = x0[p], x1[p], x2[p], x3[p], x4[p], x5[p], x6[p], x7[p]
                    y0[p] += a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3 + a4 * v4 + a5 * v5 + a6 * v6 + a7 * v7
                    y1[p] += b0 * v0 + b1 * v1 + b2 * v2 + b3 * v3 + b4 * v4 + b5 * v5 + b6 * v6 + b7 * v7
                t += 8
            while t + 4 <= n:  # four taps
                k0, k1, k2, k3 = listed[t], listed[t + 1], listed[t + 2], listed[t + 3]
                a0, a1, a2, a3 = taps[co, k0], taps[co, k1], taps[co, k2], taps[co, k3]
                b0, b1, b2, b3 = taps[co + 1, k0], taps[co + 1, k1], taps[co + 1, k2], taps[co + 1, k3]
                x0, x1 = x_flat[starts[t]:starts[t] + length], x_flat[starts[t + 1]:starts[t + 1] + length]
                x2, x3 = x_flat[starts[t + 2]:starts[t + 2] + length], x_flat[starts[t + 3]:starts[t + 3] + length]
                for p in range(length):
                    v0, v1, v2, v3 = x0[p], x1[p], x2[p], x3[p]
                    y0[p] += a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3
                    y1[p] += b0 * v0 + b1 * v1 + b2 * v2 + b3 * v3
                t += 4
            for t in range(t, n):  # the taps left over, one at a time
                a0, b0 = taps[co, listed[t]], taps[co + 1, listed[t]]
                x0 = x_flat[starts[t]:starts[t] + length]
                for p in range(length):
                    v0 = x0[p]
                    y0[p] += a0 * v0
                    y1[p] += b0 * v0


@numba.njit(cache=True, nogil=True, fastmath=_SUMS)
def weight_gradient(x, rows, grad_y, start, out_h, out_w, dh, dw, grad_w):
    """grad_w (C_out, C, KH, KW) += the gradient of ``correlate``'s w, C_out even: the dot products of dY with the
    slices of x (C, R, Q, nb) that each tap read (none outside x's rows range(*rows)). grad_y (C_out, R', Q, nb) has
    x's row length: dY[co, oh, ow, n] is element start * nb + (oh * Q + ow) * nb + n of its channel, and the Q - OW
    columns after each dY row are zeros. Then a tap's sum over (oh, ow, n) is one dot product along both arrays'
    flat rows (the zeros cancel what it reads past OW), with one horizontal sum of the vector lanes at its end where
    a dot product per row had OH of them. On the 2-core EPYC, LeNet at batch 4 (4 lanes): its layers' forward and
    backward 0.29 -> 0.23 and 0.28 -> 0.19 ms, its training step 0.89 -> 0.73 ms. The kernel rows whose taps read
    the same dY rows (all of them without padding) list their taps together, taken four at a time, so that few are
    left to a pass of their own. Four, not ``correlate``'s eight: eight taps of two channels need 16 accumulators,
    which spill out of AVX2's 16 vector registers (compiled for Haswell, LeNet's 6 -> 16 layer 61 -> 33 GF/s),
    where AVX-512's 32 held them (58 -> 67 on the Xeon guest, LeNet's step within the noise)."""
    out_channels, channels, kh, kw = grad_w.shape
    images = x.shape[3]
    row = x.shape[2] * images  # one row of x and of dY, flat
    plane = x.shape[1] * row  # one channel of x
    first, stop = rows
    x_flat = x.reshape(-1)
    dy = grad_y.reshape(out_channels, -1)
    g = grad_w.reshape(out_channels, channels * kh * kw)
    starts = np.empty(channels * kh * kw, np.int64)  # where each listed tap's slice of x begins
    listed = np.empty(channels * kh * kw, np.int64)  # and which of w's taps it is
    i = 0
    while i < kh:
        low, high = max(0, first - i * dh), min(out_h, stop - i * dh)  # the dY rows whose tap row i lies in x's rows
        rows_end = i + 1  # the kernel rows i ... rows_end - 1 read the same dY rows
        while rows_end < kh and (max(0, first - rows_end * dh), min(out_h, stop - rows_end * dh)) == (low, high):
            rows_end += 1
        n = _list_taps(grad_w.shape, (i, rows_end), low, rows, dh, dw * images, plane, row, starts, listed) \
            if low < high else 0
        begin = start * images + low * row  # the first dY value, flat
        length = (high - 1 - low) * row + out_w * images  # up to the last dY row's last value
        for co in range(0, out_channels, 2):
            d0, d1 = dy[co, begin:begin + length], dy[co + 1, begin:begin + length]
            t = 0
            while t + 4 <= n:  # four taps of two output channels in one pass over dY
                k0, k1, k2, k3 = listed[t], listed[t + 1], listed[t + 2], listed[t + 3]
                s0, s1, s2, s3 = g[co, k0], g[co, k1], g[co, k2], g[co, k3]
                r0, r1, r2, r3 = g[co + 1, k0], g[co + 1, k1], g[co + 1, k2], g[co + 1, k3]
                x0, x1 = x_flat[starts[t]:starts[t] + length], x_flat[starts[t + 1]:starts[t + 1] + length]
                x2, x3 = x_flat[starts[t + 2]:starts[t + 2] + length], x_flat[starts[t + 3]:starts[t + 3] + length]
                for p in range(length):
                    e0, e1, v0, v1, v2, v3 = d0[p], d1[p], x0[p], x1[p], x2[p], x3[p]
                    s0 += e0 * v0
                    s1 += e0 * v1
                    s2 += e0 * v2
                    s3 += e0 * v3
                    r0 += e1 * v0
                    r1 += e1 * v1
                    r2 += e1 * v2
                    r3 += e1 * v3
                g[co, k0], g[co, k1], g[co, k2], g[co, k3] = s0, s1, s2, s3
                g[co + 1, k0], g[co + 1, k1], g[co + 1, k2], g[co + 1, k3] = r0, r1, r2, r3
                t += 4
            for t in range(t, n):
                k0 = listed[t]
                s0, r0 = g[co, k0], g[co + 1, k0]
                x0 = x_flat[starts[t]:starts[t] + length]
                for p in range(length):
                    v0 = x0[p]
                    s0 += d0[p] * v0
                    r0 += d1[p] * v0
                g[co, k0], g[co + 1, k0] = s0, r0
        i = rows_end


# ----------------------------------------------------------------------------- a chunk's whole pass, in one call
@numba.njit(inline="always")
def _rows_held(top, rows, height):
    """The range of the R = ``rows`` rows of lanes that hold an array of ``height`` rows laid out from row ``top``."""
    return max(0, top), min(rows, top + height)


@numba.njit(cache=True, nogil=True)
def forward_chunk(x, top, left, padded, weights, bias, dh, dw, out, lanes):
    """out (nb, OH, OW, C_out) = the correlation of the chunk x (nb, H, W, C) with ``weights`` (C_out rounded up to
    even, C, KH, KW), plus ``bias`` (C_out,) unless it is empty: x laid out in ``lanes`` (C, R, Q, nb) = ``padded``
    + (nb,), its pixel (h, w) at (top + h, left + w) (``to_lanes``), correlated, laid back."""
    to_lanes(x, top, left, lanes)
    y = np.empty((len(weights), out.shape[1], out.shape[2], len(x)), x.dtype)
    correlate(lanes, _rows_held(top, padded[1], x.shape[1]), weights, dh, dw, y)
    from_lanes(y, bias, out)


@numba.njit(cache=True, nogil=True)
def backward_chunk(x, grad_y, top, left, padded, flipped, grad_top, grad_left, grad_padded, dh, dw, x_lanes, have_lanes,
                   grad_x, need_x, grad_w):
    """The chunk's gradients of ``forward_chunk``: where ``need_x``, dx into grad_x (nb, H, W, C); where grad_w is
    not empty, dW added to it (C_out rounded up to even, C, KH, KW). dx = correlate(dY laid out with its pixel (oh,
    ow) at (grad_top + oh, grad_left + ow) in lanes of ``grad_padded``, ``flipped``: the kernels flipped, their
    channel axes swapped); dW = weight_gradient(x's lanes, in ``x_lanes``, laid out there first unless
    ``have_lanes``; dY laid out in rows as long as x's lanes'), which reads dY from dx's lanes where they hold it so
    (no padding cropped, an even channel count, rows as long)."""
    _, rows, columns = padded
    out_h, out_w, out_channels = grad_y.shape[1], grad_y.shape[2], grad_y.shape[3]
    images = len(x)
    if need_x:
        grad_lanes = np.empty(grad_padded + (images,), grad_y.dtype)
        to_lanes(grad_y, grad_top, grad_left, grad_lanes)
        grad_x_lanes = np.empty((len(flipped), grad_x.shape[1], grad_x.shape[2], images), grad_y.dtype)
        correlate(grad_lanes, _rows_held(grad_top, grad_padded[1], out_h), flipped, dh, dw, grad_x_lanes)
        from_lanes(grad_x_lanes, np.empty(0, grad_y.dtype), grad_x)
    if grad_w.size:
        if need_x and grad_top >= 0 and grad_left >= 0 and out_channels % 2 == 0 and grad_padded[2] == columns:
            dy_lanes, start = grad_lanes, grad_top * columns + grad_left  # where dY begins in them, in pixels
        else:
            dy_lanes, start = np.empty((len(grad_w), out_h, columns, images), grad_y.dtype), 0
            to_lanes(grad_y, 0, 0, dy_lanes)
        if not have_lanes:
            to_lanes(x, top, left, x_lanes)
        weight_gradient(x_lanes, _rows_held(top, rows, x.shape[1]), dy_lanes, start, out_h, out_w, dh, dw, grad_w)
