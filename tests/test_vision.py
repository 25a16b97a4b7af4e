"""ember.vision: the MNIST / Fashion-MNIST readers (bundled sample, layouts, corrupt files,
download without the network) and the transforms against NumPy (and PyTorch if importable)."""
import gzip
import hashlib
import io
import math
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import ember
from ember.vision import datasets
from ember.vision import transforms as T

SAMPLE = Path(datasets.__file__).parent / "data" / "mnist-sample"
TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    """An IDX file: 0, 0, type code, ndim, big-endian dims, then the data."""
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, ">u4").tobytes()
    return header + arr.tobytes()


def sample_array(name: str) -> np.ndarray:
    """A bundled file parsed independently of ember: gunzip, skip the header."""
    raw = gzip.decompress((SAMPLE / f"{name}.gz").read_bytes())
    ndim = raw[3]
    dims = np.frombuffer(raw, ">u4", count=ndim, offset=4)
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


@pytest.fixture(scope="module")
def train_set():
    return datasets.MNIST(train=True)


@pytest.fixture(scope="module")
def test_set():
    return datasets.MNIST(train=False)


def write_small_split(folder: Path, n: int = 5, prefix: str = "train", gz: bool = True) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = np.arange(n, dtype=np.uint8) % 10
    folder.mkdir(parents=True, exist_ok=True)
    for stem, arr in ((f"{prefix}-images-idx3-ubyte", images),
                      (f"{prefix}-labels-idx1-ubyte", labels)):
        data = idx_bytes(arr)
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)


# -- the bundled sample --------------------------------------------------------------------
def test_bundled_sample_sizes_and_dtypes(train_set, test_set):
    assert len(train_set) == 4000 and len(test_set) == 1000
    assert tuple(train_set.data.shape) == (4000, 28, 28)
    assert tuple(test_set.data.shape) == (1000, 28, 28)
    assert train_set.data.dtype == ember.uint8
    assert train_set.targets.dtype == ember.int64
    assert tuple(train_set.targets.shape) == (4000,)
    np.testing.assert_array_equal(np.bincount(train_set.targets.numpy(), minlength=10),
                                  [400] * 10)
    np.testing.assert_array_equal(np.bincount(test_set.targets.numpy(), minlength=10),
                                  [100] * 10)
    assert len(train_set.classes) == 10 and train_set.class_to_idx["3 - three"] == 3
    assert (SAMPLE / "SOURCE.md").is_file()


def test_bundled_sample_matches_the_files(train_set):
    np.testing.assert_array_equal(train_set.data.numpy(), sample_array(TRAIN_FILES[0]))
    np.testing.assert_array_equal(train_set.targets.numpy(), sample_array(TRAIN_FILES[1]))


def test_getitem_returns_uint8_array_and_int(train_set):
    img, target = train_set[7]
    assert isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.shape == (28, 28)
    assert type(target) is int and target == int(train_set.targets.numpy()[7])
    np.testing.assert_array_equal(img, train_set.data.numpy()[7])
    img[:] = 0  # the sample is a copy: the dataset is untouched
    assert train_set.data.numpy()[7].any()
    last, _ = train_set[-1]
    np.testing.assert_array_equal(last, train_set.data.numpy()[-1])


def test_transform_and_target_transform():
    ds = datasets.MNIST(train=False, transform=T.ToTensor(), target_transform=lambda y: y + 100)
    img, target = ds[0]
    assert isinstance(img, ember.Tensor) and tuple(img.shape) == (1, 28, 28)
    assert img.dtype == ember.float32
    np.testing.assert_allclose(img.numpy()[0], ds.data.numpy()[0] / np.float32(255))
    assert target == int(ds.targets.numpy()[0]) + 100
    text = repr(ds)
    assert "Dataset MNIST" in text and "Number of datapoints: 1000" in text
    assert "Split: Test" in text and "ToTensor()" in text


def test_dataloader_batches_the_sample(test_set):
    from ember.utils.data import DataLoader, Dataset
    assert isinstance(test_set, Dataset)
    ds = datasets.MNIST(train=False, transform=T.ToTensor())
    images, targets = next(iter(DataLoader(ds, batch_size=16)))
    assert tuple(images.shape) == (16, 1, 28, 28) and images.dtype == ember.float32
    np.testing.assert_array_equal(targets.numpy(), test_set.targets.numpy()[:16])


