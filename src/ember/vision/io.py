"""torchvision.io's image files without PIL: PNG and PNM (PGM / PPM) decoding, PNG writing.

Images come back as torchvision.io.read_image gives them: a tensor (C, H, W), uint8 for
8-bit files (int32 for 16-bit ones: ember has no uint16), on the CPU. Decoding is NumPy:
zlib, then PNG's five row filters undone row by row, or, when rows use the Average and Paeth
filters (whose left neighbour dependency runs along the row), along anti-diagonals of the
image, so the Python loop runs H + W times rather than once per pixel.

Example::

    >>> from ember.vision.io import read_image, write_png, ImageReadMode
    >>> write_png(ember.zeros(3, 4, 5, dtype=ember.uint8), "black.png")
    >>> read_image("black.png", ImageReadMode.GRAY).shape
    ember.Size([1, 4, 5])
"""
from __future__ import annotations

import os
import re
import struct
import zlib
from enum import Enum
from typing import Any

import numpy as np

from ..tensor import Tensor

__all__ = [
    "ImageReadMode", "read_file", "write_file", "decode_png", "decode_pnm", "decode_image",
    "read_image", "encode_png", "write_png",
]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# colour type -> (channels, allowed bit depths)
_PNG_COLOR_TYPES = {0: (1, (1, 2, 4, 8, 16)), 2: (3, (8, 16)), 3: (1, (1, 2, 4, 8)),
                    4: (2, (8, 16)), 6: (4, (8, 16))}
_PALETTE = 3
# Adam7 passes: (first row, first column, row step, column step)
_ADAM7 = ((0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2),
          (0, 1, 2, 2), (1, 0, 2, 1))
# libpng's rgb_to_gray with torchvision's weights (0.2989, 0.587), in 1/32768ths
_LUMA = (9794, 19234, 32768 - 9794 - 19234)


class ImageReadMode(Enum):
    """The channels to decode into (torchvision.io.ImageReadMode)."""

    UNCHANGED = 0
    GRAY = 1
    GRAY_ALPHA = 2
    RGB = 3
    RGB_ALPHA = 4
    RGBA = 4  # an alias of RGB_ALPHA, as in torchvision


def _read_mode(mode: Any, op: str) -> ImageReadMode:
    if isinstance(mode, ImageReadMode):
        return mode
    if isinstance(mode, str) and mode.upper() in ImageReadMode.__members__:
        return ImageReadMode[mode.upper()]
    names = ", ".join(ImageReadMode.__members__)
    raise ValueError(f"{op}: mode should be an ImageReadMode or one of {names}, got {mode!r}")


# -- files and bytes -------------------------------------------------------------------------
def read_file(path: str | os.PathLike) -> Tensor:
    """The file's bytes as a 1-D uint8 tensor."""
    with open(path, "rb") as f:
        return Tensor._make(np.frombuffer(f.read(), dtype=np.uint8).copy())


def write_file(filename: str | os.PathLike, data: Tensor) -> None:
    """Writes a 1-D uint8 tensor's bytes to ``filename``."""
    with open(filename, "wb") as f:
        f.write(_as_bytes(data, "write_file"))


