"""Time each fast convolution method on the stride-1 layers of the CIFAR-10 models, against PyTorch's conv.

For every distinct stride-1 layer of the chosen models (input and output channels, spatial size, kernel size and
padding), one forward + backward (input and weight gradients) at batch 128 (or --batch) in float32 of each method
that takes the layer (Winograd F(2x2,3x3) and F(4x4,3x3) on 3x3 kernels, F(2x2,5x5) and F(4x4,5x5) on 5x5; kernel
rows, direct and im2col on any), each forced whatever ``choose_method`` would pick, the weight transform included,
and of PyTorch's conv2d on the same arrays, all in one process, back to back; printed are the best-of times, each
method's ratio to PyTorch's and the method ``choose_method`` picks ("F(2,5)": F(2x2,5x5), "F(4,5)": F(4x4,5x5)).
With --accuracy, each method's float32 error (and PyTorch's) against the float64 convolution, on ReLU-like
activations and PyTorch's default weight init: the largest error of y, dx and dW over the largest magnitude of each.

    python benchmarks/bench_conv_methods.py [--models lenet cnn2 cnn3 alexnet resnet10 resnet9] [--threads 1 2]
                                            [--repeat 5] [--batch 128] [--accuracy]
"""
import argparse

import numpy as np
import torch

import minitorch_cifar as mt
from minitorch_cifar.kernels import conv_methods
from minitorch_cifar.kernels.im2col import ConvGeometry
from minitorch_cifar.ops import conv as conv_op
from common import best_of, set_threads

BATCH = 128
METHODS = {"F(2x2)": conv_methods.Winograd, "F(4x4)": conv_methods.Winograd4, "F(2,5)": conv_methods.Winograd25,
           "F(4,5)": conv_methods.Winograd45, "rows": conv_methods.KernelRows, "direct": conv_methods.Direct,
           "im2col": conv_methods.Im2col}


def layers_of(names):
    """The distinct stride-1 layers of the models, as (C_in, C_out, H, W, K, padding), in the order they first run."""
    found = {}
    choose = conv_op.choose_method

    def recording(x, weight, geometry):
        if geometry.stride == (1, 1) and geometry.kernel[0] == geometry.kernel[1] > 1 and geometry.groups == 1:
            layer = (x.shape[3], weight.shape[0]) + x.shape[1:3] + (geometry.kernel[0], geometry.padding[0])
            found.setdefault(layer, []).append(name)
        return choose(x, weight, geometry)

    conv_op.choose_method = recording
    try:
        for name in names:
            with mt.no_grad():
                mt.models.get_model(name)(mt.randn(1, 3, 32, 32))
    finally:
        conv_op.choose_method = choose
    return {layer: sorted(set(models)) for layer, models in found.items()}


def methods_for(layer):
    """The names of the methods that take the layer: each Winograd on its kernel size, the others on any."""
    return [name for name, method in METHODS.items()
            if not hasattr(method, "transform") or method.transform.r == layer[4]]


def arrays(layer, dtype, batch=BATCH, seed=0):
    """Channels-last x (ReLU-like), the kernels (PyTorch's default init) and dY for the layer."""
    c_in, c_out, h, w, k, _ = layer
    out_h, out_w = geometry(layer).output
    rng = np.random.default_rng(seed)
    x = np.maximum(rng.standard_normal((batch, h, w, c_in)), 0).astype(dtype)
    bound = 1 / np.sqrt(k * k * c_in)
    weight = rng.uniform(-bound, bound, (c_out, c_in, k, k)).astype(dtype)
    grad_y = rng.standard_normal((batch, out_h, out_w, c_out)).astype(dtype)
    return x, weight, grad_y


def geometry(layer):
    _, _, h, w, k, pad = layer
    return ConvGeometry((k, k), (1, 1), (pad, pad), (1, 1), 1, (h + 2 * pad - k + 1, w + 2 * pad - k + 1))


def ours(method, x, weight, grad_y, geometry):
    """y, dx, dW of one of our methods, channels last."""
    run = method(weight, geometry, x.shape)
    y = run.run_forward(x, None)
    grad_x, grad_w, _ = run.run_backward(x, grad_y, (True, True, False))
    return y, grad_x, grad_w


