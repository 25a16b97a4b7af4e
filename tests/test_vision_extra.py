"""ember.vision beyond MNIST: the transforms (against PyTorch's interpolate / grid_sample and
NumPy formulas of torchvision's definitions), transforms.functional, PNG / PNM decoding and
PNG writing (files built by hand with zlib), ImageFolder and CIFAR10/100 on tiny synthetic
files."""
import colorsys
import math
import struct
import zlib

import numpy as np
import pytest

import ember
from ember.vision import datasets, io
from ember.vision import transforms as T
from ember.vision.transforms import functional as F

RNG = np.random.default_rng(1234)


def rand_image(c=3, h=12, w=17, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == np.uint8:
        return rng.integers(0, 256, (c, h, w), dtype=np.uint8)
    return rng.random((c, h, w), dtype=np.float32).astype(dtype)


def as_tensor(x):
    return ember.tensor(x)


@pytest.fixture
def fake_cuda(monkeypatch):
    """The test-only fake cuda device: NumPy arrays of another type, as in test_conv_pool."""
    from ember import backend
    monkeypatch.setenv("EMBER_FAKE_CUDA", "1")
    saved = backend._cuda
    backend._cuda = None
    try:
        yield backend.cuda()
    finally:
        fake = backend._cuda
        if fake is not None:
            backend._by_array_type.pop(fake.array_type, None)
        backend._cuda = saved
        if saved is not None:
            backend._by_array_type[saved.array_type] = saved


# -- Resize ------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode, antialias", [("bilinear", True), ("bicubic", True),
                                             ("bilinear", False), ("nearest", True)])
def test_resize_matches_torch_interpolate(mode, antialias):
    torch = pytest.importorskip("torch")
    x = rand_image(3, 20, 30)
    out = T.Resize(12, interpolation=mode, antialias=antialias)(as_tensor(x))
    assert tuple(out.shape) == (3, 12, 18)  # smaller edge 12, the other int(12 * 30 / 20)
    align = False if mode != "nearest" else None
    ref = torch.nn.functional.interpolate(torch.from_numpy(x)[None], size=(12, 18), mode=mode,
                                          align_corners=align,
                                          antialias=antialias and mode != "nearest")[0]
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)


def test_resize_uint8_batches_and_numpy_images():
    torch = pytest.importorskip("torch")
    x = rand_image(3, 16, 10, np.uint8, seed=1)
    batch = np.stack([x, x[:, ::-1]])
    out = F.resize(as_tensor(batch), [7, 9])
    assert out.dtype == ember.uint8 and tuple(out.shape) == (2, 3, 7, 9)
    # torchvision's tensor path: float32, antialiased bilinear, rounded back
    ref = torch.nn.functional.interpolate(torch.from_numpy(batch).float(), size=(7, 9),
                                          mode="bilinear", align_corners=False, antialias=True)
    ref = ref.round().clamp(0, 255).to(torch.uint8).numpy()
    assert np.abs(out.numpy().astype(int) - ref).max() <= 1
    assert (out.numpy() == ref).mean() > 0.99
    hwc = x.transpose(1, 2, 0).copy()
    np.testing.assert_array_equal(F.resize(hwc, [7, 9]), out.numpy()[0].transpose(1, 2, 0))
    gray = F.resize(x[0], 8)  # a plain (H, W) array
    assert gray.shape == (12, 8) and gray.dtype == np.uint8


@pytest.mark.parametrize("hw, size, max_size, expected", [
    ((20, 30), 10, None, (10, 15)),
    ((30, 20), 10, None, (15, 10)),
    ((20, 30), [10], None, (10, 15)),
    ((20, 30), (7, 9), None, (7, 9)),
    ((20, 60), 10, 24, (8, 24)),
    ((20, 60), 10, 40, (10, 30)),
    ((20, 60), None, 30, (10, 30)),
])
def test_resize_output_size_rules(hw, size, max_size, expected):
    out = T.Resize(size, max_size=max_size)(ember.rand(2, *hw))
    assert tuple(out.shape[-2:]) == expected


def test_resize_same_size_returns_input_and_errors_and_repr():
    x = ember.rand(3, 8, 8)
    assert F.resize(x, 8) is x
    with pytest.raises(TypeError, match="Resize: size"):
        T.Resize("big")
    with pytest.raises(ValueError, match="Resize: if size is a sequence"):
        T.Resize((1, 2, 3))
    with pytest.raises(ValueError, match="max_size should only be passed"):
        T.Resize((4, 5), max_size=10)
    with pytest.raises(ValueError, match="must be strictly greater"):
        T.Resize(8, max_size=8)(ember.rand(3, 8, 16))
    with pytest.raises(ValueError, match="Resize: interpolation"):
        T.Resize(8, interpolation="box")
    assert repr(T.Resize(32)) == ("Resize(size=32, interpolation=bilinear, max_size=None, "
                                  "antialias=True)")


# -- crops, pads and flips -----------------------------------------------------------------------
def test_center_crop_matches_slicing_and_pads_when_larger():
    x = np.arange(3 * 7 * 10, dtype=np.float32).reshape(3, 7, 10)
    out = T.CenterCrop((4, 5))(as_tensor(x))
    # top = round(1.5) = 2 and left = round(2.5) = 2: Python's round, half to even
    np.testing.assert_array_equal(out.numpy(), x[:, 2:6, 2:7])
    np.testing.assert_array_equal(T.CenterCrop(3)(x[0]), x[0, 2:5, 4:7])  # round(3.5) = 4
    big = T.CenterCrop((10, 13))(as_tensor(x)).numpy()
    ref = np.pad(x, ((0, 0), (1, 2), (1, 2)))  # (10-7)//2 before, (10-7+1)//2 after
    np.testing.assert_array_equal(big, ref)
    assert repr(T.CenterCrop(3)) == "CenterCrop(size=(3, 3))"


def test_crop_outside_the_image_is_zero_padded():
    x = np.arange(1, 1 + 2 * 5 * 6, dtype=np.int64).reshape(2, 5, 6)
    padded = np.pad(x, ((0, 0), (3, 3), (4, 4)))
    for top, left, h, w in [(1, 2, 3, 3), (-2, -3, 4, 5), (3, 4, 4, 5), (-3, -4, 11, 14),
                            (-3, 8, 2, 2)]:
        out = F.crop(as_tensor(x), top, left, h, w).numpy()
        np.testing.assert_array_equal(out, padded[:, top + 3:top + 3 + h, left + 4:left + 4 + w])


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
@pytest.mark.parametrize("padding, widths", [(2, ((2, 2), (2, 2))), ((1, 3), ((3, 3), (1, 1))),
                                             ((1, 2, 3, 4), ((2, 4), (1, 3)))])
