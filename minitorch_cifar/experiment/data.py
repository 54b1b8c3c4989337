"""The images and loaders of a run: CIFAR-10 cut as a ``RunConfig`` says, with its transforms."""
import dataclasses
from pathlib import Path

import numpy as np

from ..data import CIFAR10, ArrayDataset, DataLoader, train_val_split, transforms
from .config import NORMALIZATIONS, ConfigError

TEST_SUBSET_SEED = 0  # test_subset draws the same images whatever the run's seed, so runs compare


@dataclasses.dataclass
class Datasets:
    """The images of a run: ``train`` (None when only testing), ``val`` (None without val_split), ``test``;
    ``classes`` names the labels; ``folder`` is where they were read from."""
    train: ArrayDataset | None
    val: ArrayDataset | None
    test: ArrayDataset
    classes: list
    folder: str


def load_data(config, train=True):
    """Read CIFAR-10 from ``config.data_dir`` and cut it as the config says: the first ``train_subset`` training
    images, of which ``val_split`` are held out (drawn with the run's seed), and ``test_subset`` test images
    (drawn with a fixed seed). ``train=False`` reads the test images alone."""
    test = CIFAR10(config.data_dir, train=False, download=config.download)
    folder, classes = str(Path(test.folder).resolve()), test.classes
    if config.test_subset is not None:
        _check_count(config, "test_subset", len(test), f"test images in {folder}")
        test = _subset(test, np.sort(np.random.default_rng(TEST_SUBSET_SEED).permutation(len(test))
                                     [:config.test_subset]))
    if not train:
        return Datasets(None, None, test, classes, folder)
    train_set = CIFAR10(config.data_dir, train=True, download=config.download)
    if config.train_subset is not None:
        _check_count(config, "train_subset", len(train_set), f"training images in {folder}")
        train_set = _subset(train_set, np.arange(config.train_subset))
    val = None
    if config.val_split:
        size = int(config.val_split) if config.val_split >= 1 else float(config.val_split)
        try:
            train_set, val = train_val_split(train_set, size, seed=config.seed)
        except ValueError as e:
            raise ConfigError(f"val_split={config.val_split!r}: {e}") from None
    return Datasets(train_set, val, test, classes, folder)


def _check_count(config, field, available, what):
    if getattr(config, field) > available:
        raise ConfigError(f"{field}={getattr(config, field)}: there are only {available} {what}")


def _subset(dataset, index):
    return ArrayDataset(dataset.data[index], dataset.targets[index], dataset.classes)


@dataclasses.dataclass
class Loaders:
    """``train`` (shuffled, augmented; None when only testing), ``val`` (the per-epoch validation: the held-out
    split, else the test loader itself, None when ``validate`` is off) and ``test``."""
    train: DataLoader | None
    val: DataLoader | None
    test: DataLoader


def build_transforms(config):
    """(training transform, evaluation transform): [random crop + flip] -> normalise -> [cutout], and normalise.
    Cropping and flipping work on the uint8 images; cutout zeroes normalised pixels (the mean colour), as in
    the DAWNBench recipe."""
    statistics = NORMALIZATIONS[config.normalize]
    scale = transforms.Normalize(*statistics) if statistics else transforms.ToFloat()
    augment = [transforms.RandomCrop(32, padding=config.crop_padding, padding_mode=config.padding_mode),
               transforms.RandomHorizontalFlip()] if config.augment else []
    cutout = [transforms.Cutout(config.cutout)] if config.cutout else []
    return transforms.Compose([*augment, scale, *cutout]), scale


def build_loaders(config, data):
    """The DataLoaders of ``data`` on ``config.device``; the training loader's shuffling and augmentation draw
    from its own generator seeded with ``config.seed``."""
    if data.train is not None and config.drop_last and len(data.train) < config.batch_size:
        raise ConfigError(f"drop_last=True: batches of {config.batch_size} leave none of the {len(data.train)} "
                          f"training images; lower batch_size or keep the last batch")
    train = None if data.train is None else DataLoader(
        data.train, batch_size=config.batch_size, shuffle=True, drop_last=config.drop_last,
        transform=build_transforms(config)[0], device=config.device, seed=config.seed)
    test = evaluation_loader(config, data.test)
    val = None if not config.validate else test if data.val is None else evaluation_loader(config, data.val)
    return Loaders(train, val, test)


def evaluation_loader(config, dataset):
    """The images of ``dataset`` in order, in batches of ``eval_batch_size``, normalised and not augmented."""
    return DataLoader(dataset, batch_size=config.eval_batch_size, transform=build_transforms(config)[1],
                      device=config.device)
