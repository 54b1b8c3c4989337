"""CIFAR-10 from its official python-pickle files: found on disk, or downloaded and extracted safely.

The files are pickles, and a pickle is a program: loading one with plain ``pickle`` can run any code. They are
read here with an unpickler that can rebuild NumPy arrays and nothing else.
"""
import hashlib
import http.client
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.request
import zlib
from pathlib import Path, PurePosixPath

import numpy as np

from .dataset import ArrayDataset

ARCHIVE_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)
META_FILE = "batches.meta"
ROOT_ENV_VAR = "MINITORCH_CIFAR_DATA"
IMAGE_SHAPE = (3, 32, 32)
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


class DatasetError(RuntimeError):
    """CIFAR-10 cannot be found, fetched or read."""


class DatasetNotFoundError(DatasetError):
    """CIFAR-10 is not in ``root`` and could not be downloaded (``reason``). The message speaks Python (``root=``);
    ``explain(option)`` says the same in another caller's words (the command line's ``--data-dir DIR``)."""

    def __init__(self, root, reason):
        self.root, self.reason = root, reason
        super().__init__(self.explain("root=..."))

    def explain(self, option):
        """Where CIFAR-10 was looked for, why it is not there, and how to provide it, naming ``option``."""
        return (f"CIFAR-10 is not in {self.root} ({self.reason}). Put the official archive {ARCHIVE_NAME} (from "
                f"{ARCHIVE_URL}) in {self.root}, or an extracted {FOLDER}/ folder (torchvision's copy works); or "
                f"choose the folder that holds it with {option} or ${ROOT_ENV_VAR}.")


class CorruptDatasetError(DatasetError):
    """A CIFAR-10 file is truncated, corrupt, or not what it should be."""


class UnsafePickleError(CorruptDatasetError):
    """A pickle asked for something that CIFAR-10's files never hold (and that could run code)."""


class CIFAR10(ArrayDataset):
    """The CIFAR-10 training (50,000) or test (10,000) images, held in memory.

    ``data`` is uint8 (N, 3, 32, 32), ``targets`` int64 (N,), ``classes`` the ten class names; ``dataset[i]``
    is ``(image, label)``. The files are looked for in ``root/cifar-10-batches-py/`` (torchvision's layout, so
    its copy is reused); when missing, the official archive in ``root`` is extracted, downloading it first
    if it is not there and ``download`` is true. ``root`` defaults to $MINITORCH_CIFAR_DATA, else ./data.
    """

    def __init__(self, root=None, train=True, download=True):
        self.root = resolve_root(root)
        self.train = train
        self.folder = prepare(self.root, download)
        classes = read_classes(self.folder / META_FILE)
        batches = [read_batch(self.folder / name, len(classes)) for name in (TRAIN_FILES if train else TEST_FILES)]
        super().__init__(np.concatenate([images for images, _ in batches]),
                         np.concatenate([labels for _, labels in batches]), classes)

    def __repr__(self):
        split = "train" if self.train else "test"
        return f"CIFAR10(split={split!r}, images={len(self)}, folder='{self.folder}')"


def resolve_root(root=None):
    """The data folder: ``root`` if given, else $MINITORCH_CIFAR_DATA, else ./data."""
    return Path(root if root is not None else os.environ.get(ROOT_ENV_VAR) or "data").expanduser()


# ----------------------------------------------------------------------------- getting the files
def prepare(root, download=True):
    """The folder holding CIFAR-10's batch files under ``root``, extracting (and downloading) it if needed."""
    root = Path(root)
    if root.name == FOLDER and (root / META_FILE).is_file():  # root names the batch folder itself
        return root
    folder = root / FOLDER
    if folder.is_dir():
        return folder
    archive = root / ARCHIVE_NAME
    if archive.is_file():
        check_archive(archive)
    elif download:
        created = _missing_folders(root)
        root.mkdir(parents=True, exist_ok=True)
        try:
            download_file(ARCHIVE_URL, archive, ARCHIVE_MD5)
        except (OSError, http.client.HTTPException) as e:
            for folder in created:  # a mistyped path leaves nothing behind
                folder.rmdir()
            raise DatasetNotFoundError(root, f"downloading {ARCHIVE_URL} failed: {e}") from None
    else:
        raise DatasetNotFoundError(root, "download=False")
    extract_safely(archive, root)
    return folder


def _missing_folders(path):
    """The folders that making ``path`` would create, innermost first."""
    path = path.absolute()
    return [folder for folder in (path, *path.parents) if not folder.exists()]


def open_url(url):
    """The one place that touches the network (tests replace it)."""
    return urllib.request.urlopen(url, timeout=60)


def download_file(url, path, md5):
    """Fetch ``url`` into ``path`` with a progress bar, via a temporary file renamed once its MD5 checks out."""
    from tqdm.auto import tqdm

    path = Path(path)
    fd, part = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out, open_url(url) as response:
            size = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=size, unit="B", unit_scale=True, desc=f"downloading {path.name}") as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
        if (digest := md5_of(part)) != md5:
            raise CorruptDatasetError(f"the download of {url} has MD5 {digest}, expected {md5}: it was cut "
                                      f"short or altered; run again, or fetch the archive by hand into {path.parent}")
        os.replace(part, path)
    finally:
        Path(part).unlink(missing_ok=True)


def check_archive(path):
    """Refuse an archive whose MD5 is not the official one."""
    if (digest := md5_of(path)) != ARCHIVE_MD5:
        raise CorruptDatasetError(f"{path} has MD5 {digest}, expected {ARCHIVE_MD5}: it is incomplete or not the "
                                  f"official CIFAR-10 archive; delete it and run again")