def test_pad_matches_numpy(mode, padding, widths):
    x = rand_image(3, 6, 7, np.uint8, seed=2)
    out = T.Pad(padding, padding_mode=mode)(as_tensor(x)).numpy()
    np.testing.assert_array_equal(out, np.pad(x, ((0, 0),) + widths, mode=mode))
    hwc = F.pad(x.transpose(1, 2, 0), padding, padding_mode=mode)
    np.testing.assert_array_equal(hwc, out.transpose(1, 2, 0))


def test_pad_fill_negative_padding_and_errors():
    x = np.ones((2, 3, 4), np.float32)
    out = F.pad(as_tensor(x), 1, fill=(5, 7)).numpy()
    assert (out[0, 0] == 5).all() and (out[1, :, 0] == 7).all() and (out[:, 1:4, 1:5] == 1).all()
    y = np.arange(30, dtype=np.float32).reshape(1, 5, 6)
    np.testing.assert_array_equal(F.pad(as_tensor(y), [-1, 2, 1, -2]).numpy(),
                                  np.pad(y[:, :3, 1:], ((0, 0), (2, 0), (0, 1))))
    with pytest.raises(ValueError, match="Pad: padding_mode"):
        T.Pad(1, padding_mode="wrap")
    with pytest.raises(ValueError, match="Pad: padding must be an int or a 1, 2, or 4"):
        T.Pad((1, 2, 3))
    with pytest.raises(TypeError, match="Pad: got inappropriate padding"):
        T.Pad("1")
    with pytest.raises(TypeError, match="Pad: got inappropriate fill"):
        T.Pad(1, fill="red")
    assert repr(T.Pad(2)) == "Pad(padding=2, fill=0, padding_mode=constant)"


def test_flips_and_five_ten_crop():
    x = np.arange(2 * 6 * 7, dtype=np.float32).reshape(2, 6, 7)
    t = as_tensor(x)
    np.testing.assert_array_equal(F.hflip(t).numpy(), x[..., ::-1])
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1)(t).numpy(), x[..., ::-1, :])
    assert T.RandomVerticalFlip(p=0)(t) is t
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1)(x[0]), x[0, ::-1])
    crops = T.FiveCrop((3, 4))(t)
    refs = [x[:, :3, :4], x[:, :3, 3:], x[:, 3:, :4], x[:, 3:, 3:], x[:, 2:5, 2:6]]
    for c, r in zip(crops, refs):
        np.testing.assert_array_equal(c.numpy(), r)
    ten = T.TenCrop(3, vertical_flip=True)(t)
    assert len(ten) == 10
    np.testing.assert_array_equal(ten[5].numpy(), x[:, ::-1][:, :3, :3])
    with pytest.raises(ValueError, match="FiveCrop: requested crop size"):
        F.five_crop(t, 8)
    assert repr(T.TenCrop(3)) == "TenCrop(size=(3, 3), vertical_flip=False)"


# -- RandomResizedCrop ------------------------------------------------------------------------
def test_random_resized_crop_params_follow_scale_and_ratio():
    img = ember.rand(3, 40, 50)
    ember.manual_seed(0)
    for _ in range(50):
        i, j, h, w = T.RandomResizedCrop.get_params(img, (0.2, 0.6), (0.5, 2.0))
        assert 0 <= i <= 40 - h and 0 <= j <= 50 - w and h > 0 and w > 0
        # the rounding of h and w to whole pixels widens the bounds a little
        assert 0.2 * 2000 * 0.8 <= h * w <= 0.6 * 2000 * 1.2
        assert 0.5 * 0.8 <= w / h <= 2.0 * 1.25


@pytest.mark.parametrize("hw, ratio, expected", [
    ((10, 40), (3 / 4, 4 / 3), (0, 13, 10, 13)),   # too wide: height kept, w = round(10 * 4/3)
    ((40, 10), (3 / 4, 4 / 3), (13, 0, 13, 10)),   # too tall: width kept, h = round(10 / (3/4))
    ((20, 22), (3 / 4, 4 / 3), (0, 0, 20, 22)),    # within ratio: the whole image
])
def test_random_resized_crop_falls_back_to_the_central_crop(hw, ratio, expected):
    img = ember.rand(1, *hw)
    assert T.RandomResizedCrop.get_params(img, (5.0, 6.0), ratio) == expected


def test_random_resized_crop_output_is_resized_crop_of_its_params():
    x = ember.rand(3, 30, 40)
    rrc = T.RandomResizedCrop((16, 12), scale=(0.3, 0.9))
    ember.manual_seed(7)
    out = rrc(x)
    ember.manual_seed(7)
    i, j, h, w = rrc.get_params(x, rrc.scale, rrc.ratio)
    ref = F.resize(F.crop(x, i, j, h, w), [16, 12])
    assert tuple(out.shape) == (3, 16, 12)
    np.testing.assert_array_equal(out.numpy(), ref.numpy())
    assert repr(rrc) == ("RandomResizedCrop(size=(16, 12), scale=(0.3, 0.9), "
                         "ratio=(0.75, 1.3333), interpolation=bilinear, antialias=True)")
    with pytest.raises(TypeError, match="RandomResizedCrop: scale"):
        T.RandomResizedCrop(8, scale=0.5)
    with pytest.warns(UserWarning, match="min, max"):
        T.RandomResizedCrop(8, scale=(0.9, 0.1))


# -- rotation and affine against torch's grid_sample ----------------------------------------------
def torch_grid_transform(x, matrix, out_hw, mode, fill):
    """torchvision's tensor path: its affine grid on the output, grid_sample with
    align_corners=False, then the fill mask blend when fill is given."""
    torch = pytest.importorskip("torch")
    c, h, w = x.shape
    oh, ow = out_hw
    theta = torch.tensor(matrix, dtype=torch.float32).reshape(1, 2, 3)
    xs = torch.linspace(-ow * 0.5 + 0.5, ow * 0.5 - 0.5, ow)
    ys = torch.linspace(-oh * 0.5 + 0.5, oh * 0.5 - 0.5, oh)
    base = torch.stack([xs.expand(oh, ow), ys[:, None].expand(oh, ow), torch.ones(oh, ow)], -1)
    scale = torch.tensor([0.5 * w, 0.5 * h])
    grid = (base.reshape(1, -1, 3) @ (theta.transpose(1, 2) / scale)).reshape(1, oh, ow, 2)
    img = torch.from_numpy(x)[None]
    if fill is not None:
        img = torch.cat([img, torch.ones(1, 1, h, w)], 1)
    out = torch.nn.functional.grid_sample(img, grid, mode=mode, padding_mode="zeros",
                                          align_corners=False)
    if fill is not None:
        mask, out = out[:, -1:], out[:, :-1]
        fill_img = torch.tensor(fill, dtype=torch.float32).view(1, -1, 1, 1).expand_as(out)
        if mode == "nearest":
            out = torch.where(mask < 0.5, fill_img, out)
        else:
            out = out * mask + (1 - mask) * fill_img
    return out[0].numpy()


