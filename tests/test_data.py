"""CIFAR-10 files (reading, refusing unsafe or broken ones, finding, downloading, extracting), the synthetic
stand-in, the train/validation split and the DataLoader. The network is never touched: the one function
that would reach it is replaced."""
import hashlib
import io
import os
import pickle
import re
import tarfile
import urllib.error

import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import backend
from minitorch_cifar.data import (CIFAR10, ArrayDataset, CorruptDatasetError, DataLoader, DatasetNotFoundError,
                                  TensorDataset, UnsafePickleError, cifar, train_val_split, transforms,
                                  write_fake_cifar10)

TRAIN_PER_CLASS, TEST_PER_CLASS = 6, 3


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    """A synthetic CIFAR-10 written once for the module; tests that change files copy it first."""
    return write_fake_cifar10(tmp_path_factory.mktemp("fake"), TRAIN_PER_CLASS, TEST_PER_CLASS, seed=0)


@pytest.fixture
def fake_archive(tmp_path_factory, fake_root):
    """The synthetic folder as a cifar-10-python.tar.gz; returns (bytes, md5)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(fake_root / cifar.FOLDER, arcname=cifar.FOLDER)
    content = buffer.getvalue()
    return content, hashlib.md5(content).hexdigest()


@pytest.fixture
def no_network(monkeypatch):
    """Downloading fails as it does offline; returns the list of URLs that were tried."""
    tried = []

    def offline(url):
        tried.append(url)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(cifar, "open_url", offline)
    return tried


def serve(monkeypatch, content):
    """Downloading returns ``content``, as an HTTP response would."""
    class Response(io.BytesIO):
        headers = {"Content-Length": str(len(content))}

    monkeypatch.setattr(cifar, "open_url", lambda url: Response(content))


def copy_folder(fake_root, tmp_path):
    destination = tmp_path / cifar.FOLDER
    destination.mkdir()
    for f in (fake_root / cifar.FOLDER).iterdir():
        (destination / f.name).write_bytes(f.read_bytes())
    return destination


def write_batch(path, record, protocol):
    with open(path, "wb") as f:
        pickle.dump(record, f, protocol=protocol)


def batch_record(data, labels):
    """A batch dict as newer tools (e.g. cifar10_from_jpeg.py) write it: bytes keys."""
    return {b"batch_label": b"x", b"labels": list(labels), b"data": data, b"filenames": [b"f"] * len(labels)}


# ---------------------------------------------------------------------- reading the files
def test_reads_train_and_test_splits(fake_root):
    train, test = CIFAR10(fake_root, train=True), CIFAR10(fake_root, train=False)
    assert train.data.shape == (10 * TRAIN_PER_CLASS, 3, 32, 32) and train.data.dtype == np.uint8
    assert test.data.shape == (10 * TEST_PER_CLASS, 3, 32, 32)
    assert train.targets.dtype == np.int64 and len(train) == 10 * TRAIN_PER_CLASS
    assert np.bincount(train.targets).tolist() == [TRAIN_PER_CLASS] * 10
    assert np.bincount(test.targets).tolist() == [TEST_PER_CLASS] * 10
    assert train.classes == list(cifar.CLASSES)
    image, label = train[7]
    np.testing.assert_array_equal(image, train.data[7])
    assert label == train.targets[7] and isinstance(label, int)


def test_rows_become_rgb_planes_in_file_order(tmp_path, fake_root):
    """A row of 3072 bytes is the red, then green, then blue 32x32 plane; batches concatenate in order."""
    folder = copy_folder(fake_root, tmp_path)
    rows = np.arange(5 * 3072, dtype=np.int64).reshape(5, 3072) % 251
    for number, name in enumerate(cifar.TRAIN_FILES):
        write_batch(folder / name, batch_record(rows.astype(np.uint8) + number, [number] * 5), protocol=4)
    train = CIFAR10(tmp_path)
    assert train.targets.tolist() == sorted([0, 1, 2, 3, 4] * 5)
    np.testing.assert_array_equal(train.data[10, 1, 2, 3], (3072 * 0 + 1024 + 2 * 32 + 3) % 251 + 2)
    np.testing.assert_array_equal(train.data[:5].reshape(5, -1), rows % 251)


@pytest.mark.parametrize("protocol, keys", [(4, bytes), (4, str), (5, bytes)])
def test_loads_newer_pickles_with_bytes_or_str_keys(tmp_path, fake_root, protocol, keys):
    """Files re-saved by Python 3 and NumPy 2 (cifar10_from_jpeg.py writes protocol 4 with bytes keys)."""
    folder = copy_folder(fake_root, tmp_path)
    data = np.random.default_rng(protocol).integers(0, 256, (4, 3072), dtype=np.uint8)
    record = batch_record(data, [1, 2, 3, 9])
    if keys is str:
        record = {key.decode(): value for key, value in record.items()}
    write_batch(folder / "test_batch", record, protocol)
    test = CIFAR10(tmp_path, train=False)
    np.testing.assert_array_equal(test.data.reshape(4, -1), data)
    assert test.targets.tolist() == [1, 2, 3, 9]


def test_synthetic_files_are_python2_style_protocol_2(fake_root):
    """Like the official files: protocol 2, byte strings stored as Python 2 strings, no other globals."""
    raw = (fake_root / cifar.FOLDER / "data_batch_1").read_bytes()
    assert raw[:2] == b"\x80\x02"
    assert b"_codecs" not in raw and b"cnumpy._core.multiarray\n_reconstruct\n" in raw


def test_accepts_numpy_1_module_names(tmp_path, fake_root):
    """The official files name numpy.core.multiarray (NumPy 1); NumPy 2 renamed it numpy._core."""
    folder = copy_folder(fake_root, tmp_path)
    path = folder / "test_batch"
    path.write_bytes(path.read_bytes().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n"))
    assert b"numpy.core.multiarray" in path.read_bytes()
    np.testing.assert_array_equal(CIFAR10(tmp_path, train=False).data, CIFAR10(fake_root, train=False).data)


class RunsCode:
    """Unpickling this calls ``function(*arguments)``: what a malicious pickle does."""

    def __init__(self, function, *arguments):
        self.function, self.arguments = function, arguments

    def __reduce__(self):
        return self.function, self.arguments


@pytest.mark.parametrize("function, global_name", [(os.system, "system"), (eval, "eval"), (np.load, "numpy.load")])
@pytest.mark.parametrize("protocol", [2, 4])
def test_refuses_a_pickle_that_would_run_code(tmp_path, fake_root, function, global_name, protocol):
    folder = copy_folder(fake_root, tmp_path)
    marker = tmp_path / "ran"
    argument = {os.system: f"touch {marker}", eval: f"open({str(marker)!r}, 'w')", np.load: str(marker)}[function]
    record = {"labels": [RunsCode(function, argument)], "data": np.zeros((1, 3072), np.uint8)}
    write_batch(folder / "test_batch", record, protocol)
    with pytest.raises(UnsafePickleError, match="refusing to load the global") as error:
        CIFAR10(tmp_path, train=False)
    assert str(folder / "test_batch") in str(error.value)
    assert re.search(rf"global [\w.]*\b{global_name}:", str(error.value))  # e.g. posix.system, __builtin__.eval
    assert not marker.exists()


@pytest.mark.parametrize("damage, message", [
    (lambda raw: raw[:len(raw) // 2], "cannot be unpickled"),                    # truncated
    (lambda raw: raw[:40] + bytes(range(256)) * 4, "cannot be unpickled"),       # garbled
    (lambda raw: b"", "cannot be unpickled"),                                    # empty
    (lambda raw: pickle.dumps([1, 2, 3], protocol=2), "holds a list"),
    (lambda raw: pickle.dumps({b"labels": [0]}, protocol=4), "'data' should be a uint8 array"),
    (lambda raw: pickle.dumps(batch_record(np.zeros((2, 1000), np.uint8), [0, 1]), protocol=4), r"\(N, 3072\)"),
    (lambda raw: pickle.dumps(batch_record(np.zeros((2, 3072), np.float32), [0, 1]), protocol=4), "float32"),
    (lambda raw: pickle.dumps(batch_record(np.zeros((2, 3072), np.uint8), [0]), protocol=4), "list of 2 integers"),
    (lambda raw: pickle.dumps(batch_record(np.zeros((2, 3072), np.uint8), [0, 10]), protocol=4), r"0\.\.10"),
    (lambda raw: pickle.dumps(batch_record(np.zeros((2, 3072), np.uint8), [-1, 3]), protocol=4), r"-1\.\.3"),
    (lambda raw: pickle.dumps(batch_record(np.zeros((2, 3072), np.uint8), ["a", "b"]), protocol=4), "integers"),
])
def test_a_broken_batch_file_gets_an_error_that_names_it(tmp_path, fake_root, damage, message):
    folder = copy_folder(fake_root, tmp_path)
    path = folder / "data_batch_3"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CorruptDatasetError, match=message) as error:
        CIFAR10(tmp_path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("meta", [{b"label_names": "airplane"}, {b"label_names": [b"a"] * 9 + [b""]}, {}])
def test_a_broken_meta_file_gets_an_error_that_names_it(tmp_path, fake_root, meta):
    folder = copy_folder(fake_root, tmp_path)
    write_batch(folder / cifar.META_FILE, meta, protocol=4)
    with pytest.raises(CorruptDatasetError, match="label_names") as error:
        CIFAR10(tmp_path)
    assert str(folder / cifar.META_FILE) in str(error.value)


def test_a_missing_batch_file_is_named(tmp_path, fake_root):
    folder = copy_folder(fake_root, tmp_path)
    (folder / "data_batch_5").unlink()
    assert len(CIFAR10(tmp_path, train=False)) == 10 * TEST_PER_CLASS  # the test split does not need it
    with pytest.raises(CorruptDatasetError, match="data_batch_5 is missing"):
        CIFAR10(tmp_path)


# ---------------------------------------------------------------------- finding the data
def test_root_comes_from_argument_then_environment_then_data(tmp_path, fake_root, monkeypatch, no_network):
    monkeypatch.setenv(cifar.ROOT_ENV_VAR, str(fake_root))
    assert cifar.resolve_root() == fake_root and len(CIFAR10(train=False)) == 10 * TEST_PER_CLASS
    assert cifar.resolve_root(tmp_path) == tmp_path
    with pytest.raises(DatasetNotFoundError):  # the argument wins over the variable
        CIFAR10(tmp_path / "empty")
    monkeypatch.delenv(cifar.ROOT_ENV_VAR)
    monkeypatch.chdir(tmp_path)
    assert cifar.resolve_root() == cifar.Path("data")
    (tmp_path / "data").mkdir()
    copy_folder(fake_root, tmp_path / "data")
    assert CIFAR10(train=False).folder == cifar.Path("data", cifar.FOLDER)


def test_an_existing_folder_is_used_without_downloading(fake_root, no_network):
    assert len(CIFAR10(fake_root, download=True)) == 10 * TRAIN_PER_CLASS
    assert len(CIFAR10(fake_root / cifar.FOLDER)) == 10 * TRAIN_PER_CLASS  # root may name the folder itself
    assert no_network == []


def test_without_network_the_error_says_where_to_put_the_data(tmp_path, no_network):
    with pytest.raises(DatasetNotFoundError) as error:
        CIFAR10(tmp_path / "data")
    message = str(error.value)
    assert no_network == [cifar.ARCHIVE_URL] and "\n" not in message
    for needed in ("Temporary failure in name resolution", str(tmp_path / "data"), cifar.ARCHIVE_NAME, cifar.FOLDER,
                   cifar.ROOT_ENV_VAR, "with root=..."):  # Python's words; the command line says --data-dir DIR
        assert needed in message
    assert "--data-dir" not in message and "cifar10_from_jpeg" not in message
    assert not (tmp_path / "data").exists()  # no folder made where a path was mistyped, no partial download
    with pytest.raises(DatasetNotFoundError, match="download=False"):
        CIFAR10(tmp_path / "elsewhere", download=False)


def test_download_verifies_extracts_and_keeps_the_archive(tmp_path, monkeypatch, fake_archive, fake_root):
    content, md5 = fake_archive
    serve(monkeypatch, content)
    monkeypatch.setattr(cifar, "ARCHIVE_MD5", md5)
    test = CIFAR10(tmp_path, train=False)
    np.testing.assert_array_equal(test.data, CIFAR10(fake_root, train=False).data)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([cifar.ARCHIVE_NAME, cifar.FOLDER])
    assert (tmp_path / cifar.ARCHIVE_NAME).read_bytes() == content


def test_an_existing_archive_is_extracted_without_downloading(tmp_path, monkeypatch, fake_archive, no_network):
    content, md5 = fake_archive
    (tmp_path / cifar.ARCHIVE_NAME).write_bytes(content)
    monkeypatch.setattr(cifar, "ARCHIVE_MD5", md5)
    assert len(CIFAR10(tmp_path, train=False, download=False)) == 10 * TEST_PER_CLASS
    assert no_network == []


def test_a_download_with_the_wrong_md5_is_refused_and_removed(tmp_path, monkeypatch, fake_archive):
    serve(monkeypatch, fake_archive[0])  # not the official archive, so not its MD5
    with pytest.raises(CorruptDatasetError, match=f"expected {cifar.ARCHIVE_MD5}"):
        CIFAR10(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_archive_with_the_wrong_md5_is_refused_and_kept(tmp_path, fake_archive, no_network):
    archive = tmp_path / cifar.ARCHIVE_NAME
    archive.write_bytes(fake_archive[0][:-100])
    with pytest.raises(CorruptDatasetError, match=f"{archive} has MD5 .*delete it"):
        CIFAR10(tmp_path)
    assert archive.exists() and not (tmp_path / cifar.FOLDER).exists()


def tar_with(path, *adds):
    with tarfile.open(path, "w:gz") as tar:
        for add in adds:
            add(tar)
    return path


def add_file(name, content=b"pwned"):
    def add(tar):
        info = tarfile.TarInfo(name)
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return add


def add_link(name, target, kind):
    def add(tar):
        info = tarfile.TarInfo(name)
        info.type, info.linkname = kind, target
        tar.addfile(info)
    return add


@pytest.mark.parametrize("add, problem", [
    (add_file(f"{cifar.FOLDER}/../../escaped"), "climbs out"),
    (add_file("../escaped"), "climbs out"),
    (add_file("/tmp/minitorch_cifar_escaped"), "absolute path"),
    (add_link(f"{cifar.FOLDER}/link", "/etc/passwd", tarfile.SYMTYPE), "link"),
    (add_link(f"{cifar.FOLDER}/hard", "/etc/passwd", tarfile.LNKTYPE), "link"),
    (add_link(f"{cifar.FOLDER}/fifo", "", tarfile.FIFOTYPE), "special file"),
])
def test_extraction_refuses_members_that_could_escape(tmp_path, add, problem):
    root = tmp_path / "root"
    root.mkdir()
    archive = tar_with(tmp_path / "evil.tar.gz", add_file(f"{cifar.FOLDER}/batches.meta"), add)
    with pytest.raises(CorruptDatasetError, match=f"refusing to extract member .*{problem}"):
        cifar.extract_safely(archive, root)
    assert list(root.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["evil.tar.gz", "root"]
    assert not os.path.exists("/tmp/minitorch_cifar_escaped")


def test_extraction_of_a_broken_or_foreign_archive_names_it(tmp_path, fake_archive):
    archive = tmp_path / "broken.tar.gz"
    archive.write_bytes(fake_archive[0][:len(fake_archive[0]) // 2])
    with pytest.raises(CorruptDatasetError, match="broken.tar.gz cannot be extracted"):
        cifar.extract_safely(archive, tmp_path)
    foreign = tar_with(tmp_path / "foreign.tar.gz", add_file("other/file"))
    with pytest.raises(CorruptDatasetError, match="holds no cifar-10-batches-py"):
        cifar.extract_safely(foreign, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.tar.gz", "foreign.tar.gz"]


# ---------------------------------------------------------------------- synthetic data and splits
def test_synthetic_data_is_learnable(fake_root):
    """The nearest class mean of the training images classifies the test images; by colour alone, even when
    the test images are flipped and shifted as augmentation would."""
    train, test = CIFAR10(fake_root), CIFAR10(fake_root, train=False)

    def nearest_mean_accuracy(features, images):
        means = np.stack([features(train.data[train.targets == k]).mean(0) for k in range(10)])
        return (((features(images)[:, None] - means) ** 2).sum(-1).argmin(1) == test.targets).mean()

    assert nearest_mean_accuracy(lambda x: x.reshape(len(x), -1).astype(float), test.data) >= 0.9
    augmented = np.roll(test.data[..., ::-1], (3, -2), axis=(2, 3))
    assert nearest_mean_accuracy(lambda x: x.mean(axis=(2, 3)), augmented) >= 0.9


def test_synthetic_data_repeats_with_its_seed(tmp_path, fake_root):
    again = CIFAR10(write_fake_cifar10(tmp_path / "a", TRAIN_PER_CLASS, TEST_PER_CLASS, seed=0))
    other = CIFAR10(write_fake_cifar10(tmp_path / "b", TRAIN_PER_CLASS, TEST_PER_CLASS, seed=1))
    np.testing.assert_array_equal(again.data, CIFAR10(fake_root).data)
    assert not np.array_equal(other.data, again.data)
    with pytest.raises(ValueError, match="at least one image per class"):
        write_fake_cifar10(tmp_path / "c", train_per_class=0)


def test_train_val_split(fake_root):
    dataset = CIFAR10(fake_root)
    train, val = train_val_split(dataset, val_size=12, seed=3)
    assert (len(train), len(val)) == (48, 12) and train.classes == dataset.classes
    rows = {image.tobytes(): label for image, label in zip(dataset.data, dataset.targets)}
    seen = [image.tobytes() for part in (train, val) for image in part.data]
    assert sorted(seen) == sorted(rows)
    assert all(rows[image.tobytes()] == label for image, label in zip(val.data, val.targets))
    again, _ = train_val_split((dataset.data, dataset.targets), val_size=0.2, seed=3)
    np.testing.assert_array_equal(again.data, train.data)
    other, _ = train_val_split(dataset, val_size=12, seed=4)
    assert not np.array_equal(other.data, train.data)
    for bad in (0, 60, 1.0, -0.5, "12"):
        with pytest.raises(ValueError, match="val_size"):
            train_val_split(dataset, bad)


def test_array_dataset_checks_its_arrays():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        ArrayDataset(np.zeros((4, 32, 32), np.uint8), np.zeros(4, np.int64))
    with pytest.raises(ValueError, match="4 images but 3 labels"):
        ArrayDataset(np.zeros((4, 3, 2, 2), np.uint8), np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="integer"):
        ArrayDataset(np.zeros((4, 3, 2, 2), np.uint8), np.zeros(4))


# ---------------------------------------------------------------------- the loader
def numbered(n):
    """Images whose pixels say which example they are, and labels that are their index, as a TensorDataset."""
    images = (np.arange(n, dtype=np.int64)[:, None, None, None] + np.zeros((1, 3, 4, 4), np.int64)) % 256
    return TensorDataset(images.astype(np.uint8), np.arange(n))


def epoch(loader):
    batches = [(backend.to_device(x.array, "cpu"), backend.to_device(y.array, "cpu")) for x, y in loader]
    return np.concatenate([x for x, _ in batches]), np.concatenate([y for _, y in batches]), batches


@pytest.mark.parametrize("drop_last, sizes", [(False, [16, 16, 16, 2]), (True, [16, 16, 16])])
def test_loader_batches_shapes_dtypes_and_device(device, drop_last, sizes):
    dataset = numbered(50)
    images = dataset.tensors[0].numpy()
    loader = DataLoader(dataset, batch_size=16, drop_last=drop_last, device=device)
    assert len(loader) == len(sizes)
    batches = list(loader)
    assert [len(y) for _, y in batches] == sizes
    for x, y in batches:
        assert isinstance(x, mt.Tensor) and x.dtype == np.uint8 and x.shape[1:] == (3, 4, 4)  # as stored
        assert y.dtype == np.int64 and x.device == y.device == backend.parse_device(device)
    x, y, _ = epoch(loader)
    np.testing.assert_array_equal(y, np.arange(sum(sizes)))  # no shuffle: the stored order
    np.testing.assert_array_equal(x, images[:sum(sizes)])


def test_loader_shuffles_every_example_once_per_epoch_reproducibly(device):
    dataset = numbered(37)
    loader = DataLoader(dataset, batch_size=8, shuffle=True, device=device, seed=7)
    orders = []
    for _ in range(3):
        x, y, _ = epoch(loader)
        assert sorted(y.tolist()) == list(range(37))
        np.testing.assert_array_equal(x[:, 0, 0, 0], y % 256)  # images travel with their labels
        orders.append(y)
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])
    same = DataLoader(dataset, batch_size=8, shuffle=True, device=device, seed=7)
    np.testing.assert_array_equal(epoch(same)[1], orders[0])
    assert not np.array_equal(epoch(DataLoader(dataset, 8, shuffle=True, seed=8))[1], orders[0])
    given = DataLoader(dataset, 8, shuffle=True, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(epoch(given)[1], orders[0])


def test_loader_without_seed_follows_manual_seed():
    dataset = numbered(30)
    first = [epoch(DataLoader(dataset, 30, shuffle=True))[1] for _ in range(2)]
    mt.manual_seed(0)
    again = epoch(DataLoader(dataset, 30, shuffle=True))[1]
    np.testing.assert_array_equal(again, first[0])
    assert not np.array_equal(first[0], first[1])


def test_loader_state_round_trip_continues_identically(device):
    images = np.random.default_rng(0).integers(0, 256, (40, 3, 8, 8), dtype=np.uint8)
    labels = np.arange(40) % 10
    augment = transforms.Compose([transforms.RandomCrop(8, padding=2), transforms.RandomHorizontalFlip(),
                                  transforms.Cutout(3)])
    run = DataLoader(TensorDataset(images, labels), batch_size=16, shuffle=True, transform=augment, device=device,
                     seed=1)
    epoch(run)
    state = {k: v.copy() for k, v in run.state_dict().items()}
    np.savez(io.BytesIO(), **state)  # fits a checkpoint without pickle
    expected = epoch(run)
    resumed = DataLoader(TensorDataset(images, labels), batch_size=16, shuffle=True, transform=augment,
                         device=device, seed=99)
    resumed.load_state_dict(state)
    got = epoch(resumed)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    with pytest.raises(ValueError, match="state_dict"):
        resumed.load_state_dict({"generator": np.zeros(3)})


def test_loader_applies_the_transform_with_its_own_generator(device):
    dataset = numbered(20)
    images, labels = (t.numpy() for t in dataset.tensors)
    augment = transforms.Compose([transforms.RandomCrop(4, padding=1), transforms.RandomHorizontalFlip(),
                                  transforms.Normalize([0.5] * 3, [0.25] * 3)])
    loader = DataLoader(dataset, batch_size=8, shuffle=True, transform=augment, device=device, seed=5)
    x, y, batches = epoch(loader)
    rng = np.random.default_rng(5)
    order = rng.permutation(20)
    for start, (xb, yb) in zip(range(0, 20, 8), batches):
        index = order[start:start + 8]
        np.testing.assert_array_equal(yb, labels[index])
        np.testing.assert_array_equal(xb, augment(images[index], rng))


def test_loader_takes_a_dataset_tensors_and_float_images(fake_root, device):
    dataset = CIFAR10(fake_root, train=False)
    loader = DataLoader(dataset, 7, transform=transforms.ToFloat(), device=device)
    assert loader.dataset is dataset and len(loader) == 5
    x, y, _ = epoch(loader)
    np.testing.assert_array_equal(y, dataset.targets)
    np.testing.assert_array_equal(x, dataset.data.astype(np.float32) / np.float32(255))
    floats = dataset.data.astype(np.float32) / 255
    x32, _, _ = epoch(DataLoader(TensorDataset(mt.tensor(floats), mt.tensor(dataset.targets)), batch_size=30,
                                 device=device))
    np.testing.assert_array_equal(x32, floats)
    with pytest.raises(TypeError, match=r"TensorDataset\(images, labels\)"):
        DataLoader(dataset.data, dataset.targets)


def test_loader_rejects_bad_arguments():
    dataset = numbered(10)
    images, labels = (t.numpy() for t in dataset.tensors)
    with pytest.raises(ValueError, match=r"equal length, got lengths \[10, 9\]"):
        TensorDataset(images, labels[:9])
    for bad in (0, 2.5):
        with pytest.raises(ValueError, match="batch_size"):
            DataLoader(dataset, batch_size=bad)
    with pytest.raises(ValueError, match="at least one example"):
        DataLoader(TensorDataset(images[:0], labels[:0]))
    with pytest.raises(ValueError, match="excludes shuffle"):
        DataLoader(dataset, sampler=range(10), shuffle=True)
    with pytest.raises(ValueError, match="seed=, not both"):
        DataLoader(dataset, generator=np.random.default_rng(0), seed=1)
