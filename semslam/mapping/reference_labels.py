"""Plain numpy references of the semantic kernels (SemanticFusion, McCormac et al. ICRA 2017),
written for clarity, not speed: the recursive Bayesian label update and the dense CRF over
surfels with brute-force neighbours. Tests compare the core against them on small inputs.

Tables of class probabilities are (N, C) arrays; labels are the argmax with ties to the smaller
class; float64 maths, rounded to the table's dtype where the core stores.
"""

from __future__ import annotations

import numpy as np


def argmax_labels(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labels int32, confidences float32) of a table, as the core keeps them: -1 / 0 without classes."""
    probs = np.asarray(probs, dtype=np.float32)
    if probs.shape[1] == 0:
        return np.full(len(probs), -1, np.int32), np.zeros(len(probs), np.float32)
    labels = np.argmax(probs, axis=1).astype(np.int32)  # first maximum
    return labels, probs[np.arange(len(probs)), labels].astype(np.float32)


def visible_pixels(fine_index: np.ndarray, n: int, index_scale: int) -> dict[int, tuple[int, int]]:
    """Surfel -> (x, y) pixel of the sub-pixel it holds in the fine index map (each surfel holds at most one)."""
    out: dict[int, tuple[int, int]] = {}
    ys, xs = np.nonzero(fine_index >= 0)
    for fy, fx in zip(ys, xs):
        i = int(fine_index[fy, fx])
        assert i not in out and i < n, "a surfel holds one sub-pixel"
        out[i] = (int(fx) // index_scale, int(fy) // index_scale)
    return out


def update_labels(class_probs: np.ndarray, fine_index: np.ndarray, index_scale: int, probs: np.ndarray,
                  probability_floor: float) -> tuple[np.ndarray, dict]:
    """The Bayesian update of every surfel visible in `fine_index` (the fine index map rendered at
    the segmented frame's pose): p <- normalise(max(normalise(p * q), floor)) with q the
    segmentation's probabilities at its pixel. Returns the new table (the input's dtype) and the
    counts visible / updated / rejected."""
    table = np.array(class_probs)
    visible = visible_pixels(fine_index, len(table), index_scale)
    updated = rejected = 0
    for i, (x, y) in visible.items():
        q = probs[y, x].astype(np.float64)
        if not np.isfinite(q).all() or (q < 0).any() or not q.max() > 0:
            rejected += 1
            continue
        v = table[i].astype(np.float64) * q / q.max()
        if not v.sum() > 0:
            rejected += 1
            continue
        v = np.maximum(v / v.sum(), probability_floor)
        table[i] = (v / v.sum()).astype(table.dtype)
        updated += 1
    return table, {"visible": len(visible), "updated": updated, "rejected": rejected}


# --- the dense CRF ------------------------------------------------------------------------------

MAX_CELLS = 1 << 24  # the core's grid doubles its cell size until it has at most this many cells


def crf_grid(positions: np.ndarray, radius: float):
    """The core's uniform grid: origin (min of the finite positions), cell size and dims, float32 maths."""
    p = np.asarray(positions, dtype=np.float32)
    finite = np.isfinite(p).all(1)
    lo, hi = p[finite].min(0), p[finite].max(0)
    h = np.float32(radius)
    while True:
        dims = (np.floor((hi - lo) / h)).astype(np.int64) + 1
        if int(np.prod(dims)) <= MAX_CELLS:
            return lo, h, dims
        h = np.float32(h * 2)