def rotation_matrix(angle):
    """torchvision's inverse matrix of rotate(angle): a rotation by -angle, inverted."""
    r = math.radians(-angle)
    return [math.cos(r), math.sin(r), 0.0, -math.sin(r), math.cos(r), 0.0]


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize("fill", [None, [0.25, 0.5, 0.75]])
def test_rotate_matches_torch_grid_sample(mode, fill):
    x = rand_image(3, 9, 12, seed=3)
    out = F.rotate(as_tensor(x), 33.0, interpolation=mode, fill=fill).numpy()
    ref = torch_grid_transform(x, rotation_matrix(33.0), (9, 12), mode, fill)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)


def test_rotate_expand_matches_torchvision_size_and_values():
    torch = pytest.importorskip("torch")
    x = rand_image(2, 10, 15, seed=4)
    out = F.rotate(as_tensor(x), 30.0, interpolation="bilinear", expand=True, fill=[0.0, 1.0])
    # torchvision's _compute_affine_output_size, in float32
    w, h = 15, 10
    pts = torch.tensor([[-0.5 * w, -0.5 * h, 1.0], [-0.5 * w, 0.5 * h, 1.0],
                        [0.5 * w, 0.5 * h, 1.0], [0.5 * w, -0.5 * h, 1.0]])
    new = pts @ torch.tensor(rotation_matrix(30.0)).view(2, 3).T
    lo, hi = new.min(0).values + torch.tensor([w * 0.5, h * 0.5]), \
        new.max(0).values + torch.tensor([w * 0.5, h * 0.5])
    size = torch.ceil((hi / 1e-4).trunc() * 1e-4) - torch.floor((lo / 1e-4).trunc() * 1e-4)
    ow, oh = int(size[0]), int(size[1])
    assert tuple(out.shape) == (2, oh, ow)
    ref = torch_grid_transform(x, rotation_matrix(30.0), (oh, ow), "bilinear", [0.0, 1.0])
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-4, atol=1e-5)


def test_rotate_quarter_turn_and_uint8_and_center():
    img = np.arange(1, 26, dtype=np.uint8).reshape(5, 5)
    np.testing.assert_array_equal(F.rotate(img, 90), np.rot90(img, k=1))
    np.testing.assert_array_equal(F.rotate(img, -90), np.rot90(img, k=-1))
    # a quarter turn about the top-left pixel's centre moves the image out of view
    moved = F.rotate(img, 90, center=(0.5, 0.5), fill=9)
    assert moved[0, 0] == img[0, 0] and (moved[1:, :] == 9).all()
    rgb = np.stack([img] * 3, -1)
    out = F.rotate(rgb, 45, interpolation="bilinear", fill=(1, 2, 3))
    assert out.shape == (5, 5, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, 0], [1, 2, 3])


def test_random_rotation_draws_angles_reproducibly():
    x = ember.rand(3, 8, 8)
    rot = T.RandomRotation((10, 20), interpolation="bilinear", fill=0.5)
    ember.manual_seed(3)
    out = rot(x)
    ember.manual_seed(3)
    angle = T.RandomRotation.get_params(rot.degrees)
    assert 10 <= angle < 20
    np.testing.assert_array_equal(out.numpy(), F.rotate(x, angle, "bilinear", fill=0.5).numpy())
    assert repr(T.RandomRotation(5)) == ("RandomRotation(degrees=[-5.0, 5.0], "
                                         "interpolation=nearest, expand=False, fill=0)")
    with pytest.raises(ValueError, match="RandomRotation: if degrees"):
        T.RandomRotation(-3)
    with pytest.raises(ValueError, match="RandomRotation: interpolation"):
        T.RandomRotation(3, interpolation="bicubic")
    with pytest.raises(ValueError, match="RandomRotation: center"):
        T.RandomRotation(3, center=(1, 2, 3))


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


def test_affine_with_fill_blends_like_torchvision():
    x = rand_image(3, 10, 11, seed=5)
    params = dict(angle=17.0, translate=(1, -2), scale=0.9, shear=(6.0, 3.0))
    out = F.affine(as_tensor(x), interpolation="bilinear", fill=[0.1, 0.2, 0.3], **params)
    ref = torch_grid_transform(x, torchvision_inverse_matrix(**params).ravel().tolist(),
                               (10, 11), "bilinear", [0.1, 0.2, 0.3])
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="affine: scale"):
        F.affine(as_tensor(x), 0, (0, 0), 0.0, 0)
    with pytest.raises(TypeError, match="affine: angle"):
        F.affine(as_tensor(x), "10", (0, 0), 1.0, 0)


# -- colour ---------------------------------------------------------------------------------------
def gray_np(x):
    """torchvision's tensor grayscale weights, in float32."""
    w = np.array([0.2989, 0.587, 0.114], np.float32)
    return (w[0] * x[0].astype(np.float32) + w[1] * x[1].astype(np.float32)
            + w[2] * x[2].astype(np.float32))[None]


def blend_np(a, b, f, dtype):
    out = np.float32(f) * a.astype(np.float32) + np.float32(1 - f) * b.astype(np.float32)
    top = 255 if dtype == np.uint8 else 1.0
    return np.clip(out, 0, top).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_brightness_contrast_saturation_match_formulas(dtype):
    x = rand_image(3, 6, 7, dtype, seed=6)
    t = as_tensor(x)
    gray = gray_np(x).astype(dtype)  # uint8 grayscale truncates, as torchvision's
    np.testing.assert_array_equal(F.adjust_brightness(t, 1.3).numpy(),
                                  blend_np(x, np.zeros_like(x), 1.3, dtype))
    np.testing.assert_array_equal(F.adjust_saturation(t, 0.4).numpy(),
                                  blend_np(x, gray, 0.4, dtype))
    mean = gray.astype(np.float32).mean()
    out = F.adjust_contrast(t, 1.7).numpy()
    ref = blend_np(x, np.full_like(x, mean, dtype=np.float32), 1.7, dtype)
    tol = 1 if dtype == np.uint8 else 1e-6  # the mean's summation order
    np.testing.assert_allclose(out.astype(np.float64), ref.astype(np.float64), atol=tol)
    np.testing.assert_array_equal(F.rgb_to_grayscale(t).numpy(), gray)
    three = T.Grayscale(3)(t).numpy()
    assert three.shape == (3, 6, 7) and (three == gray).all()


