"""Write CIFAR-10 in its official layout (``cifar-10-batches-py/``) from an archive of the images as JPEG files.

The archive holds ``train/<class>/*.jpg`` and ``test/<class>/*.jpg`` (32x32 RGB). The batches written are those
of the official ``cifar-10-python.tar.gz`` in structure: pickled dicts with bytes keys, ``data`` as uint8 rows of
3072 values (the R, G and B planes), ``labels``, ``filenames``; the training images in five class-mixed batches
of 10,000. The folder appears whole or not at all (written beside it, then renamed). Needs Pillow.

    python benchmarks/cifar10_from_jpeg.py ARCHIVE OUT_DIR      # writes OUT_DIR/cifar-10-batches-py/
"""
import argparse
import io
import pickle
import shutil
import sys
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def read_split(archive):
    """{split: (uint8 rows (N, 3072), labels, filenames)} of every image, in the order of their names."""
    found = {"train": [], "test": []}
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            split, _, rest = member.name.partition("/")
            name = rest.split("/")[0]
            if not member.isfile() or split not in found or name not in CLASSES:
                continue
            image = Image.open(io.BytesIO(tar.extractfile(member).read())).convert("RGB")
            row = np.asarray(image, dtype=np.uint8).transpose(2, 0, 1).reshape(-1)
            found[split].append((member.name, row, CLASSES.index(name), f"{name}_{Path(member.name).stem}.png"))
    result = {}
    for split, items in found.items():
        if not items:
            raise ValueError(f"{archive}: no {split}/<class>/ images")
        items.sort(key=lambda item: item[0])
        result[split] = (np.stack([i[1] for i in items]), [i[2] for i in items], [i[3].encode() for i in items])
    return result


def write_batch(path, label, rows, labels, names):
    with open(path, "wb") as f:
        pickle.dump({b"batch_label": label.encode(), b"labels": labels, b"data": rows, b"filenames": names}, f,
                    protocol=4)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("archive", type=Path)
    parser.add_argument("out", type=Path, help="the folder to hold cifar-10-batches-py/")
    args = parser.parse_args()
    destination = args.out / "cifar-10-batches-py"
    if destination.exists():
        print(f"{destination} exists already")
        return 0
    splits = read_split(args.archive)
    partial = args.out / "cifar-10-batches-py.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    rows, labels, names = splits["train"]
    order = np.random.default_rng(0).permutation(len(labels))  # the official batches mix the classes
    for b, index in enumerate(np.array_split(order, 5)):
        write_batch(partial / f"data_batch_{b + 1}", f"training batch {b + 1} of 5", rows[index],
                    [labels[i] for i in index], [names[i] for i in index])
    write_batch(partial / "test_batch", "testing batch 1 of 1", *splits["test"])
    with open(partial / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [c.encode() for c in CLASSES], b"num_cases_per_batch": len(labels) // 5,
                     b"num_vis": 3072}, f, protocol=4)
    partial.rename(destination)
    print(f"wrote {destination} ({len(labels)} training and {len(splits['test'][1])} test images)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
