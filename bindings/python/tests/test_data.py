"""Data sets (flp_data.h) from Python: Omniglot-layout PNG folders and IDX
files written here, views and their lifetimes, errors, the few-shot sampler
feeding a lifetime, and the real Omniglot zip when shared/ has it."""
import gc
import gzip
import os
import struct
import zipfile
import zlib

import numpy as np
import pytest

import flp

REPO = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SMALL1 = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "omniglot",
                                       "images_background_small1.zip"))


# ---- writing test data -------------------------------------------------------
def png_gray8(path, pixels):
    """Write a 2-D uint8 array as an 8-bit grayscale PNG (no filter)."""
    pixels = np.asarray(pixels, dtype=np.uint8)
    h, w = pixels.shape

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + pixels[r].tobytes() for r in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw)))
        f.write(chunk(b"IEND", b""))


def drawing(alphabet, char, drawer, size=8):
    """A distinct white image (255) with a black (0) stroke per example."""
    img = np.full((size, size), 255, dtype=np.uint8)
    img[(alphabet * 3 + char) % size, :] = 0          # a row per class
    img[:, drawer % size] = 0                           # a column per drawer
    return img


ALPHABETS = ["Alpha", "Beta", "Gamma"]
CHARS = 3
DRAWERS = 4


@pytest.fixture
def omniglot_dir(tmp_path):
    """tmp/omni/<alphabet>/characterNN/NNNN_DD.png: 3 alphabets x 3 characters
    x 4 drawers of 8x8 images, plus entries the reader must ignore."""
    root = tmp_path / "omni"
    for a, alpha in enumerate(ALPHABETS):
        for c in range(CHARS):
            d = root / alpha / f"character{c + 1:02d}"
            d.mkdir(parents=True)
            for k in range(DRAWERS):
                png_gray8(d / f"{a * 100 + c:04d}_{k + 1:02d}.png", drawing(a, c, k))
            (d / "notes.txt").write_text("not a png")
    (root / "README").write_text("a file at the alphabet level")
    (root / ".hidden").mkdir()
    return root


def write_idx(folder, split, images, labels, gz=False):
    folder.mkdir(parents=True, exist_ok=True)
    n, rows, cols = images.shape
    img = struct.pack(">IIII", 0x803, n, rows, cols) + images.astype(np.uint8).tobytes()
    lab = struct.pack(">II", 0x801, n) + labels.astype(np.uint8).tobytes()
    for name, data in ((f"{split}-images-idx3-ubyte", img), (f"{split}-labels-idx1-ubyte", lab)):
        if gz:
            with gzip.open(folder / (name + ".gz"), "wb") as f:
                f.write(data)
        else:
            (folder / name).write_bytes(data)


@pytest.fixture
def idx_data():
    rng = np.random.default_rng(5)
    images = rng.integers(0, 256, size=(12, 6, 6), dtype=np.uint8)
    labels = np.array([3, 1, 3, 7, 1, 1, 7, 3, 1, 7, 3, 1], dtype=np.uint8)
    return images, labels


# ---- Omniglot ------------------------------------------------------------------
def test_omniglot_open_and_read(omniglot_dir):
    with flp.Dataset.open_omniglot(omniglot_dir, 8) as ds:
        assert len(ds) == ds.num_classes == len(ALPHABETS) * CHARS
        assert ds.num_alphabets == len(ALPHABETS)
        assert ds.image_shape == (1, 8, 8)
        assert ds.class_name(0) == "Alpha/character01"
        assert ds.class_names[-1] == "Gamma/character03"
        assert all(ds.class_size(c) == DRAWERS for c in range(len(ds)))  # .txt ignored
        p = ds.example_path(4, 2)
        assert p.endswith(os.path.join("Beta", "character02", "0101_03.png")) and os.path.exists(p)

        x = ds.get(4, 2)
        assert x.dtype == np.float32 and x.shape == (1, 8, 8)
        expect = 1.0 - drawing(1, 1, 2).astype(np.float32) / 255  # inverted: ink is 1
        np.testing.assert_allclose(x[0], expect, atol=1e-6)
        np.testing.assert_array_equal(ds[4, 2], x)

        # filled in place, without a copy, in any shape of the right size
        out = np.full(64, -1, dtype=np.float32)
        assert ds.get(4, 2, out=out) is out
        np.testing.assert_array_equal(out.reshape(1, 8, 8), x)
        ds.preload()


