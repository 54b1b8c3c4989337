"""Time each fast convolution method on the 3x3 stride-1 layers of the CIFAR-10 models, against PyTorch's conv.

For every distinct 3x3 stride-1 layer of the chosen models (input channels, output channels, spatial size),
one forward + backward (input and weight gradients) at batch 128 in float32 of Winograd F(2x2,3x3), Winograd
F(4x4,3x3) and im2col (each forced, whatever ``choose_method`` would pick, the weight transform included) and of
PyTorch's conv2d on the same arrays, all in one process, back to back; printed are the best-of times, each
method's ratio to PyTorch's and the method ``choose_method`` picks. With --accuracy, each method's float32 error
(and PyTorch's) against the float64 convolution, on ReLU-like activations and PyTorch's default weight init:
the largest error of y, dx and dW over the largest magnitude of each.

    python benchmarks/bench_conv_methods.py [--models cnn2 cnn3 alexnet resnet10 resnet9] [--threads 1 2]
                                            [--repeat 5] [--accuracy]
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
METHODS = {"F(2x2)": conv_methods.Winograd, "F(4x4)": conv_methods.Winograd4, "im2col": conv_methods.Im2col}


def layers_of(names):
    """The distinct 3x3 stride-1 layers of the models, as (C_in, C_out, H, W), in the order they first run."""
    found = {}
    choose = conv_op.choose_method

    def recording(x, weight, geometry):
        if geometry.kernel == (3, 3) and geometry.stride == (1, 1) and x.shape[3] > 3:
            found.setdefault((x.shape[3], weight.shape[0]) + x.shape[1:3], []).append(name)
        return choose(x, weight, geometry)

    conv_op.choose_method = recording
    try:
        for name in names:
            with mt.no_grad():
                mt.models.get_model(name)(mt.randn(1, 3, 32, 32))
    finally:
        conv_op.choose_method = choose
    return {layer: sorted(set(models)) for layer, models in found.items()}


def arrays(layer, dtype, seed=0):
    """Channels-last x (ReLU-like), the kernels (PyTorch's default init) and dY for the layer."""
    c_in, c_out, h, w = layer
    rng = np.random.default_rng(seed)
    x = np.maximum(rng.standard_normal((BATCH, h, w, c_in)), 0).astype(dtype)
    bound = 1 / np.sqrt(9 * c_in)
    weight = rng.uniform(-bound, bound, (c_out, c_in, 3, 3)).astype(dtype)
    grad_y = rng.standard_normal((BATCH, h, w, c_out)).astype(dtype)
    return x, weight, grad_y


def geometry(layer):
    return ConvGeometry((3, 3), (1, 1), (1, 1), (1, 1), 1, layer[2:])


def ours(method, x, weight, grad_y, geometry):
    """y, dx, dW of one of our methods, channels last."""
    run = method(weight, geometry, x.shape)
    y = run.run_forward(x, None)
    grad_x, grad_w, _ = run.run_backward(x, grad_y, (True, True, False))
    return y, grad_x, grad_w


def theirs(x, weight, grad_y):
    """y, dx, dW of PyTorch's conv2d, on NCHW tensors; returned channels last."""
    tx = torch.tensor(x.transpose(0, 3, 1, 2).copy(), requires_grad=True)
    tw = torch.tensor(weight, requires_grad=True)
    y = torch.nn.functional.conv2d(tx, tw, padding=1)
    grad_x, grad_w = torch.autograd.grad(y, (tx, tw), torch.tensor(grad_y.transpose(0, 3, 1, 2).copy()))
    return y.detach().numpy().transpose(0, 2, 3, 1), grad_x.numpy().transpose(0, 2, 3, 1), grad_w.numpy()


def accuracy(layer):
    """Each method's (and PyTorch's) float32 error against the float64 convolution: max |error| / max |exact| of
    y, dx and dW."""
    x, weight, grad_y = arrays(layer, np.float32)
    exact = theirs(*(a.astype(np.float64) for a in (x, weight, grad_y)))
    results = {name: ours(method, x, weight, grad_y, geometry(layer)) for name, method in METHODS.items()}
    results["torch"] = theirs(x, weight, grad_y)
    return {name: [np.abs(r - e).max() / np.abs(e).max() for r, e in zip(result, exact)]
            for name, result in results.items()}


def timings(layer, repeat):
    """Milliseconds of forward + backward of each method and of PyTorch's conv2d (NCHW, as in the models)."""
    x, weight, grad_y = arrays(layer, np.float32)
    steps = [lambda method=method: ours(method, x, weight, grad_y, geometry(layer)) for method in METHODS.values()]
    tx = torch.tensor(x.transpose(0, 3, 1, 2).copy(), requires_grad=True)
    tw = torch.tensor(weight, requires_grad=True)
    tgrad = torch.tensor(grad_y.transpose(0, 3, 1, 2).copy())

    def torch_step():
        torch.autograd.grad(torch.nn.functional.conv2d(tx, tw, padding=1), (tx, tw), tgrad)

    return best_of(steps + [torch_step], repeat, inner=1, warmup=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["cnn2", "cnn3", "alexnet", "resnet10", "resnet9"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeat", type=int, default=5, help="timings per method; the best is printed")
    parser.add_argument("--accuracy", action="store_true", help="float32 errors against float64, no timings")
    args = parser.parse_args()
    layers = layers_of(args.models)
    if args.accuracy:
        print("float32 error / largest magnitude, y dx dW; batch", BATCH)
        print(f"{'layer':<22}" + "".join(f"{name:>27}" for name in list(METHODS) + ["torch"]))
        for layer in layers:
            errors = accuracy(layer)
            print(f"{'%d->%d @%dx%d' % layer:<22}" + "".join(" ".join(f"{e:8.1e}" for e in errors[name]).rjust(27)
                                                             for name in errors))
        return
    for threads in args.threads:
        print(set_threads(threads))
        print(f"{'layer':<16}{'models':<28}" + "".join(f"{name + ' ms':>11}" for name in METHODS) +
              f"{'torch ms':>10}  ratios to torch" + " " * 12 + "chosen")
        for layer, models in layers.items():
            times = timings(layer, args.repeat)
            c_in, c_out, h, w = layer
            x, weight = np.zeros((1, h, w, c_in), np.float32), np.zeros((c_out, c_in, 3, 3), np.float32)
            chosen = conv_op.choose_method(x, weight, geometry(layer)).algorithm
            print(f"{'%d->%d @%dx%d' % layer:<16}{','.join(models):<28}" + "".join(f"{t:11.1f}" for t in times) +
                  "  " + " ".join(f"{t / times[-1]:5.2f}" for t in times[:-1]) + f"   {chosen}", flush=True)


if __name__ == "__main__":
    main()