# -- layouts -------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["torchvision", "flat", "uncompressed"])
def test_layouts_load_the_same_data(tmp_path, layout, test_set):
    folder = tmp_path if layout == "flat" else tmp_path / "MNIST" / "raw"
    folder.mkdir(parents=True, exist_ok=True)
    for stem in TEST_FILES:
        src = SAMPLE / f"{stem}.gz"
        if layout == "uncompressed":
            (folder / stem).write_bytes(gzip.decompress(src.read_bytes()))
        else:
            shutil.copy(src, folder / f"{stem}.gz")
    ds = datasets.MNIST(str(tmp_path), train=False)
    np.testing.assert_array_equal(ds.data.numpy(), test_set.data.numpy())
    np.testing.assert_array_equal(ds.targets.numpy(), test_set.targets.numpy())
    assert ds.raw_folder == str(tmp_path / "MNIST" / "raw")


def test_fashion_mnist_reads_its_own_folder(tmp_path):
    write_small_split(tmp_path / "FashionMNIST" / "raw", n=6, prefix="t10k")
    ds = datasets.FashionMNIST(tmp_path, train=False)
    assert len(ds) == 6 and ds.classes[9] == "Ankle boot"
    img, target = ds[5]
    assert img.shape == (28, 28) and target == 5
    assert ds.resources != datasets.MNIST.resources
    with pytest.raises(ValueError, match="root"):
        datasets.FashionMNIST()


def test_missing_files_say_download(tmp_path):
    with pytest.raises(RuntimeError, match="download=True"):
        datasets.MNIST(tmp_path)


# -- corrupt files -------------------------------------------------------------------------
def corrupt(folder: Path, case: str) -> str:
    """Damages the small split in ``folder`` one way; returns the damaged file's name."""
    images = folder / "train-images-idx3-ubyte"
    labels = folder / "train-labels-idx1-ubyte"
    img = np.zeros((5, 28, 28), np.uint8)
    if case == "bad magic":
        images.write_bytes(b"\x12\x34" + idx_bytes(img)[2:])
    elif case == "wrong dtype code":
        images.write_bytes(idx_bytes(img.astype(">i4"), code=0x0C))
    elif case == "dims vs bytes":
        images.write_bytes(idx_bytes(img)[:-100])
    elif case == "header too short":
        images.write_bytes(b"\x00\x00")
    elif case == "swapped files":
        images.write_bytes(labels.read_bytes())
    elif case == "labels count":
        labels.write_bytes(idx_bytes(np.zeros(4, np.uint8)))
        return labels.name
    elif case == "label out of range":
        labels.write_bytes(idx_bytes(np.full(5, 12, np.uint8)))
        return labels.name
    elif case == "gzip corrupt":
        gz = folder / "train-images-idx3-ubyte.gz"
        images.unlink()
        gz.write_bytes(gzip.compress(idx_bytes(img))[:-30])
        return gz.name
    return images.name


@pytest.mark.parametrize("case, message", [
    ("bad magic", "bad magic number"),
    ("wrong dtype code", "wrong IDX dtype code 0x0C"),
    ("dims vs bytes", r"dims \(5, 28, 28\) need 3920 bytes"),
    ("header too short", "too short"),
    ("swapped files", "1 dimensions, expected 3"),
    ("labels count", "4 labels but"),
    ("label out of range", "label 12"),
    ("gzip corrupt", "corrupt gzip"),
])
def test_corrupt_files_raise_naming_the_file(tmp_path, case, message):
    write_small_split(tmp_path, gz=False)
    name = corrupt(tmp_path, case)
    with pytest.raises(RuntimeError, match=message) as info:
        datasets.MNIST(tmp_path)
    assert name in str(info.value)


def test_read_image_and_label_files(tmp_path):
    write_small_split(tmp_path, n=3, gz=False)
    images = datasets.read_image_file(tmp_path / "train-images-idx3-ubyte")
    labels = datasets.read_label_file(tmp_path / "train-labels-idx1-ubyte")
    assert tuple(images.shape) == (3, 28, 28) and images.dtype == ember.uint8
    assert labels.dtype == ember.int64 and labels.tolist() == [0, 1, 2]


# -- download, never touching the network --------------------------------------------------
class FakeResponse(io.BytesIO):
    def __init__(self, payload: bytes):
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload))}