def test_hue_matches_colorsys_round_trip():
    x = rand_image(3, 5, 6, seed=7)
    out = F.adjust_hue(as_tensor(x), 0.3).numpy()
    ref = np.empty_like(x)
    for i in range(5):
        for j in range(6):
            h, s, v = colorsys.rgb_to_hsv(*x[:, i, j].astype(np.float64))
            ref[:, i, j] = colorsys.hsv_to_rgb((h + 0.3) % 1.0, s, v)
    np.testing.assert_allclose(out, ref, atol=2e-6)
    u8 = rand_image(3, 5, 6, np.uint8, seed=8)
    out8 = F.adjust_hue(as_tensor(u8), -0.2).numpy()
    ref8 = F.adjust_hue(as_tensor(u8.astype(np.float32) / 255), -0.2).numpy()
    np.testing.assert_array_equal(out8, (ref8 * np.float32(255.999)).astype(np.uint8))
    np.testing.assert_allclose(F.adjust_hue(as_tensor(x), 0.0).numpy(), x, atol=1e-6)
    gray = as_tensor(x[:1])
    assert F.adjust_hue(gray, 0.2) is gray and F.adjust_saturation(gray, 0.2) is gray


def test_color_functions_on_numpy_images_and_errors():
    hwc = rand_image(3, 4, 5, np.uint8, seed=9).transpose(1, 2, 0).copy()
    out = F.adjust_brightness(hwc, 0.5)
    assert out.shape == hwc.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, (hwc * np.float32(0.5)).astype(np.uint8))
    assert T.Grayscale()(hwc).shape == (4, 5, 1)
    with pytest.raises(ValueError, match="brightness_factor"):
        F.adjust_brightness(hwc, -1)
    with pytest.raises(ValueError, match=r"hue_factor \(0.7\) is not in \[-0.5, 0.5\]"):
        F.adjust_hue(hwc, 0.7)
    with pytest.raises(TypeError, match="permitted channel values are \\[1, 3\\]"):
        F.adjust_contrast(ember.rand(4, 3, 3), 0.5)
    with pytest.raises(ValueError, match="num_output_channels"):
        F.rgb_to_grayscale(ember.rand(3, 3, 3), 2)
    inv = F.invert(ember.tensor(np.array([[[0, 100, 255]]], np.uint8))).numpy()
    np.testing.assert_array_equal(inv, [[[255, 155, 0]]])
    g = F.adjust_gamma(ember.tensor(np.full((1, 2, 2), 0.25, np.float32)), 0.5).numpy()
    np.testing.assert_allclose(g, 0.5)


def test_color_jitter_ranges_order_and_errors():
    jit = T.ColorJitter(brightness=0.5, contrast=(0.2, 0.3), saturation=0, hue=0.1)
    assert jit.brightness == (0.5, 1.5) and jit.contrast == (0.2, 0.3)
    assert jit.saturation is None and jit.hue == (-0.1, 0.1)
    assert T.ColorJitter(brightness=2).brightness == (0.0, 3.0)  # clipped at zero
    ember.manual_seed(11)
    order, b, c, s, h = T.ColorJitter.get_params(jit.brightness, jit.contrast, None, jit.hue)
    assert sorted(order.tolist()) == [0, 1, 2, 3] and s is None
    assert 0.5 <= b < 1.5 and 0.2 <= c < 0.3 and -0.1 <= h < 0.1
    x = ember.rand(3, 6, 6)
    ember.manual_seed(11)
    out = jit(x)
    expected = x
    adjust = {0: (F.adjust_brightness, b), 1: (F.adjust_contrast, c), 3: (F.adjust_hue, h)}
    for i in order.tolist():
        if i in adjust:
            fn, factor = adjust[i]
            expected = fn(expected, factor)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    orders = set()
    for seed in range(12):
        ember.manual_seed(seed)
        orders.add(tuple(T.ColorJitter.get_params(None, None, None, None)[0].tolist()))
    assert len(orders) > 3
    for kwargs, err, msg in [(dict(brightness=-1), ValueError, "if brightness is a single number"),
                             (dict(contrast=(2, 1)), ValueError, "contrast values"),
                             (dict(hue=0.6), ValueError, "hue values should be between"),
                             (dict(saturation="x"), TypeError, "saturation should be")]:
        with pytest.raises(err, match="ColorJitter: " + msg):
            T.ColorJitter(**kwargs)
    assert repr(T.ColorJitter(0.1)) == ("ColorJitter(brightness=(0.9, 1.1), contrast=None, "
                                        "saturation=None, hue=None)")


def test_random_grayscale_keeps_channels():
    x = ember.rand(3, 4, 4)
    out = T.RandomGrayscale(p=1.0)(x).numpy()
    assert out.shape == (3, 4, 4) and (out == out[:1]).all()
    assert T.RandomGrayscale(p=0.0)(x) is x


