"""A tiny CIFAR-10 look-alike on disk, in the official file format, whose classes a small model learns quickly.

For tests and for examples' ``--quick`` mode: ``CIFAR10(root=write_fake_cifar10(tmp_path))`` reads it like the
real thing.
"""
import io
import os
import pickle
import struct
import tempfile
from pathlib import Path

import numpy as np

from .cifar import CLASSES, FOLDER, IMAGE_SHAPE, META_FILE, TEST_FILES, TRAIN_FILES


def write_fake_cifar10(root, train_per_class=20, test_per_class=10, seed=0):
    """Write ``root/cifar-10-batches-py/`` (5 data batches, test_batch, batches.meta); returns ``root``.

    Each class has its own colour cast and its own stripe pattern (frequency and direction), under strong pixel
    noise: a linear model separates the classes within a few epochs, and the colour cue survives random crops
    and flips.
    """
    if train_per_class < 1 or test_per_class < 1:
        raise ValueError(f"need at least one image per class, got train_per_class={train_per_class}, "
                         f"test_per_class={test_per_class}")
    rng = np.random.default_rng(seed)
    templates = _class_templates(rng)
    folder = Path(root) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    train_images, train_labels = _sample(templates, train_per_class, rng)
    for number, (name, index) in enumerate(zip(TRAIN_FILES, np.array_split(np.arange(len(train_labels)), 5)), 1):
        _write_batch(folder / name, f"training batch {number} of 5", train_images[index], train_labels[index])
    test_images, test_labels = _sample(templates, test_per_class, rng)
    _write_batch(folder / TEST_FILES[0], "testing batch 1 of 1", test_images, test_labels)
    meta = {b"label_names": [c.encode() for c in CLASSES], b"num_cases_per_batch": len(train_labels) // 5,
            b"num_vis": int(np.prod(IMAGE_SHAPE))}
    _write_atomically(folder / META_FILE, _python2_pickle(meta))
    return Path(root)


def _class_templates(rng):
    """Per class, a float (3, 32, 32) offset from mid-grey: a colour cast plus a stripe pattern."""
    _, height, width = IMAGE_SHAPE
    y, x = np.mgrid[0:height, 0:width] / height
    templates = []
    for k in range(len(CLASSES)):
        colour = rng.uniform(-50, 50, size=(3, 1, 1))
        angle, frequency = np.pi * k / len(CLASSES), 2 + k % 3
        stripes = np.sin(2 * np.pi * frequency * (x * np.cos(angle) + y * np.sin(angle)))
        templates.append(colour + 35 * stripes * rng.choice([-1, 1], size=(3, 1, 1)))
    return np.stack(templates)


def _sample(templates, per_class, rng):
    """``per_class`` noisy images of every class, in random order: uint8 rows of 3072 pixels and int labels."""
    labels = rng.permutation(np.repeat(np.arange(len(templates)), per_class))
    images = 128 + templates[labels] + rng.normal(0, 40, size=(len(labels), *IMAGE_SHAPE))
    return np.clip(np.rint(images), 0, 255).astype(np.uint8).reshape(len(labels), -1), labels


def _write_batch(path, batch_label, images, labels):
    record = {b"batch_label": batch_label.encode(), b"labels": [int(v) for v in labels], b"data": images,
              b"filenames": [f"fake_{path.name}_{i}.png".encode() for i in range(len(labels))]}
    _write_atomically(path, _python2_pickle(record))


class _Python2Pickler(pickle._Pickler):
    """Protocol 2 as Python 2 wrote it for the official files: bytes become Python 2 strings (BINSTRING)."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_bytes_as_python2_string(self, data):
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(data)

    dispatch[bytes] = save_bytes_as_python2_string


def _python2_pickle(obj):
    buffer = io.BytesIO()
    _Python2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def _write_atomically(path, content):
    fd, temporary = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