def test_download_offline_names_what_it_tried(tmp_path, monkeypatch):
    tried = []

    def offline(url, timeout=None):
        tried.append(url)
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(RuntimeError) as info:
        datasets.MNIST(tmp_path, download=True)
    text = str(info.value)
    for mirror in datasets.MNIST.mirrors:
        assert f"{mirror}train-images-idx3-ubyte.gz" in text
    assert "no network" in text and len(tried) == 2
    assert not list((tmp_path / "MNIST" / "raw").iterdir())


def test_download_checksum_mismatch_keeps_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen",
                        lambda url, timeout=None: FakeResponse(b"not mnist at all"))
    with pytest.raises(RuntimeError, match="MD5 mismatch") as info:
        datasets.MNIST(tmp_path, download=True)
    assert hashlib.md5(b"not mnist at all").hexdigest() in str(info.value)
    assert not list((tmp_path / "MNIST" / "raw").iterdir())


def test_download_falls_back_to_the_next_mirror(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # the plain stderr progress line
    names = [f"{stem}.gz" for stem in TRAIN_FILES + TEST_FILES]
    resources = [(n, hashlib.md5((SAMPLE / n).read_bytes()).hexdigest()) for n in names]
    monkeypatch.setattr(datasets.MNIST, "resources", resources)
    urls = []

    def first_mirror_down(url, timeout=None):
        urls.append(url)
        if url.startswith(datasets.MNIST.mirrors[0]):
            raise urllib.error.HTTPError(url, 503, "down", {}, None)
        return FakeResponse((SAMPLE / url.rsplit("/", 1)[1]).read_bytes())

    monkeypatch.setattr(urllib.request, "urlopen", first_mirror_down)
    ds = datasets.MNIST(tmp_path, train=True, download=True)
    assert len(ds) == 4000 and len(urls) == 8
    assert sorted(p.name for p in (tmp_path / "MNIST" / "raw").iterdir()) == sorted(names)
    assert "Downloading train-images-idx3-ubyte.gz" in capsys.readouterr().err

    def must_not_fetch(url, timeout=None):
        raise AssertionError("files already present must not be downloaded again")

    monkeypatch.setattr(urllib.request, "urlopen", must_not_fetch)
    assert len(datasets.MNIST(tmp_path, train=False, download=True)) == 1000


# -- ToTensor, Normalize, Compose, Lambda --------------------------------------------------
def test_to_tensor_uint8_hw_and_hwc():
    img = np.arange(12 * 10, dtype=np.uint8).reshape(12, 10)
    out = T.ToTensor()(img)
    assert isinstance(out, ember.Tensor) and out.dtype == ember.float32
    np.testing.assert_array_equal(out.numpy(), (img.astype(np.float32) / 255)[None])
    rgb = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    out = T.ToTensor()(rgb)
    assert tuple(out.shape) == (3, 5, 7)
    np.testing.assert_array_equal(out.numpy(), rgb.transpose(2, 0, 1).astype(np.float32) / 255)


def test_to_tensor_keeps_other_dtypes_and_rejects_bad_input():
    img = np.linspace(0, 3, 20).reshape(4, 5)
    out = T.ToTensor()(img)
    assert out.dtype == ember.float64
    np.testing.assert_array_equal(out.numpy(), img[None])
    with pytest.raises(TypeError, match="ToTensor"):
        T.ToTensor()([[1, 2]])
    with pytest.raises(ValueError, match="2/3 dimensional"):
        T.ToTensor()(np.zeros((1, 2, 3, 4), np.uint8))
    assert repr(T.ToTensor()) == "ToTensor()"


def test_normalize_matches_numpy():
    rng = np.random.default_rng(2)
    x = rng.random((3, 4, 5), dtype=np.float32)
    mean, std = (0.5, 0.25, 0.1), (0.2, 0.3, 0.4)
    out = T.Normalize(mean, std)(ember.tensor(x))
    m, s = np.array(mean, np.float32)[:, None, None], np.array(std, np.float32)[:, None, None]
    expect = (x - m) / s
    assert out.dtype == ember.float32
    np.testing.assert_allclose(out.numpy(), expect, rtol=1e-6, atol=1e-7)
    # one value for all channels, and a batch of images
    batch = rng.random((2, 3, 4, 4), dtype=np.float32)
    out = T.Normalize((0.1307,), (0.3081,))(ember.tensor(batch))
    np.testing.assert_allclose(out.numpy(), (batch - np.float32(0.1307)) / np.float32(0.3081),
                               rtol=1e-6, atol=1e-7)


def test_normalize_inplace_and_not():
    x = ember.tensor(np.ones((1, 2, 2), np.float32))
    out = T.Normalize((0.5,), (0.5,))(x)
    np.testing.assert_array_equal(x.numpy(), np.ones((1, 2, 2)))
    np.testing.assert_array_equal(out.numpy(), np.ones((1, 2, 2)))
    y = ember.tensor(np.zeros((1, 2, 2), np.float32))
    same = T.Normalize((1.0,), (2.0,), inplace=True)(y)
    assert same is y
    np.testing.assert_array_equal(y.numpy(), np.full((1, 2, 2), -0.5))


def test_normalize_errors_and_repr():
    with pytest.raises(TypeError, match="float tensor"):
        T.Normalize((0.5,), (0.5,))(ember.tensor(np.zeros((1, 2, 2), np.uint8)))
    with pytest.raises(ValueError, match="division by zero"):
        T.Normalize((0.5,), (0.0,))(ember.zeros(1, 2, 2))
    with pytest.raises(ValueError, match=r"\(\.\.\., C, H, W\)"):
        T.Normalize((0.5,), (0.5,))(ember.zeros(2, 2))
    with pytest.raises(RuntimeError, match="3 values but the image has 1 channels"):
        T.Normalize((0.5, 0.5, 0.5), (1, 1, 1))(ember.zeros(1, 2, 2))
    with pytest.raises(TypeError, match="ToTensor"):
        T.Normalize((0.5,), (0.5,))(np.zeros((1, 2, 2), np.float32))
    assert repr(T.Normalize((0.1307,), (0.3081,))) == "Normalize(mean=(0.1307,), std=(0.3081,))"


def test_to_tensor_and_normalize_match_torch():
    torch = pytest.importorskip("torch")
    img = np.random.default_rng(3).integers(0, 256, (28, 28), dtype=np.uint8)
    ours = T.Normalize((0.1307,), (0.3081,))(T.ToTensor()(img))
    theirs = (torch.from_numpy(img)[None].float().div(255) - 0.1307) / 0.3081
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-6)