# -- Gaussian blur --------------------------------------------------------------------------------
def blur_np(x, kx, ky, sx, sy):
    """Separable correlation with torchvision's kernels, reflect-padded, in float64."""
    def kernel(k, s):
        t = np.linspace(-(k - 1) / 2, (k - 1) / 2, k)
        p = np.exp(-0.5 * (t / s) ** 2)
        return p / p.sum()
    out = np.pad(x.astype(np.float64), ((0, 0), (ky // 2,) * 2, (kx // 2,) * 2), mode="reflect")
    h, w = x.shape[-2:]
    out = sum(c * out[:, :, i:i + w] for i, c in enumerate(kernel(kx, sx)))
    return sum(c * out[:, i:i + h, :] for i, c in enumerate(kernel(ky, sy)))


def test_gaussian_blur_matches_separable_numpy():
    x = rand_image(3, 9, 11, seed=10)
    out = F.gaussian_blur(as_tensor(x), [5, 3], [1.2, 0.7]).numpy()
    np.testing.assert_allclose(out, blur_np(x, 5, 3, 1.2, 0.7), rtol=1e-5, atol=1e-6)
    default = F.gaussian_blur(as_tensor(x), 5).numpy()  # sigma = 0.15 k + 0.35 = 1.1
    np.testing.assert_allclose(default, blur_np(x, 5, 5, 1.1, 1.1), rtol=1e-5, atol=1e-6)
    u8 = rand_image(3, 9, 11, np.uint8, seed=11)
    out8 = F.gaussian_blur(as_tensor(u8), 3, 1.0).numpy()
    assert np.abs(out8 - np.rint(blur_np(u8, 3, 3, 1.0, 1.0))).max() <= 1


def test_gaussian_blur_transform_draws_sigma_and_errors():
    x = ember.rand(1, 8, 8)
    blur = T.GaussianBlur(3, sigma=(0.5, 1.5))
    ember.manual_seed(4)
    out = blur(x)
    ember.manual_seed(4)
    sigma = T.GaussianBlur.get_params(0.5, 1.5)
    assert 0.5 <= sigma < 1.5
    np.testing.assert_array_equal(out.numpy(), F.gaussian_blur(x, 3, sigma).numpy())
    assert repr(T.GaussianBlur(3)) == "GaussianBlur(kernel_size=(3, 3), sigma=(0.1, 2.0))"
    with pytest.raises(ValueError, match="GaussianBlur: kernel size"):
        T.GaussianBlur(4)
    with pytest.raises(ValueError, match="GaussianBlur: if sigma"):
        T.GaussianBlur(3, sigma=0)
    with pytest.raises(ValueError, match="GaussianBlur: sigma values"):
        T.GaussianBlur(3, sigma=(2.0, 1.0))
    with pytest.raises(ValueError, match="kernel_size should have odd"):
        F.gaussian_blur(x, [3, 2])


# -- RandomErasing, dtypes, containers ------------------------------------------------------------
def test_random_erasing_erases_one_rectangle():
    x = ember.ones(3, 20, 20)
    ember.manual_seed(5)
    out = T.RandomErasing(p=1.0, value=(0, 0.5, 2))(x).numpy()
    assert (x.numpy() == 1).all()  # not in place
    hole = out[0] == 0
    rows, cols = np.where(hole)
    h, w = np.ptp(rows) + 1, np.ptp(cols) + 1
    assert hole.sum() == h * w and 0.02 * 400 * 0.5 <= h * w <= 0.33 * 400 * 1.5
    np.testing.assert_array_equal(out[1][hole], 0.5)
    np.testing.assert_array_equal(out[2][hole], 2)
    ember.manual_seed(5)
    y = ember.ones(3, 20, 20)
    same = T.RandomErasing(p=1.0, value=(0, 0.5, 2), inplace=True)(y)
    assert same is y
    np.testing.assert_array_equal(y.numpy(), out)
    noisy = T.RandomErasing(p=1.0, value="random")(x).numpy()
    assert (noisy != 1).sum() > 0
    assert T.RandomErasing(p=0.0)(x) is x


def test_random_erasing_errors_and_repr():
    with pytest.raises(ValueError, match="RandomErasing: if value is str"):
        T.RandomErasing(value="noise")
    with pytest.raises(ValueError, match="RandomErasing: scale should be between 0 and 1"):
        T.RandomErasing(scale=(0.1, 2))
    with pytest.raises(ValueError, match="RandomErasing: probability"):
        T.RandomErasing(p=2)
    with pytest.raises(ValueError, match="RandomErasing: if value is a sequence"):
        T.RandomErasing(p=1, value=(1, 2))(ember.ones(3, 8, 8))
    with pytest.raises(TypeError, match="RandomErasing: img should be an ember Tensor"):
        T.RandomErasing(p=1)(np.ones((8, 8, 3), np.uint8))
    assert repr(T.RandomErasing()) == ("RandomErasing(p=0.5, scale=(0.02, 0.33), "
                                       "ratio=(0.3, 3.3), value=0, inplace=False)")


def test_convert_image_dtype_as_torchvision():
    u8 = ember.tensor(np.array([[[0, 1, 128, 255]]], np.uint8))
    f = T.ConvertImageDtype(ember.float32)(u8)
    assert f.dtype == ember.float32
    np.testing.assert_allclose(f.numpy(), np.array([[[0, 1, 128, 255]]]) / 255, rtol=1e-6)
    back = F.convert_image_dtype(ember.tensor([[[0.0, 0.5, 0.999, 1.0]]]), ember.uint8)
    np.testing.assert_array_equal(back.numpy(), [[[0, 127, 255, 255]]])
    np.testing.assert_array_equal(F.convert_image_dtype(u8, ember.int16).numpy(),
                                  u8.numpy().astype(np.int16) * 128)
    i32 = ember.tensor(np.array([[[0, 2 ** 31 - 1]]], np.int32))
    np.testing.assert_array_equal(F.convert_image_dtype(i32, ember.uint8).numpy(), [[[0, 255]]])
    assert F.convert_image_dtype(u8, ember.uint8) is u8
    with pytest.raises(RuntimeError, match="cannot be performed safely"):
        F.convert_image_dtype(ember.rand(1, 2, 2), ember.int32)


def test_random_apply_choice_order():
    add1, times2 = T.Lambda(lambda v: v + 1), T.Lambda(lambda v: v * 2)
    assert T.RandomApply([add1, times2], p=1.0)(3) == 8
    assert T.RandomApply([add1, times2], p=0.0)(3) == 3
    assert T.RandomChoice([add1, times2], p=[0, 1])(3) == 6
    ember.manual_seed(0)
    assert {T.RandomChoice([add1, times2])(3) for _ in range(30)} == {4, 6}
    ember.manual_seed(0)
    assert {T.RandomOrder([add1, times2])(3) for _ in range(30)} == {7, 8}
    assert repr(T.RandomApply([add1], p=0.3)) == "RandomApply(\n    p=0.3\n    Lambda()\n)"
    assert repr(T.RandomOrder([add1])) == "RandomOrder(\n    Lambda()\n)"
    with pytest.raises(TypeError, match="RandomChoice: argument transforms"):
        T.RandomChoice(add1)
    with pytest.raises(TypeError, match="RandomChoice: argument p"):
        T.RandomChoice([add1], p=1)


def test_training_pipeline_is_reproducible():
    img = rand_image(3, 40, 48, np.uint8, seed=12).transpose(1, 2, 0).copy()
    pipeline = T.Compose([
        T.RandomResizedCrop(24), T.RandomHorizontalFlip(), T.RandomRotation(10),
        T.ColorJitter(0.4, 0.4, 0.4, 0.1), T.RandomGrayscale(), T.ToTensor(),
        T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)), T.RandomErasing(),
    ])
    ember.manual_seed(21)
    a = pipeline(img)
    ember.manual_seed(21)
    b = pipeline(img)
    assert a.dtype == ember.float32 and tuple(a.shape) == (3, 24, 24)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    ember.manual_seed(22)
    assert not np.array_equal(pipeline(img).numpy(), a.numpy())


def test_transforms_stay_on_the_tensors_device(fake_cuda):
    x = rand_image(3, 16, 20, seed=13)
    ops = [
        lambda t: F.resize(t, [9, 11]), lambda t: F.center_crop(t, 18),
        lambda t: F.pad(t, [1, 2], padding_mode="reflect"), lambda t: F.rotate(t, 20, fill=0.5),
        lambda t: F.affine(t, 10, (1, 2), 1.1, 5, "bilinear", fill=0),
        lambda t: F.adjust_hue(F.adjust_contrast(t, 1.3), 0.2),
        lambda t: F.adjust_saturation(t, 0.5), lambda t: F.gaussian_blur(t, 3, 0.8),
        lambda t: F.rgb_to_grayscale(t, 3), lambda t: F.erase(t, 1, 2, 3, 4, 0.0),
        lambda t: F.convert_image_dtype(t, ember.uint8),
        lambda t: F.normalize(t, (0.5, 0.4, 0.3), (0.2, 0.2, 0.2)),
    ]
    for op in ops:
        cpu = op(ember.tensor(x))
        dev = op(ember.tensor(x, device="cuda"))
        assert dev.device.type == "cuda" and type(dev._data) is fake_cuda.array_type
        np.testing.assert_allclose(dev.cpu().numpy(), cpu.numpy(), rtol=1e-6, atol=1e-6)


def test_functional_exports_torchvision_names():
    for name in ["resize", "crop", "center_crop", "resized_crop", "pad", "hflip", "vflip",
                 "rotate", "affine", "adjust_brightness", "adjust_contrast",
                 "adjust_saturation", "adjust_hue", "rgb_to_grayscale", "gaussian_blur",
                 "normalize", "to_tensor", "erase", "convert_image_dtype", "five_crop",
                 "ten_crop", "get_dimensions", "get_image_size"]:
        assert callable(getattr(F, name)), name
    x = ember.rand(2, 5, 7)
    assert F.get_dimensions(x) == [2, 5, 7] and F.get_image_size(x) == [7, 5]
    assert F.get_image_num_channels(np.zeros((5, 7), np.uint8)) == 1


# -- PNG: files written by hand ------------------------------------------------------------------
def chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + \
        struct.pack(">I", zlib.crc32(kind + payload))


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_line(kind, line, prev, bpp):
    """PNG's filter ``kind`` applied to one scanline (the encoder's side)."""
    out = []
    for i, x in enumerate(line):
        a = int(line[i - bpp]) if i >= bpp else 0
        b = int(prev[i])
        c = int(prev[i - bpp]) if i >= bpp else 0
        pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][kind]
        out.append((int(x) - pred) % 256)
    return bytes([kind] + out)