def test_omniglot_resizes(omniglot_dir):
    with flp.Dataset.open_omniglot(omniglot_dir, 4) as small, \
            flp.Dataset.open_omniglot(omniglot_dir, 16) as big:
        assert small.get(0, 0).shape == (1, 4, 4) and big.image_shape == (1, 16, 16)
        for img in (small.get(0, 0), big.get(0, 0)):
            assert img.min() >= 0 and img.max() <= 1 and 0 < img.mean() < 1


def test_subset_and_split_by_alphabet(omniglot_dir):
    ds = flp.Dataset.open_omniglot(omniglot_dir, 8)
    sub = ds.subset([5, 0, 7])
    assert sub.class_names == [ds.class_name(5), ds.class_name(0), ds.class_name(7)]
    np.testing.assert_array_equal(sub.get(1, 3), ds.get(0, 3))

    train, test = ds.split_by_alphabet(2)
    assert train.class_names == ds.class_names[:6] and test.class_names == ds.class_names[6:]
    assert set(train.class_names).isdisjoint(test.class_names)
    expect = ds.get(7, 1)

    # views share the store by reference count: the parent may go first
    ds.close()
    del ds
    gc.collect()
    assert not train.closed and len(test) == 3
    np.testing.assert_array_equal(test.get(1, 1), expect)
    assert sub.get(2, 0).shape == (1, 8, 8)
    for h in (sub, train, test):
        h.close()
        h.close()  # twice is harmless


def test_view_errors(omniglot_dir):
    with flp.Dataset.open_omniglot(omniglot_dir, 8) as ds:
        with pytest.raises(flp.RangeError):
            ds.subset([0, 99])
        with pytest.raises(flp.FlpError):
            ds.subset([1, 1])
        for n in (0, 3):
            with pytest.raises(flp.RangeError):
                ds.split_by_alphabet(n)
        with pytest.raises(flp.RangeError):
            ds.class_size(9)
        with pytest.raises(flp.RangeError):
            ds.get(0, DRAWERS)
        with pytest.raises(flp.ShapeError):
            ds.get(0, 0, out=np.zeros(63, dtype=np.float32))
        keep = np.full(64, 0.5, dtype=np.float32)
        with pytest.raises(flp.RangeError):
            ds.get(9, 0, out=keep)
        assert np.all(keep == 0.5)  # untouched on failure
    with pytest.raises(flp.StateError):
        ds.get(0, 0)  # closed


def test_missing_folder_carries_the_c_message(tmp_path):
    missing = tmp_path / "no-such-folder"
    with pytest.raises(flp.FileIOError) as e:
        flp.Dataset.open_omniglot(missing, 28)
    assert e.value.status == flp.Status.ERR_IO
    assert "no-such-folder" in str(e.value)           # libflp names the folder
    assert "no-such-folder" in flp.last_error()
    with pytest.raises(flp.RangeError):
        flp.Dataset.open_omniglot(tmp_path, 0)


def test_empty_character_folder_and_corrupt_png(omniglot_dir):
    bad = omniglot_dir / "Alpha" / "character01" / "0000_01.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\ntruncated")
    with flp.Dataset.open_omniglot(omniglot_dir, 8) as ds:   # read lazily
        with pytest.raises(flp.FormatError) as e:
            ds.preload()
        assert "0000_01.png" in str(e.value)
    (omniglot_dir / "Beta" / "empty").mkdir()
    with pytest.raises(flp.FormatError) as e:
        flp.Dataset.open_omniglot(omniglot_dir, 8)
    assert "empty" in str(e.value)