def md5_of(path):
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def extract_safely(archive, root):
    """Extract the archive's cifar-10-batches-py/ into ``root``, refusing any member that could land elsewhere.

    Every member is checked before anything is written; the folder appears in ``root`` only once complete.
    """
    root = Path(root)
    staging = Path(tempfile.mkdtemp(prefix=".extracting-", dir=root))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member, staging, archive)
            data_filter = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # Python >= 3.10.12
            tar.extractall(staging, members=members, **data_filter)
        if not (staging / FOLDER).is_dir():
            raise CorruptDatasetError(f"{archive} holds no {FOLDER}/ folder: it is not the CIFAR-10 python archive")
        os.replace(staging / FOLDER, root / FOLDER)
    except (tarfile.TarError, EOFError, zlib.error) as e:
        raise CorruptDatasetError(f"{archive} cannot be extracted ({e}); delete it and try again") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _check_member(member, destination, archive):
    """Only plain files and folders with relative paths that stay inside ``destination`` are allowed."""
    name = PurePosixPath(member.name)
    problem = ("is a link or a special file" if not (member.isfile() or member.isdir()) else
               "has an absolute path" if name.is_absolute() or ":" in member.name or "\\" in member.name else
               "climbs out with '..'" if ".." in name.parts else
               "lands outside the folder" if not (destination / name).resolve().is_relative_to(destination.resolve())
               else None)
    if problem:
        raise CorruptDatasetError(f"{archive}: refusing to extract member {member.name!r}, which {problem}")


# ----------------------------------------------------------------------------- reading the files
def _array_rebuilders():
    """What this NumPy's pickles call to rebuild an array: ``_reconstruct`` (protocols 2-4), ``_frombuffer`` (5)."""
    sample = np.zeros(1, np.uint8)
    return sample.__reduce__()[0], sample.__reduce_ex__(5)[0]


_reconstruct, _frombuffer = _array_rebuilders()
# Every global CIFAR-10's files (and re-saves of them by newer NumPy) name, under their old and new module names.
SAFE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, numbers, strings and NumPy arrays; refuses every other global by name."""

    def __init__(self, file, path):
        # latin1 turns Python 2's byte strings (the official files) into str, the way NumPy expects them.
        super().__init__(file, encoding="latin1")
        self.path = path

    def find_class(self, module, name):
        if (module, name) in SAFE_GLOBALS:
            return SAFE_GLOBALS[(module, name)]
        raise UnsafePickleError(f"{self.path}: refusing to load the global {module}.{name}: CIFAR-10 files hold only "
                                f"NumPy arrays, lists and strings, and a pickle naming anything else could run code; "
                                f"delete the file and get CIFAR-10 again")


def load_pickle(path):
    """The dict in a CIFAR-10 pickle file, with str keys (protocol-2 files from Python 2 and newer ones alike)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            record = RestrictedUnpickler(f, path).load()
    except UnsafePickleError:
        raise
    except FileNotFoundError:
        raise CorruptDatasetError(f"{path} is missing: the folder {path.parent} is incomplete; delete it and run "
                                  f"again to extract or download CIFAR-10 afresh") from None
    except Exception as e:  # truncated or garbled files fail in many ways (EOFError, UnpicklingError, ValueError...)
        raise _corrupt(path, f"cannot be unpickled ({type(e).__name__}: {e})") from None
    if not isinstance(record, dict):
        raise _corrupt(path, f"holds a {type(record).__name__}, expected a dict")
    return {key.decode("latin1") if isinstance(key, bytes) else key: value for key, value in record.items()}


def read_classes(path):
    """The class names in batches.meta."""
    names = load_pickle(path).get("label_names")
    if not isinstance(names, list) or len(names) < 2 or not all(isinstance(n, (str, bytes)) and n for n in names):
        raise _corrupt(path, f"'label_names' should be a list of class names, got {names!r:.80}")
    return [n.decode("latin1") if isinstance(n, bytes) else n for n in names]


def read_batch(path, num_classes):
    """One batch file's images, uint8 (N, 3, 32, 32), and labels, int64 (N,), checked."""
    record = load_pickle(path)
    data, labels = record.get("data"), record.get("labels")
    pixels = int(np.prod(IMAGE_SHAPE))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != pixels:
        found = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else repr(type(data))
        raise _corrupt(path, f"'data' should be a uint8 array of shape (N, {pixels}), got {found}")
    labels = _integer_list(labels)
    if labels is None or len(labels) != len(data):
        raise _corrupt(path, f"'labels' should be a list of {len(data)} integers")
    if len(labels) and not 0 <= labels.min() <= labels.max() < num_classes:
        raise _corrupt(path, f"labels range over {labels.min()}..{labels.max()}, outside 0..{num_classes - 1}")
    return data.reshape(-1, *IMAGE_SHAPE), labels.astype(np.int64)


def _integer_list(values):
    """``values`` as a 1-d integer array, or None when they are not a flat list of integers."""
    try:
        values = np.asarray(values)
    except (ValueError, TypeError):
        return None
    return values if values.ndim == 1 and values.dtype.kind in "iu" else None


def _corrupt(path, problem):
    return CorruptDatasetError(f"{path} {problem}: the file is corrupt or not a CIFAR-10 batch; "
                               f"delete {Path(path).parent} and run again to extract or download it afresh")