def scanlines(px, depth):
    """(h, w, c) samples -> (h, stride) bytes at ``depth`` bits."""
    h = px.shape[0]
    if depth == 8:
        return px.astype(np.uint8).reshape(h, -1)
    if depth == 16:
        return px.astype(">u2").reshape(h, -1).view(np.uint8)
    shifts = np.arange(depth - 1, -1, -1)
    bits = (px[..., 0, None] >> shifts) & 1
    return np.packbits(bits.reshape(h, -1).astype(np.uint8), axis=1)


def filtered(px, depth, start=0):
    lines = scanlines(px, depth)
    bpp = max(1, px.shape[-1] * depth // 8)
    prev = np.zeros(lines.shape[1], np.uint8)
    out = b""
    for r, line in enumerate(lines):
        out += filter_line((r + start) % 5, line, prev, bpp)
        prev = line
    return out


ADAM7 = ((0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2),
         (1, 0, 2, 1))


def png_bytes(px, color, depth, palette=None, trns=None, interlace=False):
    """A PNG of samples ``px`` (h, w, c), its rows cycling through all five filters."""
    h, w = px.shape[:2]
    if interlace:
        data = b"".join(filtered(px[y0::dy, x0::dx], depth, k)
                        for k, (y0, x0, dy, dx) in enumerate(ADAM7)
                        if px[y0::dy, x0::dx].size)
    else:
        data = filtered(px, depth)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color,
                                                             0, 0, int(interlace)))
    if palette is not None:
        out += chunk(b"PLTE", palette.astype(np.uint8).tobytes())
    if trns is not None:
        out += chunk(b"tRNS", bytes(trns))
    half = len(data) // 2  # two IDAT chunks, split inside the zlib stream
    z = zlib.compress(data)
    return out + chunk(b"IDAT", z[:half]) + chunk(b"IDAT", z[half:]) + chunk(b"IEND", b"")


def decoded(data, mode="UNCHANGED"):
    return io.decode_png(data, mode).numpy().transpose(1, 2, 0)