def _as_bytes(data: Any, op: str) -> bytes:
    """Encoded image data (a 1-D uint8 tensor, bytes or a NumPy array) as bytes."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, Tensor):
        if data.dtype.numpy != np.uint8 or data.ndim != 1:
            raise TypeError(f"{op}: expected a 1-D uint8 tensor of encoded bytes, got "
                            f"{data.dtype} of shape {tuple(data.shape)}")
        data = data.cpu().numpy()
    if isinstance(data, np.ndarray) and data.dtype == np.uint8:
        return data.tobytes()
    raise TypeError(f"{op}: expected a 1-D uint8 tensor or bytes, got {type(data).__name__}")


def _to_tensor(hwc: np.ndarray) -> Tensor:
    """(H, W, C) pixels -> a contiguous (C, H, W) tensor."""
    return Tensor._make(np.ascontiguousarray(hwc.transpose(2, 0, 1)))


# -- PNG decoding ------------------------------------------------------------------------------
def _png_chunks(data: bytes):
    """Yields (type, payload) of each chunk, checking lengths and CRCs."""
    pos = len(_PNG_SIGNATURE)
    while pos < len(data):
        if pos + 8 > len(data):
            raise RuntimeError("decode_png: truncated chunk header; the file is corrupt")
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 8 + length
        if end + 4 > len(data):
            raise RuntimeError(f"decode_png: chunk {kind!r} is truncated; the file is corrupt")
        payload = data[pos + 8:end]
        (crc,) = struct.unpack(">I", data[end:end + 4])
        if zlib.crc32(kind + payload) != crc:
            raise RuntimeError(f"decode_png: CRC mismatch in chunk {kind!r}; the file is corrupt")
        yield kind, payload
        if kind == b"IEND":
            return
        pos = end + 4
    raise RuntimeError("decode_png: no IEND chunk; the file is truncated")


def _parse_png(data: bytes) -> dict:
    """The header fields, palette, transparency and the decompressed image data."""
    if not data.startswith(_PNG_SIGNATURE):
        raise RuntimeError("decode_png: content is not png (bad signature)")
    info: dict = {"palette": None, "trns": None}
    idat = []
    for kind, payload in _png_chunks(data):
        if kind == b"IHDR":
            (info["width"], info["height"], info["depth"], info["color"], _, _,
             info["interlace"]) = struct.unpack(">IIBBBBB", payload)
        elif kind == b"PLTE":
            info["palette"] = np.frombuffer(payload, np.uint8).reshape(-1, 3)
        elif kind == b"tRNS":
            info["trns"] = np.frombuffer(payload, np.uint8)
        elif kind == b"IDAT":
            idat.append(payload)
    if "width" not in info:
        raise RuntimeError("decode_png: no IHDR chunk; the file is corrupt")
    _check_header(info)
    try:
        info["raw"] = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8)
    except zlib.error as e:
        raise RuntimeError(f"decode_png: corrupt image data ({e})") from None
    return info


def _check_header(info: dict) -> None:
    color, depth = info["color"], info["depth"]
    if color not in _PNG_COLOR_TYPES:
        raise RuntimeError(f"decode_png: invalid colour type {color}")
    channels, depths = _PNG_COLOR_TYPES[color]
    if depth not in depths:
        raise RuntimeError(f"decode_png: bit depth {depth} is invalid for colour type {color}")
    if color == _PALETTE and info["palette"] is None:
        raise RuntimeError("decode_png: palette image without a PLTE chunk")
    info["channels"] = channels


def _paeth(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The neighbour (left a, up b, up-left c) closest to a + b - c."""
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def _unfilter_rows(kinds: np.ndarray, lines: np.ndarray, bpp: int) -> np.ndarray:
    """Undoes the None, Sub and Up filters, one vectorised row at a time."""
    out = np.empty_like(lines)
    prev = np.zeros(lines.shape[1], np.uint8)
    for r, kind in enumerate(kinds.tolist()):
        line = lines[r]
        if kind == 1:   # Sub: a running sum of each byte of a pixel, mod 256
            line = line.reshape(-1, bpp).cumsum(axis=0, dtype=np.uint8).ravel()
        elif kind == 2:  # Up
            line = line + prev
        out[r] = prev = line
    return out


def _unfilter_diagonals(kinds: np.ndarray, lines: np.ndarray, bpp: int) -> np.ndarray:
    """Undoes all five filters, one anti-diagonal of pixels at a time.

    Pixel (r, x) needs its left, upper and upper-left neighbours, which all lie on the
    two previous anti-diagonals r + x = d - 1, d - 2.
    """
    rows, stride = lines.shape
    units = stride // bpp
    raw = lines.reshape(rows, units, bpp).astype(np.int16)
    out = np.zeros((rows + 1, units + 1, bpp), np.int16)  # zero row above, column left
    kind = kinds.astype(np.int16)[:, None]
    for d in range(rows + units - 1):
        r = np.arange(max(0, d - units + 1), min(rows, d + 1))
        x = d - r
        a, b, c = out[r + 1, x], out[r, x + 1], out[r, x]
        k = kind[r]
        pred = np.select([k == 1, k == 2, k == 3, k == 4],
                         [a, b, (a + b) >> 1, _paeth(a, b, c)], 0)
        out[r + 1, x + 1] = (raw[r, x] + pred) & 0xFF
    return out[1:, 1:].reshape(rows, stride).astype(np.uint8)


