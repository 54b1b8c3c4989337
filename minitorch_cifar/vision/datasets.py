"""``torchvision.datasets``: CIFAR-10 read by ``minitorch_cifar.data.CIFAR10``, its items passed through per-item
transforms."""
import numpy as np

from ..data import cifar
from ..data.dataset import Dataset

__all__ = ["CIFAR10"]


class CIFAR10(Dataset):
    """``dataset[i]`` is ``(transform(image), target_transform(label))``, as torchvision's ``CIFAR10``.

    The image is an (32, 32, 3) uint8 NumPy array, the pixels of torchvision's PIL image (every transform here
    takes either); the label an int. ``data`` is (N, 32, 32, 3) uint8 and ``targets`` a list of ints, as there;
    ``classes`` and ``class_to_idx`` name the labels. The files are found (or downloaded, with ``download``) as
    ``minitorch_cifar.data.CIFAR10`` finds them. Without ``transform`` and ``target_transform`` a DataLoader
    gathers whole batches of (N, 3, 32, 32) uint8 images on the device, ready for its whole-batch transforms.
    """

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        self.images = cifar.CIFAR10(root, train=train, download=download)  # the (N, 3, 32, 32) arrays
        self.root, self.train = self.images.root, train
        self.transform, self.target_transform = transform, target_transform
        self.data = self.images.data.transpose(0, 2, 3, 1)  # a view in torchvision's layout
        self.targets = self.images.targets.tolist()
        self.classes = list(self.images.classes)
        self.class_to_idx = {name: label for label, name in enumerate(self.classes)}

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        image, target = np.array(self.data[index]), self.targets[index]
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def stacked_arrays(self):
        if self.transform is not None or self.target_transform is not None:
            return None
        return self.images.stacked_arrays()

    def __repr__(self):
        return (f"Dataset CIFAR10\n    Number of datapoints: {len(self)}\n    Root location: {self.root}\n"
                f"    Split: {'Train' if self.train else 'Test'}\n    Transform: {self.transform!r}\n"
                f"    Target transform: {self.target_transform!r}")
