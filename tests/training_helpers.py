"""A tiny synthetic classification task shared by the Trainer, checkpoint and LR-finder tests."""
import numpy as np

import minitorch_cifar as mt
from minitorch_cifar import nn


def blobs(n=256, features=8, classes=4, spread=1.5, seed=0):
    """``n`` points around ``classes`` random centres: float32 (n, features) inputs and int64 labels."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((classes, features)) * spread
    labels = rng.integers(0, classes, n)
    points = centres[labels] + rng.standard_normal((n, features))
    return points.astype(np.float32), labels.astype(np.int64)


def mlp(features=8, classes=4, hidden=16, dropout=0.0):
    return nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, classes))


class ArrayLoader:
    """Batches of (inputs, labels) Tensors, reshuffled each epoch by its own seeded generator, with
    ``state_dict``/``load_state_dict`` for that generator (as ``data.DataLoader`` has)."""

    def __init__(self, inputs, labels, batch_size=32, shuffle=True, seed=0):
        self.inputs, self.labels, self.batch_size, self.shuffle = inputs, labels, batch_size, shuffle
        self.generator = np.random.default_rng(seed)

    def __len__(self):
        return -(-len(self.labels) // self.batch_size)

    def __iter__(self):
        order = self.generator.permutation(len(self.labels)) if self.shuffle else np.arange(len(self.labels))
        for start in range(0, len(order), self.batch_size):
            index = order[start:start + self.batch_size]
            yield mt.tensor(self.inputs[index]), mt.tensor(self.labels[index])

    def state_dict(self):
        return {"generator": self.generator.bit_generator.state}

    def load_state_dict(self, state):
        self.generator.bit_generator.state = state["generator"]
