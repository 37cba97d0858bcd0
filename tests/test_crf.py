"""The dense CRF over surfels (SemanticFusion's map regularisation): the core against its numpy
reference (brute-force neighbours, the same sampling rule) on every device and table storage,
determinism, and a synthetic cloud where the CRF must fix an isolated wrongly labelled patch
without washing out a true boundary."""

from __future__ import annotations

import numpy as np
import pytest
from devices import DEVICES

from semslam.config import MapConfig, SemanticsConfig
from semslam.mapping import SurfelMap
from semslam.mapping import reference_labels as ref

C = 4


def crf_params(**overrides) -> dict:
    """SemanticsConfig's crf_* fields without the prefix (as the pipeline passes them)."""
    cfg = SemanticsConfig()
    params = {k[len("crf_"):]: v for k, v in cfg.model_dump().items()
              if k.startswith("crf_") and k not in ("crf_every", "crf_at_end")}
    params.update(overrides)
    return params


def surfels(positions, colours, normals, probs) -> dict:
    n = len(positions)
    return {
        "positions": np.asarray(positions, np.float32),
        "normals": np.asarray(normals, np.float32),
        "colours": np.asarray(colours, np.float32),
        "radii": np.full(n, 0.004, np.float32),
        "confidences": np.full(n, 20.0, np.float32),
        "init_times": np.zeros(n, np.int32),
        "last_update_times": np.zeros(n, np.int32),
        "instance_ids": np.arange(n, dtype=np.int32),
        "class_probs": np.asarray(probs, np.float32),
    }