def crf_neighbours(positions: np.ndarray, radius: float, max_neighbours: int) -> list[tuple[np.ndarray, int]]:
    """Per surfel i: (the sampled neighbours j != i within the radius, the stride). The core samples a
    stride through the surfels of the 27 cells around i's (each cell in index order): stride =
    ceil(candidates / max_neighbours), and keeps the k-th surfel of a cell when k % stride ==
    i % stride. Brute force here: cells and ranks from the positions directly."""
    p = np.asarray(positions, dtype=np.float32)
    n = len(p)
    finite = np.isfinite(p).all(1)
    lo, h, dims = crf_grid(p, radius)
    cells = np.full((n, 3), -(10**9), dtype=np.int64)
    cells[finite] = np.floor((p[finite] - lo) / h).astype(np.int64)
    cell_id = np.where(finite, cells[:, 0] + dims[0] * (cells[:, 1] + dims[1] * cells[:, 2]), -1)
    rank = np.zeros(n, dtype=np.int64)  # position within its cell, in index order
    seen: dict[int, int] = {}
    for i in range(n):
        if finite[i]:
            rank[i] = seen.get(int(cell_id[i]), 0)
            seen[int(cell_id[i])] = rank[i] + 1
    p64 = p.astype(np.float64)
    out = []
    for i in range(n):
        if not finite[i]:
            out.append((np.zeros(0, dtype=np.int64), 1))
            continue
        near = finite & (np.abs(cells - cells[i]).max(1) <= 1)
        stride = max(1, -(-int(near.sum()) // max_neighbours))
        take = near & (rank % stride == i % stride)
        take[i] = False
        d2 = ((p64 - p64[i]) ** 2).sum(1)
        take &= d2 <= np.float32(radius) ** 2
        out.append((np.nonzero(take)[0], stride))
    return out


def crf(class_probs: np.ndarray, positions: np.ndarray, colours: np.ndarray, normals: np.ndarray, *,
        iterations: int, sigma_position: float, sigma_colour: float, sigma_normal: float,
        appearance_weight: float, smoothness_weight: float, neighbour_radius: float, max_neighbours: int,
        probability_floor: float) -> tuple[np.ndarray, dict]:
    """Mean-field inference of the dense CRF over surfels as SemanticFusion runs it (Krahenbuhl and
    Koltun's DenseCRF with Potts compatibility): unary -log p; two Gaussian kernels, appearance
    w_a exp(-|dp|^2 / 2 s_p^2 - |dc|^2 / 2 s_c^2) and smoothness w_s exp(-|dp|^2 / 2 s_p^2 - |dn|^2 / 2 s_n^2),
    each normalised per surfel by 1 + its sum over the neighbours j != i (the surfel itself
    counts in the normaliser, as in SemanticFusion's lattice, but its own Q is not in its message);
    sampled neighbours count `stride` times. Q_i <- softmax(-unary_i + sum_k w_k sum_j k_k(i, j) Q_j /
    (1 + sum_j k_k(i, j))), starting from Q = p. The result is floored and renormalised like the label update."""
    p = np.asarray(class_probs, dtype=np.float64)
    n, c = p.shape
    unary = -np.log(np.maximum(p, 1e-12))
    q = p / p.sum(1, keepdims=True)
    pos = np.asarray(positions, dtype=np.float64)
    col = np.asarray(colours, dtype=np.float64)
    nrm = np.asarray(normals, dtype=np.float64)
    neighbours = crf_neighbours(positions, neighbour_radius, max_neighbours)
    coefficients = []
    sampled = 0
    for i, (js, stride) in enumerate(neighbours):
        d2 = ((pos[js] - pos[i]) ** 2).sum(1) / (2 * sigma_position**2)
        ka = np.exp(-d2 - ((col[js] - col[i]) ** 2).sum(1) / (2 * sigma_colour**2))
        ks = np.exp(-d2 - ((nrm[js] - nrm[i]) ** 2).sum(1) / (2 * sigma_normal**2))
        za = 1.0 + stride * ka.sum()
        zs = 1.0 + stride * ks.sum()
        coefficients.append((js, stride * (appearance_weight / za * ka + smoothness_weight / zs * ks)))
        sampled += len(js)
    for _ in range(iterations):
        nxt = np.empty_like(q)
        for i, (js, coef) in enumerate(coefficients):
            message = coef @ q[js]
            e = -unary[i] + message
            e = np.exp(e - e.max())
            nxt[i] = e / e.sum()
        q = nxt
    q = np.maximum(q, probability_floor)
    q = q / q.sum(1, keepdims=True)
    table = q.astype(np.asarray(class_probs).dtype)
    old_labels, _ = argmax_labels(class_probs)
    new_labels, _ = argmax_labels(table)
    return table, {"surfels": n, "mean_neighbours": sampled / max(n, 1),
                   "labels_changed": int((old_labels != new_labels).sum())}

