"""Per-surfel class probabilities (SemanticFusion): the recursive Bayesian update against its numpy
reference on every device and for both table storages, and the table, labels and confidences
staying aligned with their surfels through creation (fuse), removal and merging (clean) and
set_surfels."""

from __future__ import annotations

import numpy as np
import pytest
from devices import DEVICES
from test_surfel_map import SMALL, H, W, clean_scene, pose, random_surfels, scene

from semslam.config import MapConfig
from semslam.mapping import SurfelMap
from semslam.mapping import reference_labels as ref

C = 5
DTYPES = ["float32", "float16"]


def segmentation(seed: int, dtype=np.float32, classes: int = C) -> np.ndarray:
    """(H, W, C) per-pixel class probabilities, peaked on a class that changes over the image."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.0, (H, W, classes))
    u, v = np.meshgrid(np.arange(W), np.arange(H))
    logits[v, u, (u // 12 + v // 9) % classes] += 2.5
    p = np.exp(logits)
    return (p / p.sum(-1, keepdims=True)).astype(dtype)


def labelled_map(device: str, probability_dtype: str, seed: int = 3) -> SurfelMap:
    s = random_surfels(700, seed=seed, num_classes=C)
    rng = np.random.default_rng(seed)
    s["class_probs"] = rng.dirichlet(np.ones(C), size=700).astype(np.float32)
    m = SurfelMap(MapConfig(), device, num_classes=C, probability_dtype=probability_dtype)
    m.set_surfels(s)
    return m


def check_labels(m: SurfelMap) -> dict:
    """labels / label_confidences are the argmax of the stored table, from surfels() and labels() alike."""
    s = m.surfels()
    labels, confidences = ref.argmax_labels(s["class_probs"])
    np.testing.assert_array_equal(s["labels"], labels)
    np.testing.assert_array_equal(s["label_confidences"], confidences)
    got_labels, got_confidences = m.labels()
    np.testing.assert_array_equal(got_labels, labels)
    np.testing.assert_array_equal(got_confidences, confidences)
    return s


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("probability_dtype", DTYPES)
@pytest.mark.parametrize("input_dtype", [np.float32, np.float16])
def test_update_matches_reference(device, probability_dtype, input_dtype):
    m = labelled_map(device, probability_dtype)
    assert m.probability_dtype == probability_dtype
    table = m.surfels()["class_probs"]
    assert table.dtype == np.dtype(probability_dtype)
    floor = 0.02
    for step, (T, seed) in enumerate([(pose(0.01, 0.0, 0.0, 0.02), 10), (pose(-0.02, 0.01, 0.03, -0.03), 11)]):
        probs = segmentation(seed, input_dtype)
        probs[3, 5] = np.nan  # rejected: not finite
        probs[4, 5] = 0.0  # rejected: zero everywhere
        probs[5, 5, 0] = -0.1  # rejected: negative
        stats = m.update_labels(probs, T, SMALL, time=step, probability_floor=floor)
        fine = m.core.fine_index_map()  # the render the update used
        expected, expected_stats = ref.update_labels(table, fine, MapConfig().index_scale, probs, floor)
        assert stats == expected_stats
        assert stats["visible"] > 300 and stats["updated"] == stats["visible"] - stats["rejected"]
        got = check_labels(m)["class_probs"]
        tolerance = 2e-6 if probability_dtype == "float32" else 1e-3  # one half ulp at 1
        np.testing.assert_allclose(got.astype(np.float64), expected.astype(np.float64), rtol=tolerance,
                                   atol=tolerance)
        changed = (got != table).any(1)
        visible = np.zeros(len(table), bool)
        visible[fine[fine >= 0]] = True
        assert not changed[~visible].any() and changed.sum() >= stats["updated"] - 5
        updated = np.isin(np.arange(len(table)), list(ref.visible_pixels(fine, len(table), 4)))
        assert (got[updated & changed] >= floor / (1 + C * floor) * (1 - tolerance)).all()
        np.testing.assert_allclose(got.astype(np.float64).sum(1), 1.0, atol=5e-3 if probability_dtype == "float16"
                                   else 1e-5)
        table = got


@pytest.mark.parametrize("device", DEVICES)
def test_repeated_evidence_converges_and_floor_keeps_classes_alive(device):
    m = labelled_map(device, "float32", seed=4)
    T = pose()
    probs = np.full((H, W, C), 0.05, np.float32)
    probs[..., 2] = 0.8
    for t in range(30):
        stats = m.update_labels(probs, T, SMALL, time=0, probability_floor=1e-3)
    s = m.surfels()
    seen = np.zeros(len(s["radii"]), bool)
    seen[m.core.fine_index_map()[m.core.fine_index_map() >= 0]] = True
    assert seen.sum() == stats["visible"] > 300
    assert (s["labels"][seen] == 2).all() and (s["label_confidences"][seen] > 0.99).all()
    assert (s["class_probs"][seen] >= 1e-3 / (1 + C * 1e-3) * (1 - 1e-6)).all()  # floored, not zero
    # the other classes recover from the floor when the evidence turns
    probs = np.roll(probs, 1, axis=2)  # class 3 now
    for t in range(8):
        m.update_labels(probs, T, SMALL, time=0, probability_floor=1e-3)
    assert (m.labels()[0][seen] == 3).all()


@pytest.mark.parametrize("device", DEVICES)
def test_update_rejects_bad_input(device):
    m = labelled_map(device, "float32")
    T = pose()
    with pytest.raises(ValueError, match="segmentation is 40x36"):
        m.update_labels(np.full((H, 40, C), 0.2, np.float32), T, SMALL, 0, 1e-4)
    with pytest.raises(ValueError, match=r"\(H, W, 5\)"):
        m.update_labels(np.full((H, W, C + 1), 0.2, np.float32), T, SMALL, 0, 1e-4)
    with pytest.raises(ValueError, match="float32 or float16"):
        m.update_labels(np.full((H, W, C), 0.2), T, SMALL, 0, 1e-4)
    with pytest.raises(ValueError, match="probability_floor"):
        m.update_labels(np.full((H, W, C), 0.2, np.float32), T, SMALL, 0, 0.2)
    empty = SurfelMap(MapConfig(), device)
    with pytest.raises(ValueError, match="num_classes is 0"):
        empty.update_labels(np.zeros((H, W, 0), np.float32), T, SMALL, 0, 1e-4)


def test_bytes_per_surfel_float16_halves_the_table():
    a = SurfelMap(MapConfig(), "cpu", num_classes=40, probability_dtype="float32")
    b = SurfelMap(MapConfig(), "cpu", num_classes=40, probability_dtype="float16")
    assert a.bytes_per_surfel == 64 + 4 * 40 and b.bytes_per_surfel == 64 + 2 * 40
    with pytest.raises(ValueError, match="probability_dtype"):
        SurfelMap(MapConfig(), "cpu", num_classes=3, probability_dtype="float64")


# --- alignment through creation, removal and merging ----------------------------------------


def row_of(ids: np.ndarray, classes: int = C) -> np.ndarray:
    """A distinct probability row per identity (instance id), so a row can be traced to its surfel."""
    rng = np.random.default_rng(1234)
    table = rng.dirichlet(np.ones(classes), size=int(ids.max()) + 1)
    return table[ids].astype(np.float32)


def assert_rows_follow_surfels(got: dict, expected_rows: dict, probability_dtype: str):
    """Rows of surfels with an identity equal their recorded rows; new surfels (id -1) are uniform."""
    ids = got["instance_ids"]
    probs = got["class_probs"].astype(np.float32)
    old = ids >= 0
    want = np.stack([expected_rows[int(i)] for i in ids[old]]) if old.any() else np.zeros((0, C))
    np.testing.assert_array_equal(probs[old], want.astype(probability_dtype).astype(np.float32))
    uniform = np.float32(np.float32(1.0 / C).astype(probability_dtype))
    assert (probs[~old] == uniform).all()
    labels, confidences = ref.argmax_labels(got["class_probs"])
    np.testing.assert_array_equal(got["labels"], labels)
    np.testing.assert_array_equal(got["label_confidences"], confidences)
    assert (got["labels"][~old] == 0).all()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("probability_dtype", DTYPES)
def test_rows_stay_aligned_through_fuse_clean_and_set_surfels(device, probability_dtype):
    s, n = clean_scene(num_classes=C)
    s["instance_ids"] = np.arange(len(s["radii"]), dtype=np.int32)  # identities, not objects:
    s["class_probs"] = row_of(s["instance_ids"])  # their unstable surfels get the window of no object
    cfg = MapConfig(unstable_time_object=MapConfig().unstable_time)
    m = SurfelMap(cfg, device, num_classes=C, probability_dtype=probability_dtype)
    m.set_surfels(s)
    rows = {int(i): r for i, r in zip(s["instance_ids"], s["class_probs"].astype(probability_dtype))}
    # a label update on what is visible, recorded by identity
    m.update_labels(segmentation(20), pose(), SMALL, time=40, probability_floor=1e-4)
    got = check_labels(m)
    rows = {int(i): r for i, r in zip(got["instance_ids"], got["class_probs"])}
    # clean after an empty frame at the scene's pose: unstable, merged (one of two overlapping
    # surfels) and free-space removals; every row still belongs to its surfel
    nan = np.full((H, W, 3), np.nan, np.float32)
    m.fuse(nan, nan, np.zeros((H, W, 3), np.uint8), pose(), SMALL, time=40)
    cleaned = m.clean(40)
    assert cleaned["removed_unstable"] > 0 and cleaned["removed_merged"] > 0 and cleaned["removed_free_space"] > 0
    assert_rows_follow_surfels(m.surfels(), rows, probability_dtype)
    # fuse a frame from a moved camera (updates, new surfels), then clean again
    T = pose(0.1, 0.0, 0.0, 0.25)
    vertices, normals, rgb = scene(T, seed=8)
    fused = m.fuse(vertices, normals, rgb, T, SMALL, time=41)
    assert fused["added"] > 30
    cleaned = m.clean(41)
    got = m.surfels()
    assert len(got["radii"]) == cleaned["size"] and (got["instance_ids"] == -1).sum() <= fused["added"]
    assert (got["instance_ids"] == -1).sum() > 30
    assert_rows_follow_surfels(got, rows, probability_dtype)
    ids = got["instance_ids"]
    assert np.isin(ids[ids >= 0], list(rows)).all() and len(np.unique(ids[ids >= 0])) == (ids >= 0).sum()
    # labels of the new surfels after they are observed, then another clean
    m.update_labels(segmentation(21), T, SMALL, time=41, probability_floor=1e-4)
    got = check_labels(m)
    got["instance_ids"] = np.where(got["instance_ids"] < 0, 10_000 + np.arange(len(got["radii"])),
                                   got["instance_ids"]).astype(np.int32)
    m.set_surfels(got)  # identities for every surfel
    rows = {int(i): r for i, r in zip(got["instance_ids"], got["class_probs"])}
    stats = m.clean(80)  # stale unstable surfels go
    assert stats["removed_unstable"] > 0
    assert_rows_follow_surfels(m.surfels(), rows, probability_dtype)
    # set_surfels: delete some rows, append others (float32 or float16 tables), labels recomputed
    got = m.surfels()
    keep = np.arange(len(got["radii"])) % 3 != 1
    extra = random_surfels(50, seed=30, num_classes=C)
    extra["instance_ids"] = np.arange(50, dtype=np.int32) + 20_000
    extra["class_probs"] = row_of(extra["instance_ids"]).astype(got["class_probs"].dtype)
    extra["labels"], extra["label_confidences"] = np.zeros(50, np.int32), np.zeros(50, np.float32)
    edited = {k: np.concatenate([got[k][keep], extra[k].astype(got[k].dtype)]) for k in got}
    edited["labels"][:] = 7  # derived fields are recomputed, whatever the dict says
    m.set_surfels(edited)
    rows.update({int(i): r for i, r in zip(extra["instance_ids"], extra["class_probs"])})
    after = m.surfels()
    assert len(after["radii"]) == keep.sum() + 50
    assert_rows_follow_surfels(after, rows, probability_dtype)
    # a float32 table into a float16 map (and back) rounds once
    converted = dict(after, class_probs=after["class_probs"].astype(np.float32))
    m.set_surfels(converted)
    np.testing.assert_array_equal(m.surfels()["class_probs"], after["class_probs"])


def test_update_takes_probabilities_whatever_their_dtype_object():
    """Arrays that crossed a process boundary (pickled) carry an equal but distinct dtype object;
    they are accepted like any other float16/float32 array."""
    import pickle

    for dtype in (np.float16, np.float32):
        probs = segmentation(21, dtype)
        copied = pickle.loads(pickle.dumps(probs))
        a, b = labelled_map("cpu", "float32"), labelled_map("cpu", "float32")
        T = pose(0.01, 0.0, 0.0, 0.02)
        sa = a.update_labels(probs, T, SMALL, time=0, probability_floor=0.01)
        sb = b.update_labels(copied, T, SMALL, time=0, probability_floor=0.01)
        assert sa == sb and sa["updated"] > 0
        np.testing.assert_array_equal(a.surfels()["class_probs"], b.surfels()["class_probs"])


class _GpuArray:
    """The __cuda_array_interface__ of an array (what torch CUDA tensors and CuPy arrays expose)."""

    def __init__(self, data_pointer: int, shape: tuple, typestr: str) -> None:
        self.__cuda_array_interface__ = {"data": (data_pointer, False), "shape": shape, "typestr": typestr,
                                         "strides": None, "version": 3}


def test_gpu_probabilities_must_be_on_the_maps_gpu():
    m = labelled_map("cpu", "float32")
    probs = segmentation(5, np.float32)
    with pytest.raises(ValueError, match="on the map's device cpu|need a CUDA build"):
        m.update_labels(_GpuArray(probs.ctypes.data, probs.shape, "<f4"), pose(), SMALL, time=0,
                        probability_floor=0.01)
    with pytest.raises(ValueError, match=f"\\(H, W, {C}\\)"):
        m.update_labels(_GpuArray(probs.ctypes.data, probs.shape[:2] + (C + 1,), "<f4"), pose(), SMALL, time=0,
                        probability_floor=0.01)


@pytest.mark.parametrize("device", [d for d in DEVICES if "cuda" in str(d.values[0])])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_probabilities_left_on_the_gpu_fuse_like_host_ones(device, dtype):
    torch = pytest.importorskip("torch", reason="torch is in the test extra; the torch segmenter is optional")
    if not torch.cuda.is_available():
        pytest.skip("this torch sees no CUDA device (the CUDA run of this test is on the GPU machine)")
    probs = segmentation(8, dtype)
    a, b = labelled_map(device, "float32"), labelled_map(device, "float32")
    T = pose(0.01, 0.0, 0.0, 0.02)
    on_gpu = torch.from_numpy(probs).to(torch.device(device))
    torch.cuda.synchronize()
    sa = a.update_labels(probs, T, SMALL, time=0, probability_floor=0.01)
    sb = b.update_labels(on_gpu, T, SMALL, time=0, probability_floor=0.01)
    assert sa == sb and sa["updated"] > 0
    np.testing.assert_array_equal(a.surfels()["class_probs"], b.surfels()["class_probs"])


def test_settled_surfels_outlast_a_few_confident_contrary_segmentations():
    """The default probability floor bounds how much evidence a surfel holds; it must hold enough
    that two confident wrong segmentations after twenty right ones do not flip it (the old floor
    of 1e-4 capped the log-odds at 9 nats: two frames at ~150:1 overturned any history)."""
    from semslam.config import SemanticsConfig
    from semslam.datasets.frame import Intrinsics

    C40, w, h = 41, 64, 48
    K = Intrinsics(fx=50, fy=50, cx=31.5, cy=23.5, width=w, height=h)
    xs, ys = np.meshgrid(np.linspace(-0.5, 0.5, 40), np.linspace(-0.4, 0.4, 30))
    n = xs.size
    m = SurfelMap(MapConfig(), "cpu", num_classes=C40)
    m.set_surfels({
        "positions": np.stack([xs.ravel(), ys.ravel(), np.full(n, 1.5)], 1).astype(np.float32),
        "normals": np.tile([0, 0, -1], (n, 1)).astype(np.float32), "colours": np.full((n, 3), 128, np.float32),
        "radii": np.full(n, 0.02, np.float32), "confidences": np.full(n, 20, np.float32),
        "init_times": np.zeros(n, np.int32), "last_update_times": np.zeros(n, np.int32),
    })
    rng = np.random.default_rng(0)

    def segmentation_saying(cls: int) -> np.ndarray:  # the oracle's form: logit 5 on one class, N(0, 1) noise
        logits = rng.normal(0, 1, (h, w, C40))
        logits[..., cls] += 5
        p = np.exp(logits)
        return (p / p.sum(-1, keepdims=True)).astype(np.float32)

    floor = SemanticsConfig().probability_floor
    for cls in [2] * 20 + [20] * 2:
        m.update_labels(segmentation_saying(cls), np.eye(4), K, time=0, probability_floor=floor)
    labels, _ = m.labels()
    assert np.mean(labels == 2) > 0.99