def _unfilter(raw: np.ndarray, rows: int, stride: int, bpp: int) -> np.ndarray:
    """The (rows, stride) scanline bytes of filtered PNG data (a filter byte per row)."""
    need = rows * (stride + 1)
    if raw.size < need:
        raise RuntimeError(f"decode_png: image data holds {raw.size} bytes, {need} needed; "
                           f"the file is truncated")
    lines = raw[:need].reshape(rows, stride + 1)
    kinds, lines = lines[:, 0], lines[:, 1:]
    if kinds.size and kinds.max() > 4:
        row = int(np.argmax(kinds > 4))
        raise RuntimeError(f"decode_png: unknown filter type {kinds[row]} on row {row}")
    if kinds.size and kinds.max() > 2:
        return _unfilter_diagonals(kinds, lines, bpp)
    return _unfilter_rows(kinds, lines, bpp)


def _samples(lines: np.ndarray, width: int, channels: int, depth: int) -> np.ndarray:
    """Scanline bytes (rows, stride) -> samples (rows, width, channels)."""
    rows = lines.shape[0]
    if depth == 8:
        return lines[:, :width * channels].reshape(rows, width, channels)
    if depth == 16:
        big = lines[:, :width * channels * 2].copy().view(">u2")
        return big.reshape(rows, width, channels).astype(np.int32)
    bits = np.unpackbits(lines, axis=1).reshape(rows, -1, depth)  # sub-byte: one channel
    place = 1 << np.arange(depth - 1, -1, -1)
    return (bits * place).sum(axis=-1)[:, :width, None].astype(np.uint8)