def test_compose_and_lambda():
    t = T.Compose([T.Lambda(lambda a: a + 1), T.Lambda(lambda a: a * 10)])
    assert t(1) == 20
    assert repr(T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,))])) == (
        "Compose(\n    ToTensor()\n    Normalize(mean=(0.5,), std=(0.5,))\n)")
    assert repr(T.Lambda(abs)) == "Lambda()"
    with pytest.raises(TypeError, match="callable"):
        T.Lambda(3)


# -- RandomCrop ----------------------------------------------------------------------------
def unique_image(h: int = 28, w: int = 28) -> np.ndarray:
    """Every pixel distinct and non-zero, so a crop's offset can be read off its content."""
    return (np.arange(h * w, dtype=np.int32).reshape(h, w) + 1)


def crop_offset(out: np.ndarray, padded: np.ndarray) -> tuple[int, int]:
    """The unique (top, left) where ``out`` sits inside ``padded``."""
    th, tw = out.shape[:2]
    hits = [(i, j) for i in range(padded.shape[0] - th + 1)
            for j in range(padded.shape[1] - tw + 1)
            if np.array_equal(padded[i:i + th, j:j + tw], out)]
    assert len(hits) == 1, hits
    return hits[0]


def test_random_crop_with_padding_shifts_content():
    img = unique_image()
    padded = np.pad(img, 4)
    offsets = set()
    for seed in range(8):
        ember.manual_seed(seed)
        out = T.RandomCrop(28, padding=4)(img)
        assert out.shape == (28, 28) and out.dtype == img.dtype
        i, j = crop_offset(out, padded)
        assert 0 <= i <= 8 and 0 <= j <= 8
        # content moved by (4 - i, 4 - j): the original pixel (0, 0) lands there
        if 4 - i >= 0 and 4 - j >= 0:
            assert out[4 - i, 4 - j] == img[0, 0]
        offsets.add((i, j))
    assert len(offsets) > 1


