"""Binary PLY point clouds of surfels, readable by Open3D, MeshLab and CloudCompare.

One vertex per surfel with the properties named in DESIGN.md: x y z nx ny nz (float32),
red green blue (uint8), radius confidence (float32), and — when the map carries them — label
(uint16), label_confidence (float32), instance (int32). Tools that do not know the extra
properties ignore them. Header comments name the producer, the label set and its classes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .atomic import atomic_open

_PLY_TYPES = {
    np.dtype("float32"): "float",
    np.dtype("float64"): "double",
    np.dtype("uint8"): "uchar",
    np.dtype("int8"): "char",
    np.dtype("uint16"): "ushort",
    np.dtype("int16"): "short",
    np.dtype("uint32"): "uint",
    np.dtype("int32"): "int",
}


def surfel_vertex_array(
    positions: np.ndarray,
    normals: np.ndarray,
    colours: np.ndarray,
    radius: np.ndarray,
    confidence: np.ndarray,
    labels: np.ndarray | None = None,
    label_confidence: np.ndarray | None = None,
    instances: np.ndarray | None = None,
) -> np.ndarray:
    """A structured array with the surfel PLY layout. positions/normals (N,3) metres/unit,
    colours (N,3) 0..255 (any numeric dtype; rounded and clipped to uint8)."""
    n = len(positions)
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4"),
              ("red", "u1"), ("green", "u1"), ("blue", "u1"), ("radius", "<f4"), ("confidence", "<f4")]
    if labels is not None:
        fields += [("label", "<u2"), ("label_confidence", "<f4")]
    if instances is not None:
        fields += [("instance", "<i4")]
    out = np.empty(n, dtype=fields)
    for name, column in zip(("x", "y", "z"), np.asarray(positions, np.float32).reshape(n, 3).T):
        out[name] = column
    for name, column in zip(("nx", "ny", "nz"), np.asarray(normals, np.float32).reshape(n, 3).T):
        out[name] = column
    rgb = np.clip(np.rint(np.asarray(colours, np.float64).reshape(n, 3)), 0, 255).astype(np.uint8)
    out["red"], out["green"], out["blue"] = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    out["radius"] = np.asarray(radius, np.float32).reshape(n)
    out["confidence"] = np.asarray(confidence, np.float32).reshape(n)
    if labels is not None:
        out["label"] = np.asarray(labels).reshape(n)
        out["label_confidence"] = (np.zeros(n, np.float32) if label_confidence is None
                                   else np.asarray(label_confidence, np.float32).reshape(n))
    if instances is not None:
        out["instance"] = np.asarray(instances).reshape(n)
    return out


LABEL_SET_COMMENT = "label_set"  # "label_set nyu40 41": the label set's name and number of classes
CLASS_COMMENT = "class"  # "class 1 wall": one per class id


def label_set_comments(label_set) -> list[str]:
    """Header comments naming a LabelSet and its classes: "label_set NAME COUNT", then one
    "class ID NAME" per class (names keep their spaces; the id comes first)."""
    return [f"{LABEL_SET_COMMENT} {label_set.name} {len(label_set)}"] + [
        f"{CLASS_COMMENT} {i} {name}" for i, name in enumerate(label_set.names)
    ]


def parse_label_set_comments(comments: list[str]) -> tuple[str, list[str]] | None:
    """(label set name, class names by id) from header comments `label_set_comments` wrote, or
    None when there are none. ValueError when the class list is incomplete."""
    head = [c.split() for c in comments if c.startswith(LABEL_SET_COMMENT + " ")]
    if not head:
        return None
    name, count = head[0][1], int(head[0][2])
    names: dict[int, str] = {}
    for comment in comments:
        if comment.startswith(CLASS_COMMENT + " "):
            _, class_id, class_name = comment.split(" ", 2)
            names[int(class_id)] = class_name
    if sorted(names) != list(range(count)):
        raise ValueError(f"label set {name!r}: header names {len(names)} of its {count} classes")
    return name, [names[i] for i in range(count)]


def write_ply(path: str | Path, vertices: np.ndarray, comments: list[str] | None = None) -> None:
    """Write a structured vertex array as binary little-endian PLY, atomically."""
    header = ["ply", "format binary_little_endian 1.0"]
    for comment in comments or []:
        header.append("comment " + " ".join(str(comment).split()))  # one line each
    header.append(f"element vertex {len(vertices)}")
    for name in vertices.dtype.names:
        dtype = vertices.dtype[name]
        if dtype.newbyteorder("<") not in [t.newbyteorder("<") for t in _PLY_TYPES]:
            raise ValueError(f"PLY property {name!r} has unsupported dtype {dtype}")
        header.append(f"property {_PLY_TYPES[dtype.newbyteorder('=')]} {name}")
    header.append("end_header")
    with atomic_open(path, "wb") as handle:
        handle.write(("\n".join(header) + "\n").encode("ascii"))
        handle.write(vertices.astype(vertices.dtype.newbyteorder("<"), copy=False).tobytes())


def read_ply(path: str | Path) -> tuple[np.ndarray, list[str]]:
    """Read a binary little-endian PLY with one vertex element (what `write_ply` writes):
    (structured vertex array, header comments)."""
    inverse = {v: k for k, v in _PLY_TYPES.items()}
    data = Path(path).read_bytes()
    end = data.find(b"end_header\n")
    if not data.startswith(b"ply\n") or end < 0:
        raise ValueError(f"{path} is not a PLY file")
    lines = data[:end].decode("ascii").splitlines()
    if "format binary_little_endian 1.0" not in lines:
        raise ValueError(f"{path}: only binary little-endian PLY is read here")
    comments = [line[len("comment "):] for line in lines if line.startswith("comment ")]
    count = next(int(line.split()[2]) for line in lines if line.startswith("element vertex"))
    fields = [(line.split()[2], inverse[line.split()[1]].newbyteorder("<")) for line in lines
              if line.startswith("property ")]
    vertices = np.frombuffer(data, dtype=np.dtype(fields), count=count, offset=end + len("end_header\n"))
    return vertices.copy(), comments