def test_paths_and_names_with_a_nul_are_refused(omniglot_dir):
    with pytest.raises(flp.InvalidArgumentError) as e:
        flp.Dataset.open_omniglot(str(omniglot_dir) + "\0/elsewhere", 8)
    assert "directory" in str(e.value) and "NUL" in str(e.value)
    with pytest.raises(flp.InvalidArgumentError):
        flp.Dataset.open_idx(omniglot_dir, "train\0x")
    with pytest.raises(flp.InvalidArgumentError):
        flp.Dataset.open_miniimagenet(bytes(omniglot_dir) + b"\0", "train")


def test_limits(tmp_path):
    assert flp.get_limit(flp.Limit.IMAGE_PIXELS) == 1 << 24
    assert flp.limit_bounds(flp.Limit.CSV_BYTES) == (1, 1 << 40)
    old = flp.get_limit(flp.Limit.CSV_BYTES)
    (tmp_path / "images").mkdir()
    (tmp_path / "train.csv").write_text("filename,label\n" + "".join(f"{i}.jpg,x\n" for i in range(20)))
    try:
        flp.set_limit(flp.Limit.CSV_BYTES, 100)
        assert flp.get_limit(flp.Limit.CSV_BYTES) == 100
        with pytest.raises(flp.RangeError) as e:
            flp.Dataset.open_miniimagenet(tmp_path, "train")
        assert "FLP_LIMIT_CSV_BYTES" in str(e.value)
        with pytest.raises(flp.RangeError):
            flp.set_limit(flp.Limit.CSV_BYTES, 0)
    finally:
        flp.set_limit(flp.Limit.CSV_BYTES, old)


# ---- IDX -----------------------------------------------------------------------
@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_idx(tmp_path, idx_data, gz):
    images, labels = idx_data
    write_idx(tmp_path / "mnist", "t10k", images, labels, gz=gz)
    with flp.Dataset.open_idx(tmp_path / "mnist", "t10k") as ds:
        assert ds.class_names == ["1", "3", "7"]
        assert ds.image_shape == (1, 6, 6) and ds.num_alphabets == 0
        for c, label in enumerate((1, 3, 7)):
            which = np.flatnonzero(labels == label)
            assert ds.class_size(c) == len(which)
            for i, k in enumerate(which):  # examples keep the file's order
                np.testing.assert_allclose(ds.get(c, i)[0], images[k] / 255.0, atol=1e-6)
        with pytest.raises(flp.InvalidArgumentError):
            ds.split_by_alphabet(1)  # not Omniglot


def test_idx_errors(tmp_path, idx_data):
    images, labels = idx_data
    with pytest.raises(flp.InvalidArgumentError):
        flp.Dataset.open_idx(tmp_path, "validation")
    with pytest.raises(flp.FileIOError) as e:
        flp.Dataset.open_idx(tmp_path, "train")
    assert "train-" in str(e.value)
    write_idx(tmp_path / "short", "train", images, labels[:-1])
    with pytest.raises(flp.FormatError):
        flp.Dataset.open_idx(tmp_path / "short", "train")