def test_random_crop_is_reproducible_and_same_for_arrays_and_tensors():
    img = unique_image(10, 12)
    crop = T.RandomCrop((6, 5), padding=(1, 2))
    ember.manual_seed(123)
    a = crop(img)
    ember.manual_seed(123)
    b = crop(img)
    np.testing.assert_array_equal(a, b)
    ember.manual_seed(123)
    t = crop(ember.tensor(img[None].astype(np.float32)))
    assert isinstance(t, ember.Tensor) and tuple(t.shape) == (1, 6, 5)
    np.testing.assert_array_equal(t.numpy()[0], a)
    rgb = np.stack([img, img * 2, img * 3], axis=-1)
    ember.manual_seed(123)
    c = crop(rgb)
    assert c.shape == (6, 5, 3)
    np.testing.assert_array_equal(c[..., 1], a * 2)


@pytest.mark.parametrize("mode", ["edge", "reflect", "symmetric"])
def test_random_crop_padding_modes_match_numpy(mode):
    img = unique_image(5, 6)
    out = T.RandomCrop((9, 10), padding=2, padding_mode=mode)(img)  # the whole padded image
    np.testing.assert_array_equal(out, np.pad(img, 2, mode=mode))


def test_random_crop_fill_pad_if_needed_and_errors():
    img = np.ones((3, 4, 2), np.uint8)
    out = T.RandomCrop((5, 6), padding=1, fill=(7, 9))(img)
    np.testing.assert_array_equal(out[0, :, 0], 7)
    np.testing.assert_array_equal(out[0, :, 1], 9)
    np.testing.assert_array_equal(out[1:4, 1:5], 1)
    grown = T.RandomCrop(6, pad_if_needed=True)(np.ones((4, 5), np.uint8))
    assert grown.shape == (6, 6)
    with pytest.raises(ValueError, match="larger than the input image size"):
        T.RandomCrop(30)(np.zeros((28, 28), np.uint8))
    with pytest.raises(ValueError, match="padding_mode"):
        T.RandomCrop(3, padding_mode="wrap")
    with pytest.raises(ValueError, match="padding"):
        T.RandomCrop(3, padding=(1, 2, 3))
    assert repr(T.RandomCrop(28, padding=4)) == "RandomCrop(size=(28, 28), padding=4)"