def theirs(x, weight, grad_y, padding):
    """y, dx, dW of PyTorch's conv2d, on NCHW tensors; returned channels last."""
    tx = torch.tensor(x.transpose(0, 3, 1, 2).copy(), requires_grad=True)
    tw = torch.tensor(weight, requires_grad=True)
    y = torch.nn.functional.conv2d(tx, tw, padding=padding)
    grad_x, grad_w = torch.autograd.grad(y, (tx, tw), torch.tensor(grad_y.transpose(0, 3, 1, 2).copy()))
    return y.detach().numpy().transpose(0, 2, 3, 1), grad_x.numpy().transpose(0, 2, 3, 1), grad_w.numpy()


def accuracy(layer):
    """Each method's (and PyTorch's) float32 error against the float64 convolution: max |error| / max |exact| of
    y, dx and dW."""
    x, weight, grad_y = arrays(layer, np.float32)
    exact = theirs(*(a.astype(np.float64) for a in (x, weight, grad_y)), layer[5])
    results = {name: ours(METHODS[name], x, weight, grad_y, geometry(layer)) for name in methods_for(layer)}
    results["torch"] = theirs(x, weight, grad_y, layer[5])
    return {name: [np.abs(r - e).max() / np.abs(e).max() for r, e in zip(result, exact)]
            for name, result in results.items()}


def timings(layer, repeat, batch):
    """Milliseconds of forward + backward of each method that takes the layer and of PyTorch's conv2d (NCHW, as in
    the models), PyTorch's last."""
    x, weight, grad_y = arrays(layer, np.float32, batch)
    steps = [lambda method=METHODS[name]: ours(method, x, weight, grad_y, geometry(layer))
             for name in methods_for(layer)]
    tx = torch.tensor(x.transpose(0, 3, 1, 2).copy(), requires_grad=True)
    tw = torch.tensor(weight, requires_grad=True)
    tgrad = torch.tensor(grad_y.transpose(0, 3, 1, 2).copy())

    def torch_step():
        torch.autograd.grad(torch.nn.functional.conv2d(tx, tw, padding=layer[5]), (tx, tw), tgrad)

    return best_of(steps + [torch_step], repeat, inner=1, warmup=1)


def name_of(layer):
    c_in, c_out, h, w, k, pad = layer
    return f"{k}x{k} {c_in}->{c_out} @{h}x{w}" + (f" p{pad}" if pad else "")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["lenet", "cnn2", "cnn3", "alexnet", "resnet10", "resnet9"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeat", type=int, default=5, help="timings per method; the best is printed")
    parser.add_argument("--batch", type=int, default=BATCH, help="images per forward + backward (timings)")
    parser.add_argument("--accuracy", action="store_true", help="float32 errors against float64, no timings")
    args = parser.parse_args()
    layers = layers_of(args.models)
    if args.accuracy:
        print("float32 error / largest magnitude, y dx dW; batch", BATCH)
        print(f"{'layer':<26}" + "".join(f"{name:>27}" for name in list(METHODS) + ["torch"]))
        for layer in layers:
            errors = accuracy(layer)
            print(f"{name_of(layer):<26}" + "".join(
                (" ".join(f"{e:8.1e}" for e in errors[name]) if name in errors else "-").rjust(27)
                for name in list(METHODS) + ["torch"]))
        return
    for threads in args.threads:
        print(set_threads(threads) + f"; batch {args.batch}")
        print(f"{'layer':<26}{'models':<24}" + "".join(f"{name + ' ms':>10}" for name in METHODS) +
              f"{'torch ms':>10}  ratios to torch" + " " * 18 + "chosen")
        for layer, models in layers.items():
            times = dict(zip(methods_for(layer) + ["torch"], timings(layer, args.repeat, args.batch)))
            x = np.zeros((args.batch,) + layer[2:4] + layer[:1], np.float32)
            weight = np.zeros(layer[1::-1] + layer[4:5] * 2, np.float32)
            chosen = conv_op.choose_method(x, weight, geometry(layer)).algorithm
            print(f"{name_of(layer):<26}{','.join(models):<24}" +
                  "".join(f"{times[name]:10.2f}" if name in times else f"{'-':>10}" for name in METHODS) +
                  f"{times['torch']:10.2f}  " +
                  " ".join(f"{times[name] / times['torch']:5.2f}" if name in times else f"{'-':>5}"
                           for name in METHODS) + f"   {chosen}", flush=True)

if __name__ == "__main__":
    main()