def random_cloud(n: int, seed: int) -> dict:
    """Surfels in a 0.3 m box on two crossing planes, noisy colours and normals, random beliefs."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 0.3, (n, 3))
    p[: n // 2, 2] = 0.1 + rng.normal(0, 0.002, n // 2)  # a floor-like plane
    p[n // 2:, 0] = 0.2 + rng.normal(0, 0.002, n - n // 2)  # a wall-like plane
    normals = np.zeros((n, 3))
    normals[: n // 2, 2] = 1.0
    normals[n // 2:, 0] = 1.0
    normals += rng.normal(0, 0.05, (n, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    colours = np.where((p[:, 1] > 0.15)[:, None], [180, 60, 40], [40, 90, 200]) + rng.normal(0, 15, (n, 3))
    probs = rng.dirichlet(np.full(C, 0.7), size=n)
    return surfels(p, np.clip(colours, 0, 255), normals, probs)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("probability_dtype", ["float32", "float16"])
@pytest.mark.parametrize("max_neighbours", [100_000, 12])  # every neighbour within the radius; sampled
def test_crf_matches_reference(device, probability_dtype, max_neighbours):
    s = random_cloud(500, seed=1)
    s["positions"][7] = np.nan  # no neighbours: it keeps its belief
    m = SurfelMap(MapConfig(), device, num_classes=C, probability_dtype=probability_dtype)
    m.set_surfels(s)
    before = m.surfels()
    params = crf_params(iterations=5, neighbour_radius=0.08, max_neighbours=max_neighbours,
                        sigma_normal=0.3)
    stats = m.crf(**params, probability_floor=1e-3)
    expected, expected_stats = ref.crf(before["class_probs"], before["positions"], before["colours"],
                                       before["normals"], probability_floor=1e-3, **params)
    got = m.surfels()
    assert stats["surfels"] == 500 and stats["cell_size"] == pytest.approx(0.08)
    assert stats["mean_neighbours"] == pytest.approx(expected_stats["mean_neighbours"], rel=2e-3)
    assert stats["labels_changed"] == expected_stats["labels_changed"] > 20
    if max_neighbours == 12:
        assert 2 < stats["mean_neighbours"] <= 12  # 12 candidates of the 27 cells, fewer within the radius
    else:
        assert stats["mean_neighbours"] > 30
    tolerance = 1e-4 if probability_dtype == "float32" else 2e-3
    np.testing.assert_allclose(got["class_probs"].astype(np.float64), expected.astype(np.float64), atol=tolerance)
    labels, confidences = ref.argmax_labels(got["class_probs"])
    np.testing.assert_array_equal(got["labels"], labels)
    np.testing.assert_array_equal(got["label_confidences"], confidences)
    assert (got["labels"] == ref.argmax_labels(expected)[0]).mean() > 0.99
    # the isolated surfel kept its belief (floored, renormalised)
    p7 = np.maximum(before["class_probs"][7].astype(np.float64), 1e-3)
    np.testing.assert_allclose(got["class_probs"][7], p7 / p7.sum(), atol=tolerance)


@pytest.mark.parametrize("device", DEVICES)
def test_crf_is_deterministic(device):
    s = random_cloud(3000, seed=2)
    results = []
    for _ in range(2):
        m = SurfelMap(MapConfig(), device, num_classes=C)
        m.set_surfels(s)
        m.crf(**crf_params(neighbour_radius=0.06, max_neighbours=20))
        results.append(m.surfels())
    for k in ("class_probs", "labels", "label_confidences"):
        assert np.array_equal(results[0][k], results[1][k]), k


def patch_cloud():
    """A 0.6 x 0.4 m plane of surfels 1 cm apart: the left part red and class 0, the right part blue
    and class 2 (both believed with 0.6), and a 3 x 3 patch inside the red part wrongly believing
    class 1 with 0.6."""
    xs, ys = np.meshgrid(np.arange(60) * 0.01, np.arange(40) * 0.01)
    positions = np.stack([xs.ravel(), ys.ravel(), np.full(xs.size, 1.5)], 1)
    right = positions[:, 0] >= 0.4
    colours = np.where(right[:, None], [40, 60, 200], [200, 50, 40]).astype(np.float64)
    colours += np.random.default_rng(3).normal(0, 5, colours.shape)
    normals = np.tile([0.0, 0.0, -1.0], (xs.size, 1))
    probs = np.full((xs.size, C), 0.4 / (C - 1))
    truth = np.where(right, 2, 0)
    patch = (np.abs(positions[:, 0] - 0.15) < 0.015) & (np.abs(positions[:, 1] - 0.2) < 0.015)
    assert patch.sum() == 9
    believed = np.where(patch, 1, truth)
    probs[np.arange(xs.size), believed] = 0.6
    return surfels(positions, colours, normals, probs), truth, patch


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("probability_dtype", ["float32", "float16"])
def test_crf_fixes_an_isolated_wrong_patch(device, probability_dtype):
    s, truth, patch = patch_cloud()
    m = SurfelMap(MapConfig(), device, num_classes=C, probability_dtype=probability_dtype)
    m.set_surfels(s)
    assert (m.labels()[0][patch] == 1).all()
    stats = m.crf(**crf_params())  # SemanticFusion's parameters
    labels, confidences = m.labels()
    assert (labels == truth).all()  # the patch is fixed, the red / blue boundary kept
    assert stats["labels_changed"] == 9 and stats["isolated"] == 0
    assert (confidences > 0.6).all()  # agreement sharpened the beliefs


@pytest.mark.parametrize("device", DEVICES)
def test_crf_rejects_bad_parameters(device):
    m = SurfelMap(MapConfig(), device, num_classes=C)
    m.set_surfels(random_cloud(50, seed=4))
    with pytest.raises(ValueError, match="neighbour_radius"):
        m.crf(**crf_params(neighbour_radius=0.0))
    with pytest.raises(ValueError, match="sigmas"):
        m.crf(**crf_params(sigma_colour=-1.0))
    with pytest.raises(ValueError, match="probability_floor"):
        m.crf(**crf_params(), probability_floor=0.5)
    with pytest.raises(ValueError, match="num_classes is 0"):
        SurfelMap(MapConfig(), device).crf(**crf_params())
    assert SurfelMap(MapConfig(), device, num_classes=C).crf(**crf_params())["surfels"] == 0