# -- RandomAffine --------------------------------------------------------------------------
def shifted(img: np.ndarray, dx: int, dy: int, fill=0) -> np.ndarray:
    """``img`` moved right by dx and down by dy, uncovered pixels = fill."""
    out = np.full_like(img, fill)
    h, w = img.shape[:2]
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        img[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def test_random_affine_translate_moves_by_whole_pixels_within_bounds():
    img = unique_image()
    moves = set()
    for seed in range(10):
        ember.manual_seed(seed)
        out = T.RandomAffine(degrees=0, translate=(0.1, 0.2))(img)
        found = [(dx, dy) for dx in range(-3, 4) for dy in range(-6, 7)
                 if np.array_equal(out, shifted(img, dx, dy))]
        assert len(found) == 1, f"seed {seed}: not a whole-pixel shift within bounds"
        moves.add(found[0])
    assert len(moves) > 1


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_random_affine_identity(interpolation):
    img = np.random.default_rng(4).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    for aff in (T.RandomAffine(0, interpolation=interpolation),
                T.RandomAffine(0, translate=(0, 0), scale=(1, 1), shear=0,
                               interpolation=interpolation)):
        np.testing.assert_array_equal(aff(img), img)
    x = ember.tensor(img.transpose(2, 0, 1).astype(np.float32))
    np.testing.assert_array_equal(T.RandomAffine(0, interpolation=interpolation)(x).numpy(),
                                  x.numpy())


def test_random_affine_rotation_is_clockwise_like_torchvision():
    img = unique_image(8, 8)
    out = T.RandomAffine(degrees=(90, 90))(img)
    np.testing.assert_array_equal(out, np.rot90(img, k=-1))
    t = T.RandomAffine(degrees=(-90, -90))(ember.tensor(img[None].astype(np.float32)))
    np.testing.assert_array_equal(t.numpy()[0], np.rot90(img, k=1))


def test_random_affine_fill_and_dtype():
    img = np.ones((6, 6), np.uint8) * 50
    out = T.RandomAffine(0, translate=(1, 0), fill=7)
    ember.manual_seed(0)
    res = out(img)
    assert res.dtype == np.uint8
    ember.manual_seed(0)
    _, (tx, _), _, _ = T.RandomAffine.get_params([0, 0], (1, 0), None, None, (6, 6))
    np.testing.assert_array_equal(res, shifted(img, tx, 0, fill=7))
    blurred = T.RandomAffine((30, 30), interpolation="bilinear")(img)
    assert blurred.dtype == np.uint8 and blurred[3, 3] == 50


def torchvision_inverse_matrix(angle, translate, scale, shear):
    """torchvision's documented inverse of T * RSS with RSS = R(a) S(s) SHy(sy) SHx(sx)."""
    a, sx, sy = (math.radians(v) for v in (angle, *shear))
    rss = np.array([
        [math.cos(a - sy) / math.cos(sy),
         -math.cos(a - sy) * math.tan(sx) / math.cos(sy) - math.sin(a)],
        [math.sin(a - sy) / math.cos(sy),
         -math.sin(a - sy) * math.tan(sx) / math.cos(sy) + math.cos(a)],
    ]) * scale
    inv = np.linalg.inv(rss)
    return np.concatenate([inv, (-inv @ np.asarray(translate, float))[:, None]], axis=1)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_random_affine_matches_torch_grid_sample(mode):
    torch = pytest.importorskip("torch")
    params = dict(angle=23.0, translate=(2, -1), scale=1.15, shear=(8.0, -5.0))
    matrix = torchvision_inverse_matrix(**params)
    np.testing.assert_allclose(
        T._inverse_affine((0.0, 0.0), params["angle"], params["translate"], params["scale"],
                          params["shear"]), matrix, atol=1e-12)
    x = np.random.default_rng(5).random((2, 3, 9, 12), dtype=np.float32)
    # fill=None: plain zero padding, torchvision's affine without its fill mask blend
    ours = T._affine(x, False, interpolation=T.InterpolationMode(mode), fill=None,
                     center=None, **params)
    # torchvision's tensor path: centred pixel grid, normalised for align_corners=False
    h, w = x.shape[-2:]
    ys, xs = np.meshgrid(np.arange(h) - (h - 1) / 2, np.arange(w) - (w - 1) / 2, indexing="ij")
    src = np.stack([xs, ys, np.ones_like(xs)], -1) @ matrix.T
    grid = torch.from_numpy(src / np.array([w / 2, h / 2])).float()[None].expand(2, h, w, 2)
    theirs = torch.nn.functional.grid_sample(torch.from_numpy(x), grid, mode=mode,
                                             padding_mode="zeros", align_corners=False)
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-4, atol=1e-5)


def test_random_affine_reproducible_and_repr():
    img = np.random.default_rng(6).integers(0, 256, (28, 28), dtype=np.uint8)
    aff = T.RandomAffine(15, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=5)
    ember.manual_seed(9)
    a = aff(img)
    ember.manual_seed(9)
    np.testing.assert_array_equal(aff(img), a)
    assert repr(aff) == ("RandomAffine(degrees=[-15.0, 15.0], translate=(0.1, 0.1), "
                         "scale=(0.9, 1.1), shear=[-5.0, 5.0])")
    assert repr(T.RandomAffine((0, 0), interpolation="bilinear", fill=1)) == (
        "RandomAffine(degrees=[0.0, 0.0], interpolation=bilinear, fill=1)")


@pytest.mark.parametrize("kwargs, message", [
    (dict(degrees=-1), "non-negative"),
    (dict(degrees=0, translate=(0.1, 2)), "translate"),
    (dict(degrees=0, scale=(0, 1)), "scale"),
    (dict(degrees=0, interpolation="bicubic"), "interpolation"),
])
def test_random_affine_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        T.RandomAffine(**kwargs)


# -- RandomHorizontalFlip ------------------------------------------------------------------
def test_random_horizontal_flip():
    img = unique_image(4, 5)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1)(img), img[:, ::-1])
    rgb = np.stack([img, -img], -1)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1)(rgb), rgb[:, ::-1])
    t = ember.tensor(rgb.transpose(2, 0, 1).astype(np.float32))
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1)(t).numpy(), t.numpy()[..., ::-1])
    assert T.RandomHorizontalFlip(p=0)(img) is img
    ember.manual_seed(0)
    flips = [T.RandomHorizontalFlip()(img)[0, 0] == img[0, -1] for _ in range(40)]
    assert 0 < sum(flips) < 40
    assert repr(T.RandomHorizontalFlip()) == "RandomHorizontalFlip(p=0.5)"