@pytest.mark.parametrize("color, channels", [(0, 1), (4, 2), (2, 3), (6, 4)])
@pytest.mark.parametrize("interlace", [False, True])
def test_png_8bit_colour_types_and_all_filters(color, channels, interlace):
    px = RNG.integers(0, 256, (11, 13, channels), dtype=np.uint8)
    out = decoded(png_bytes(px, color, 8, interlace=interlace))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, px)


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_png_low_bit_depth_gray_is_scaled(depth):
    px = RNG.integers(0, 1 << depth, (6, 11, 1), dtype=np.uint8)
    out = decoded(png_bytes(px, 0, depth))
    np.testing.assert_array_equal(out, px * (255 // ((1 << depth) - 1)))


@pytest.mark.parametrize("depth", [1, 2, 4, 8])
def test_png_palette_indices_and_colours(depth):
    n = 1 << depth
    palette = RNG.integers(0, 256, (n, 3), dtype=np.uint8)
    px = RNG.integers(0, n, (7, 9, 1), dtype=np.uint8)
    trns = list(range(10, 10 + min(n, 3)))  # alpha for the first entries, opaque after
    data = png_bytes(px, 3, depth, palette=palette, trns=trns)
    np.testing.assert_array_equal(decoded(data), px)  # UNCHANGED: indices, as torchvision
    np.testing.assert_array_equal(decoded(data, "RGB"), palette[px[..., 0]])
    alpha = np.full(n, 255)
    alpha[:len(trns)] = trns
    rgba = decoded(data, io.ImageReadMode.RGB_ALPHA)
    np.testing.assert_array_equal(rgba[..., 3], alpha[px[..., 0]])
    np.testing.assert_array_equal(rgba[..., :3], palette[px[..., 0]])


def test_png_16bit_gives_int32():
    px = RNG.integers(0, 65536, (5, 6, 3)).astype(np.int64)
    out = decoded(png_bytes(px, 2, 16))
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, px)
    gray = decoded(png_bytes(px[..., :1], 0, 16, interlace=True))
    np.testing.assert_array_equal(gray, px[..., :1])


def test_png_read_modes_convert_channels():
    rgba = RNG.integers(0, 256, (4, 5, 4), dtype=np.uint8)
    data = png_bytes(rgba, 6, 8)
    luma = (0.2989 * rgba[..., 0] + 0.587 * rgba[..., 1] + 0.1141 * rgba[..., 2])
    gray = decoded(data, "GRAY")[..., 0].astype(int)
    assert np.abs(gray - luma).max() <= 1  # libpng's fixed point truncates
    np.testing.assert_array_equal(decoded(data, "GRAY_ALPHA")[..., 1], rgba[..., 3])
    np.testing.assert_array_equal(decoded(data, io.ImageReadMode.RGB), rgba[..., :3])
    g = RNG.integers(0, 256, (4, 5, 1), dtype=np.uint8)
    gdata = png_bytes(g, 0, 8)
    np.testing.assert_array_equal(decoded(gdata, "RGB"), np.repeat(g, 3, -1))
    np.testing.assert_array_equal(decoded(gdata, "RGBA")[..., 3], 255)
    np.testing.assert_array_equal(decoded(gdata, "GRAY_ALPHA")[..., 0], g[..., 0])
    same = np.repeat(g, 3, -1)
    np.testing.assert_array_equal(decoded(png_bytes(same, 2, 8), "GRAY"), g)
    with pytest.raises(ValueError, match="decode_png: mode"):
        io.decode_png(gdata, "CMYK")


def test_png_matches_pillow_when_installed(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    y, x = np.mgrid[0:40, 0:50]
    rgb = np.stack([(3 * x) % 256, (5 * y) % 256, (x * y) % 256], -1).astype(np.uint8)
    for mode, arr in (("RGB", rgb), ("L", rgb[..., 0]), ("RGBA", np.dstack([rgb, rgb[..., :1]]))):
        path = tmp_path / f"{mode}.png"
        Image.fromarray(arr, mode).save(path, optimize=True)
        out = io.read_image(path).numpy().transpose(1, 2, 0)
        np.testing.assert_array_equal(out.reshape(arr.shape), arr)


def test_write_png_round_trips(tmp_path):
    for c in (1, 2, 3, 4):
        img = ember.tensor(RNG.integers(0, 256, (c, 6, 7), dtype=np.uint8))
        for level in (0, 9):
            path = tmp_path / f"img{c}_{level}.png"
            io.write_png(img, path, compression_level=level)
            back = io.read_image(str(path))
            assert back.dtype == ember.uint8
            np.testing.assert_array_equal(back.numpy(), img.numpy())
    encoded = io.encode_png(img)
    assert encoded.dtype == ember.uint8 and encoded.ndim == 1
    np.testing.assert_array_equal(io.decode_image(encoded).numpy(), img.numpy())
    with pytest.raises(ValueError, match="compression level"):
        io.encode_png(img, 10)
    with pytest.raises(ValueError, match="uint8 tensor"):
        io.encode_png(ember.rand(3, 4, 4))


def test_png_corrupt_files_raise(tmp_path):
    good = io.encode_png(ember.zeros(1, 3, 3, dtype=ember.uint8)).numpy().tobytes()
    with pytest.raises(RuntimeError, match="not png"):
        io.decode_png(b"GIF89a" + good[6:])
    bad_crc = bytearray(good)
    bad_crc[30] ^= 0xFF
    with pytest.raises(RuntimeError, match="CRC mismatch"):
        io.decode_png(bytes(bad_crc))
    with pytest.raises(RuntimeError, match="truncated"):
        io.decode_png(good[:40])
    lines = bytes([0, 1, 2, 3, 9, 0, 0, 0])  # filter type 9 on row 1
    ihdr = struct.pack(">IIBBBBB", 3, 2, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(lines)) \
        + chunk(b"IEND", b"")
    with pytest.raises(RuntimeError, match="unknown filter type 9 on row 1"):
        io.decode_png(data)
    path = tmp_path / "x.gif"
    path.write_bytes(b"GIF89a....")
    with pytest.raises(RuntimeError, match="unsupported image format"):
        io.read_image(path)


# -- PNM -----------------------------------------------------------------------------------------
def test_ppm_pgm_binary_and_ascii(tmp_path):
    rgb = RNG.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    (tmp_path / "a.ppm").write_bytes(b"P6\n# made by hand\n5 4\n255\n" + rgb.tobytes())
    np.testing.assert_array_equal(io.read_image(tmp_path / "a.ppm").numpy(),
                                  rgb.transpose(2, 0, 1))
    gray = RNG.integers(0, 16, (3, 6), dtype=np.uint8)
    (tmp_path / "b.pgm").write_bytes(b"P5 6 3 15\n" + gray.tobytes())
    out = io.read_image(tmp_path / "b.pgm").numpy()
    np.testing.assert_array_equal(out[0], (gray.astype(int) * 255 + 7) // 15)
    text = "P2\n6 3\n255\n" + " ".join(map(str, gray.ravel())) + "\n"
    (tmp_path / "c.pgm").write_text(text)
    np.testing.assert_array_equal(io.read_image(tmp_path / "c.pgm", "RGB").numpy(),
                                  np.repeat(gray[None], 3, 0))
    wide = RNG.integers(0, 65536, (2, 3, 3)).astype(">u2")
    (tmp_path / "d.ppm").write_bytes(b"P6 3 2 65535\n" + wide.tobytes())
    np.testing.assert_array_equal(io.read_image(tmp_path / "d.ppm").numpy(),
                                  wide.astype(np.int32).transpose(2, 0, 1))
    (tmp_path / "e.ppm").write_bytes(b"P6\n5 4\n255\n" + rgb.tobytes()[:10])
    with pytest.raises(RuntimeError, match="truncated"):
        io.read_image(tmp_path / "e.ppm")


# -- ImageFolder --------------------------------------------------------------------------------
def make_tree(root):
    imgs = {}
    for cls, names in (("dog", ["b.png", "a.ppm", "sub/c.png"]), ("cat", ["z.pgm", "y.png"])):
        for i, name in enumerate(names):
            path = root / cls / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if name.endswith(".pgm"):
                px = RNG.integers(0, 256, (5, 4), dtype=np.uint8)
                path.write_bytes(b"P5 4 5 255\n" + px.tobytes())
                imgs[str(path)] = np.repeat(px[..., None], 3, -1)
            else:
                px = RNG.integers(0, 256, (5, 4, 3), dtype=np.uint8)
                if name.endswith(".ppm"):
                    path.write_bytes(b"P6 4 5 255\n" + px.tobytes())
                else:
                    io.write_png(ember.tensor(px.transpose(2, 0, 1).copy()), path)
                imgs[str(path)] = px
    (root / "dog" / "notes.txt").write_text("not an image")
    return imgs


def test_image_folder_classes_samples_and_loading(tmp_path):
    imgs = make_tree(tmp_path)
    ds = datasets.ImageFolder(tmp_path)
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    names = [p.replace(str(tmp_path), "").replace("\\", "/") for p, _ in ds.samples]
    assert names == ["/cat/y.png", "/cat/z.pgm", "/dog/a.ppm", "/dog/b.png", "/dog/sub/c.png"]
    assert ds.targets == [0, 0, 1, 1, 1] and ds.imgs == ds.samples and len(ds) == 5
    for i, (path, target) in enumerate(ds.samples):
        img, t = ds[i]
        assert t == target and img.dtype == np.uint8 and img.shape == (5, 4, 3)
        np.testing.assert_array_equal(img, imgs[path])
    ds = datasets.ImageFolder(tmp_path, transform=T.ToTensor(), target_transform=lambda t: -t)
    img, target = ds[4]
    assert tuple(img.shape) == (3, 5, 4) and target == -1
    assert "Dataset ImageFolder" in repr(ds) and "ToTensor()" in repr(ds)
    raw = datasets.ImageFolder(tmp_path, loader=io.read_image)
    assert tuple(raw[1][0].shape) == (1, 5, 4)  # the PGM, unchanged
    batch, targets = next(iter(ember.utils.data.DataLoader(ds, batch_size=5)))
    assert tuple(batch.shape) == (5, 3, 5, 4) and targets.tolist() == [0, 0, -1, -1, -1]


def test_dataset_folder_options_and_errors(tmp_path):
    make_tree(tmp_path)
    only_png = datasets.ImageFolder(tmp_path, is_valid_file=lambda p: p.endswith(".png"))
    assert len(only_png) == 3 and only_png.extensions is None
    txt = datasets.DatasetFolder(tmp_path, loader=lambda p: open(p).read(), extensions=".txt",
                                 allow_empty=True)
    assert len(txt) == 1 and txt[0] == ("not an image", 1)
    with pytest.raises(FileNotFoundError, match="Found no valid file for the classes cat"):
        datasets.DatasetFolder(tmp_path, loader=open, extensions=(".txt",))
    with pytest.raises(ValueError, match="Both extensions and is_valid_file"):
        datasets.DatasetFolder(tmp_path, loader=open)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        datasets.ImageFolder(tmp_path / "empty")


# -- CIFAR ----------------------------------------------------------------------------------------
def cifar_records(n, label_bytes, seed):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, (n, label_bytes), dtype=np.uint8)
    raw = np.concatenate([labels, images.reshape(n, -1)], axis=1).tobytes()
    return raw, images, labels


def test_cifar10_reads_the_binary_batches(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    train_imgs, train_labels = [], []
    for i in range(1, 6):
        raw, imgs, labels = cifar_records(i, 1, seed=i)
        (folder / f"data_batch_{i}.bin").write_bytes(raw)
        train_imgs.append(imgs)
        train_labels.append(labels[:, 0])
    raw, test_imgs, test_labels = cifar_records(4, 1, seed=9)
    (folder / "test_batch.bin").write_bytes(raw)
    ds = datasets.CIFAR10(tmp_path)
    assert len(ds) == 15 and ds.data.shape == (15, 32, 32, 3) and ds.data.dtype == np.uint8
    np.testing.assert_array_equal(ds.data, np.concatenate(train_imgs).transpose(0, 2, 3, 1))
    assert ds.targets == np.concatenate(train_labels).tolist()
    assert ds.classes[0] == "airplane" and ds.class_to_idx["truck"] == 9
    img, target = ds[3]
    assert isinstance(img, np.ndarray) and img.shape == (32, 32, 3) and target == ds.targets[3]
    test = datasets.CIFAR10(str(tmp_path), train=False, transform=T.ToTensor())
    img, target = test[2]
    np.testing.assert_allclose(img.numpy(), test_imgs[2] / np.float32(255), rtol=1e-6)
    assert target == int(test_labels[2, 0]) and "Split: Test" in repr(test)
    (folder / "batches.meta.txt").write_text("\n".join(f"c{i}" for i in range(10)) + "\n\n")
    assert datasets.CIFAR10(folder, train=False).classes[3] == "c3"  # files flat in root


def test_cifar100_coarse_and_fine_labels(tmp_path):
    folder = tmp_path / "cifar-100-binary"
    folder.mkdir()
    raw, imgs, labels = cifar_records(6, 2, seed=3)
    (folder / "train.bin").write_bytes(raw)
    (folder / "test.bin").write_bytes(raw[:2 * 3074])
    ds = datasets.CIFAR100(tmp_path)
    assert ds.targets == labels[:, 1].tolist() and ds.coarse_targets == labels[:, 0].tolist()
    np.testing.assert_array_equal(ds.data, imgs.transpose(0, 2, 3, 1))
    assert len(ds.classes) == 100 and ds.classes[:2] == ["apple", "aquarium_fish"]
    assert len(ds.coarse_classes) == 20
    assert len(datasets.CIFAR100(tmp_path, train=False)) == 2


def test_cifar_errors_say_what_to_do(tmp_path):
    with pytest.raises(RuntimeError, match="does not download.*cifar-10-binary.tar.gz"):
        datasets.CIFAR10(tmp_path, download=True)
    with pytest.raises(RuntimeError, match="Dataset not found.*data_batch_1.bin"):
        datasets.CIFAR10(tmp_path)
    folder = tmp_path / "cifar-100-binary"
    folder.mkdir()
    (folder / "test.bin").write_bytes(b"\x00" * 3000)
    with pytest.raises(RuntimeError, match="not a whole number of 3074-byte records"):
        datasets.CIFAR100(tmp_path, train=False)
    raw, _, _ = cifar_records(1, 2, seed=0)
    (folder / "test.bin").write_bytes(bytes([0, 200]) + raw[2:])
    with pytest.raises(RuntimeError, match="fine label 200 is out of range"):
        datasets.CIFAR100(tmp_path, train=False)