def _png_pixels(info: dict) -> np.ndarray:
    """The image's samples (H, W, C), de-interlaced, before any colour conversion."""
    w, h, depth, channels = info["width"], info["height"], info["depth"], info["channels"]
    bpp = max(1, channels * depth // 8)
    stride_of = (lambda n: (n * channels * depth + 7) // 8)
    if info["interlace"] == 0:
        return _samples(_unfilter(info["raw"], h, stride_of(w), bpp), w, channels, depth)
    out = np.zeros((h, w, channels), np.int32 if depth == 16 else np.uint8)
    raw, pos = info["raw"], 0
    for y0, x0, dy, dx in _ADAM7:
        ph, pw = (h - y0 + dy - 1) // dy, (w - x0 + dx - 1) // dx
        if ph <= 0 or pw <= 0:
            continue
        size = ph * (stride_of(pw) + 1)
        lines = _unfilter(raw[pos:pos + size], ph, stride_of(pw), bpp)
        out[y0::dy, x0::dx] = _samples(lines, pw, channels, depth)
        pos += size
    return out


def _expand(info: dict, pixels: np.ndarray, mode: ImageReadMode) -> np.ndarray:
    """Scales sub-byte gray to 0..255 and looks up palette colours (unless UNCHANGED)."""
    depth = info["depth"]
    if info["color"] == 0 and depth < 8:
        return pixels * np.uint8(255 // ((1 << depth) - 1))
    if info["color"] != _PALETTE or mode == ImageReadMode.UNCHANGED:
        return pixels  # torchvision gives a palette image's indices for UNCHANGED
    palette, trns = info["palette"], info["trns"]
    if trns is not None:
        alpha = np.full((len(palette), 1), 255, np.uint8)
        alpha[:min(len(trns), len(palette)), 0] = trns[:len(palette)]
        palette = np.concatenate([palette, alpha], axis=1)
    index = pixels[..., 0]
    if index.size and int(index.max()) >= len(palette):
        raise RuntimeError(f"decode_png: palette index {int(index.max())} out of range for "
                           f"a palette of {len(palette)} colours")
    return palette[index]


def _luma(rgb: np.ndarray) -> np.ndarray:
    """libpng's rgb_to_gray: a fixed-point weighted sum, truncated."""
    r, g, b = (rgb[..., i:i + 1].astype(np.int64) for i in range(3))
    return ((_LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b) >> 15).astype(rgb.dtype)


def _convert(pixels: np.ndarray, mode: ImageReadMode, top: int) -> np.ndarray:
    """(H, W, C) with C in 1..4 -> the channels ``mode`` asks for."""
    if mode == ImageReadMode.UNCHANGED:
        return pixels
    c = pixels.shape[-1]
    has_alpha = c in (2, 4)
    alpha = (pixels[..., -1:] if has_alpha
             else np.full(pixels.shape[:2] + (1,), top, pixels.dtype))
    if mode in (ImageReadMode.GRAY, ImageReadMode.GRAY_ALPHA):
        color = pixels[..., :1] if c <= 2 else _luma(pixels[..., :3])
    else:
        color = pixels[..., :3] if c >= 3 else np.repeat(pixels[..., :1], 3, axis=-1)
    if mode in (ImageReadMode.GRAY, ImageReadMode.RGB):
        return color
    return np.concatenate([color, alpha], axis=-1)


def decode_png(input: Any, mode: Any = ImageReadMode.UNCHANGED,
               apply_exif_orientation: bool = False) -> Tensor:
    """Decodes PNG bytes (a 1-D uint8 tensor or bytes) into a tensor (C, H, W).

    Supports every standard colour type and bit depth, interlaced or not. ``mode``
    converts channels as torchvision (libpng) does: RGB -> gray with weights 0.2989, 0.587,
    0.114; a missing alpha channel is opaque; UNCHANGED leaves a palette image's indices.

    Example::

        >>> decode_png(read_file("cat.png"), ImageReadMode.RGB).shape   # (3, H, W)
    """
    mode = _read_mode(mode, "decode_png")
    if apply_exif_orientation:
        raise NotImplementedError("decode_png: ember does not read EXIF orientation; pass "
                                  "apply_exif_orientation=False")
    info = _parse_png(_as_bytes(input, "decode_png"))
    pixels = _expand(info, _png_pixels(info), mode)
    return _to_tensor(_convert(pixels, mode, 65535 if info["depth"] == 16 else 255))


# -- PNM (PGM / PPM) ----------------------------------------------------------------------------
_PNM_TOKEN = re.compile(rb"(?:\s|#[^\r\n]*(?:\r\n|\r|\n)?)*(\d+)")
_PNM_CHANNELS = {b"P2": 1, b"P3": 3, b"P5": 1, b"P6": 3}


def _pnm_header(data: bytes) -> tuple[int, int, int, int]:
    """(width, height, maxval, offset of the raster's first byte or token)."""
    values, pos = [], 2
    for name in ("width", "height", "maxval"):
        m = _PNM_TOKEN.match(data, pos)
        if m is None:
            raise RuntimeError(f"decode_pnm: could not read the {name} from the header")
        values.append(int(m.group(1)))
        pos = m.end()
    width, height, maxval = values
    if not 0 < maxval < 65536:
        raise RuntimeError(f"decode_pnm: maxval {maxval} is out of range (1..65535)")
    return width, height, maxval, pos + 1  # one whitespace byte ends the header


def decode_pnm(input: Any, mode: Any = ImageReadMode.UNCHANGED) -> Tensor:
    """Decodes PGM (P5, P2) or PPM (P6, P3) bytes into a tensor (C, H, W).

    Samples with a maxval below 255 are scaled to 0..255; 16-bit ones (maxval > 255) come
    back as int32 in 0..65535.
    """
    mode = _read_mode(mode, "decode_pnm")
    data = _as_bytes(input, "decode_pnm")
    magic = data[:2]
    if magic not in _PNM_CHANNELS:
        raise RuntimeError(f"decode_pnm: unsupported PNM type {magic!r}; ember reads P2, P3, "
                           f"P5 and P6")
    width, height, maxval, pos = _pnm_header(data)
    count = width * height * _PNM_CHANNELS[magic]
    if magic in (b"P2", b"P3"):
        values = np.array(data[pos - 1:].split()[:count], dtype=np.int64)
    else:
        dtype = np.dtype(">u2" if maxval > 255 else np.uint8)
        raster = data[pos:pos + count * dtype.itemsize]
        values = np.frombuffer(raster[:len(raster) // dtype.itemsize * dtype.itemsize], dtype)
    if values.size < count:
        raise RuntimeError(f"decode_pnm: {values.size} samples for a {width}x{height} image "
                           f"that needs {count}; the file is truncated")
    top = 255 if maxval <= 255 else 65535
    scaled = (values.astype(np.int64) * top + maxval // 2) // maxval
    pixels = scaled.reshape(height, width, -1).astype(np.uint8 if top == 255 else np.int32)
    return _to_tensor(_convert(pixels, mode, top))


# -- any format ---------------------------------------------------------------------------------
def decode_image(input: Any, mode: Any = ImageReadMode.UNCHANGED,
                 apply_exif_orientation: bool = False) -> Tensor:
    """Decodes PNG or PNM bytes, recognised by their first bytes, into a tensor (C, H, W)."""
    data = _as_bytes(input, "decode_image")
    if data.startswith(_PNG_SIGNATURE):
        return decode_png(data, mode, apply_exif_orientation)
    if data[:2] in _PNM_CHANNELS:
        return decode_pnm(data, mode)
    raise RuntimeError(f"decode_image: unsupported image format (starts with {data[:8]!r}); "
                       f"ember reads PNG and PNM (PGM / PPM) files")


def read_image(path: str | os.PathLike, mode: Any = ImageReadMode.UNCHANGED,
               apply_exif_orientation: bool = False) -> Tensor:
    """Reads a PNG, PGM or PPM file into a uint8 tensor (C, H, W) (torchvision.io.read_image).

    Args:
        path: the file.
        mode: ImageReadMode (or its name): UNCHANGED, GRAY, GRAY_ALPHA, RGB or RGB_ALPHA.

    Example::

        >>> read_image("digit.png", ImageReadMode.GRAY).shape   # (1, 28, 28)
    """
    return decode_image(read_file(path), mode, apply_exif_orientation)


# -- PNG encoding -------------------------------------------------------------------------------
def _chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload)))


def encode_png(input: Tensor, compression_level: int = 6) -> Tensor:
    """Encodes a uint8 tensor (C, H, W), C in 1..4, as PNG bytes (a 1-D uint8 tensor).

    Rows are written with filter 0 (None); ``compression_level`` 0 stores them uncompressed.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"encode_png: input should be an ember Tensor, got "
                        f"{type(input).__name__}")
    if input.dtype.numpy != np.uint8 or input.ndim != 3 or input.shape[0] not in (1, 2, 3, 4):
        raise ValueError(f"encode_png: input should be a uint8 tensor (C, H, W) with C in "
                         f"1..4, got {input.dtype} of shape {tuple(input.shape)}")
    if not 0 <= compression_level <= 9:
        raise ValueError(f"encode_png: compression level should be between 0 and 9, "
                         f"got {compression_level}")
    c, h, w = input.shape
    hwc = input.cpu().numpy().transpose(1, 2, 0).reshape(h, w * c)
    rows = np.concatenate([np.zeros((h, 1), np.uint8), hwc], axis=1)
    color = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    header = struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    data = (_PNG_SIGNATURE + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(rows.tobytes(), compression_level))
            + _chunk(b"IEND", b""))
    return Tensor._make(np.frombuffer(data, np.uint8).copy())


def write_png(input: Tensor, filename: str | os.PathLike, compression_level: int = 6) -> None:
    """Writes a uint8 tensor (C, H, W) to a PNG file (torchvision.io.write_png)."""
    write_file(filename, encode_png(input, compression_level))
