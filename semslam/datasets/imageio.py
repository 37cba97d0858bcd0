"""Checked image reading: every way an image file can be wrong becomes an ImageReadError naming it.

Readers call these functions (through the module, so tests can count calls) to decode one frame
when it is accessed. Sizes are (height, width) in pixels.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import ImageReadError

_PNG_END = b"IEND"
_JPEG_END = b"\xff\xd9"


def _read_bytes(path: Path) -> np.ndarray:
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except FileNotFoundError:
        raise ImageReadError(f"image file missing: {path}") from None
    except OSError as exc:
        raise ImageReadError(f"cannot read image file {path}: {exc.strerror or exc}") from None
    if data.size == 0:
        raise ImageReadError(f"image file {path} is empty (0 bytes)")
    return data


def _check_complete(path: Path, data: np.ndarray) -> None:
    """cv2 may decode a truncated JPEG (grey bottom rows) or PNG without failing: check the end marker."""
    raw = data.tobytes()
    if raw.startswith(b"\x89PNG") and _PNG_END not in raw[-16:]:
        raise ImageReadError(f"image file {path} is truncated (PNG without its IEND chunk, {len(raw)} bytes)")
    if raw.startswith(b"\xff\xd8") and not raw.rstrip(b"\x00").endswith(_JPEG_END):
        raise ImageReadError(f"image file {path} is truncated (JPEG without its end marker, {len(raw)} bytes)")


def _decode(path: str | Path) -> np.ndarray:
    path = Path(path)
    data = _read_bytes(path)
    _check_complete(path, data)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ImageReadError(f"image file {path} cannot be decoded (corrupt or not an image)")
    return image


def _check_size(path: str | Path, image: np.ndarray, expected_size: tuple[int, int] | None, what: str) -> None:
    if expected_size is not None and image.shape[:2] != tuple(expected_size):
        h, w = expected_size
        raise ImageReadError(
            f"{what} image {path} is {image.shape[1]}x{image.shape[0]} (WxH), expected {w}x{h}"
        )


def read_rgb(
    path: str | Path,
    expected_size: tuple[int, int] | None = None,
    resize_to: tuple[int, int] | None = None,
) -> np.ndarray:
    """Read a colour image as uint8 HxWx3 in RGB order.

    BGRA images lose their alpha channel; grayscale, 16-bit or other channel counts are errors.
    `resize_to` (height, width) resizes with cv2.INTER_AREA before the size check (ScanNet's colour
    is larger than its depth); `expected_size` (height, width) is then enforced.
    """
    image = _decode(path)
    if image.dtype != np.uint8:
        raise ImageReadError(f"colour image {path} has dtype {image.dtype}, expected 8-bit (uint8)")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        raise ImageReadError(f"colour image {path} is grayscale (1 channel), expected 3-channel colour")
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ImageReadError(f"colour image {path} has shape {image.shape}, expected HxWx3")
    if image.shape[2] == 4:
        image = image[:, :, :3]
    if resize_to is not None and image.shape[:2] != tuple(resize_to):
        image = cv2.resize(image, (resize_to[1], resize_to[0]), interpolation=cv2.INTER_AREA)
    _check_size(path, image, expected_size, "colour")
    return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))


def read_depth(
    path: str | Path,
    depth_scale: float,
    expected_size: tuple[int, int] | None = None,
    invalid_value: int | None = None,
) -> np.ndarray:
    """Read a 16-bit depth image as float32 HxW metres (raw / depth_scale; 0 stays 0 = no reading).

    `depth_scale` is raw units per metre (TUM 5000, 7-Scenes/ScanNet 1000). Raw pixels equal to
    `invalid_value` (7-Scenes: 65535) become 0. Anything but single-channel uint16 is an error.
    """
    image = _decode(path)
    if image.ndim != 2:
        raise ImageReadError(f"depth image {path} has shape {image.shape}, expected single-channel HxW")
    if image.dtype != np.uint16:
        raise ImageReadError(f"depth image {path} has dtype {image.dtype}, expected 16-bit (uint16)")
    _check_size(path, image, expected_size, "depth")
    depth = image.astype(np.float32) / np.float32(depth_scale)
    if invalid_value is not None:
        depth[image == invalid_value] = 0.0
    return depth


def read_id_image(path: str | Path, expected_size: tuple[int, int] | None = None, what: str = "label") -> np.ndarray:
    """Read a per-pixel id image (class or instance ids) as uint16 HxW; 8-bit files are widened."""
    image = _decode(path)
    if image.ndim != 2:
        raise ImageReadError(f"{what} image {path} has shape {image.shape}, expected single-channel HxW")
    if image.dtype not in (np.uint8, np.uint16):
        raise ImageReadError(f"{what} image {path} has dtype {image.dtype}, expected uint8 or uint16")
    _check_size(path, image, expected_size, what)
    return image.astype(np.uint16, copy=False)


def image_size(path: str | Path) -> tuple[int, int]:
    """(height, width) of an image file: from the PNG header when it is a PNG, else by decoding."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(24)
    except OSError as exc:
        raise ImageReadError(f"cannot read image file {path}: {exc.strerror or exc}") from None
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        return int.from_bytes(head[20:24], "big"), int.from_bytes(head[16:20], "big")
    image = _decode(path)
    return int(image.shape[0]), int(image.shape[1])