# ---- few-shot sampler ----------------------------------------------------------
def test_fewshot_episode_runs_in_a_lifetime(omniglot_dir):
    with flp.Dataset.open_omniglot(omniglot_dir, 8) as ds:
        train, test = ds.split_by_alphabet(2)
    tasks = flp.Sampler.fewshot(train, test, seed=42, ways=2, shots=2, query_per_class=2,
                                order=flp.Order.CONTINUAL)
    train.close()
    test.close()  # the sampler keeps its own reference
    assert tasks.get(flp.FewshotKey.WAYS) == 2
    assert tasks.get(flp.FewshotKey.ORDER) == flp.Order.CONTINUAL
    assert tasks.io_size() == (64, 2, True)

    ep = tasks.next(flp.Split.TRAIN)
    s = ep.shape
    assert (s.steps, s.batch, s.n_in, s.n_out, s.n_query, s.classification) == (4, 1, 64, 2, 4, True)
    assert list(ep.labels[:, 0]) == [0, 0, 1, 1]       # continual: class by class
    assert list(ep.lq) == [0, 0, 1, 1]
    assert ep.x.min() >= 0 and ep.x.max() <= 1 and ep.x.max() > 0
    ev = tasks.next(flp.Split.EVAL)
    assert ev.shape.n_in == 64

    rng = flp.Rng(3)
    net = flp.Net(64).add_linear(16).add_relu().add_linear(2)
    net.init(flp.Init.KAIMING_NORMAL, rng)
    fb = flp.Feedback(net, signal=flp.Signal.TARGET).init(rng, beta=0.5)  # labelled episodes
    rule = flp.Rule(net, flp.RuleKind.OJA, plastic_last=2)
    rule.set(flp.RuleKey.ALPHA_INIT, 1e-3)
    lt = flp.Lifetime(net, fb, rule)
    meta = flp.Meta(net, fb, rule, lr={flp.Group.PLASTICITY: 1e-4, flp.Group.WEIGHTS: 1e-3})
    loss = lt.run(ev)
    assert np.isfinite(loss) and loss > 0
    loss = meta.train_step(lt, tasks.next(flp.Split.TRAIN, ep))   # episode reused
    assert np.isfinite(loss) and meta.step_count == 1
    for h in (meta, lt, rule, fb, net, rng, ev, ep, tasks):
        h.close()


def test_fewshot_errors(omniglot_dir, tmp_path, idx_data):
    with flp.Dataset.open_omniglot(omniglot_dir, 8) as ds:
        with flp.Sampler.fewshot(ds, seed=1, ways=2, shots=2, query_per_class=1) as tasks:
            tasks.next(flp.Split.TRAIN)
            with pytest.raises(flp.StateError):
                tasks.next(flp.Split.EVAL)          # no eval data set
        with flp.Sampler.fewshot(ds, seed=1, ways=2, shots=4, query_per_class=1) as tasks:
            with pytest.raises(flp.RangeError):
                tasks.next(flp.Split.TRAIN)         # 4 drawers < 4 shots + 1 query
        with pytest.raises(KeyError):
            flp.Sampler.fewshot(ds, seed=1, no_such_key=1)
        images, labels = idx_data
        write_idx(tmp_path / "mnist", "train", images, labels)
        with flp.Dataset.open_idx(tmp_path / "mnist", "train") as other:
            with pytest.raises(flp.ShapeError):
                flp.Sampler.fewshot(ds, other)      # 8x8 and 6x6 images


# ---- the real data -------------------------------------------------------------
@pytest.mark.skipif(not os.path.exists(SMALL1),
                    reason=f"real Omniglot not present: {SMALL1} does not exist")
def test_real_omniglot_small1(tmp_path):
    with zipfile.ZipFile(SMALL1) as z:
        z.extractall(tmp_path)
    folder = tmp_path / "images_background_small1"
    assert folder.is_dir(), os.listdir(tmp_path)
    with flp.Dataset.open_omniglot(folder, 28) as ds:
        assert ds.num_alphabets == 5 and ds.image_shape == (1, 28, 28)
        assert all(ds.class_size(c) == 20 for c in range(len(ds)))
        train, test = ds.split_by_alphabet(3)
    with train, test:
        alphabets = lambda d: sorted({n.split("/")[0] for n in d.class_names})  # noqa: E731
        assert alphabets(train) == ["Balinese", "Early_Aramaic", "Greek"]
        assert alphabets(test) == ["Korean", "Latin"]
        img = train.get(0, 0)
        assert 0 < img.mean() < 0.5 and img.max() > 0.5    # mostly paper, some ink
        with flp.Sampler.fewshot(train, test, seed=42) as tasks, flp.Episode() as ep:
            s = tasks.next(flp.Split.TRAIN, ep).shape
            assert (s.steps, s.batch, s.n_in, s.n_out, s.n_query) == (25, 1, 784, 5, 25)
