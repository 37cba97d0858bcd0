"""Label fusion in the whole loop on a synthetic room with the oracle segmenter (moderate noise):
the fused map reprojected into the frames beats the per-frame segmentation, the CRF does not make
it worse; the run's files carry labels; the scheduler skips frames when its queue is full and
hands worker errors to the main thread; render writes label images."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from semslam import datasets
from semslam.cli import _run_sequence
from semslam.config import Config, OracleConfig
from semslam.errors import SemslamError
from semslam.eval.semantic import evaluate_semantic_run
from semslam.io.map_state import load_map_state
from semslam.io.ply import parse_label_set_comments, read_ply
from semslam.pipeline import SemanticSLAM
from semslam.segmentation.labels import NYU40
from semslam.segmentation.oracle import OracleSegmenter
from semslam.semantics import SegmentationWorkerError

FRAMES = 60
# A margin the fused map keeps over the per-frame segmentation on this short run (measured: see
# the note of issue 4 for the numbers; a longer run gains more).
MIN_GAIN = 0.05


def semantic_config(**semantics) -> Config:
    config = Config()
    for key, value in semantics.items():
        setattr(config.semantics, key, value)
    return config


@pytest.fixture(scope="module")
def synthetic(make_synthetic):
    return datasets.open(make_synthetic(frames=FRAMES, noise="kinect", width=320, height=240))


@pytest.fixture(scope="module")
def oracle_run(synthetic, tmp_path_factory):
    """One run with the oracle on every 2nd frame and a queue long enough that no frame is skipped
    (the accuracy numbers then do not depend on the machine's speed)."""
    out = tmp_path_factory.mktemp("oracle_run")
    config = semantic_config(segment_every=2, queue_size=FRAMES)
    summary = _run_sequence(synthetic, config, out, quiet=True, segmenter=OracleSegmenter(OracleConfig()))
    result = evaluate_semantic_run(out, synthetic)
    return out, summary, result


def test_fused_map_beats_the_per_frame_segmentation(oracle_run):
    _, summary, result = oracle_run
    sem = summary["semantics"]
    assert summary["tracking_failures"] == 0
    assert sem["frames_segmented"] == FRAMES // 2 and sem["frames_skipped_queue_full"] == 0
    assert sem["oracle"] and sem["segmenter"].startswith("oracle:")
    assert sem["worker"] == "process"  # the default: the segmenter ran in a child process
    per_frame, fused, crf = result["per_frame"]["miou"], result["map_before_crf"]["miou"], result["map"]["miou"]
    print(f"\nper-frame mIoU {per_frame:.3f}, fused {fused:.3f}, fused + CRF {crf:.3f}; pixel accuracy "
          f"{result['per_frame']['pixel_accuracy']:.3f} -> {result['map']['pixel_accuracy']:.3f}; "
          f"coverage {result['map_coverage']:.3f}; 3D accuracy {result['surfels_3d']['map']['accuracy']:.3f}")
    assert 0.45 < per_frame < 0.8  # the moderate oracle's noise level
    assert fused >= per_frame + MIN_GAIN
    assert crf >= fused - 0.005  # the CRF does not make it worse
    assert result["map"]["pixel_accuracy"] > result["per_frame"]["pixel_accuracy"]
    # the map holds what was seen within fuse_depth_max (3 m): the room's far walls are not in it
    assert result["map_coverage"] > 0.25
    s3 = result["surfels_3d"]
    assert s3["surfels"] == summary["stable_surfels"] and s3["distance_m"]["median"] < 0.01
    assert s3["map"]["accuracy"] > 0.8


def test_run_files_carry_the_labels(oracle_run):
    o3d = pytest.importorskip("open3d")
    out, summary, _ = oracle_run
    vertices, comments = read_ply(out / "map.ply")
    assert vertices.dtype.names[-2:] == ("label", "label_confidence")
    assert parse_label_set_comments(comments) == ("nyu40", list(NYU40.names))
    labelled = vertices["label"] > 0
    assert labelled.mean() > 0.95
    assert np.all((vertices["label_confidence"] > 0) & (vertices["label_confidence"] <= 1))
    assert len(o3d.io.read_point_cloud(str(out / "map.ply")).points) == summary["map_ply_surfels"]

    state = load_map_state(out)
    assert state.label_set is NYU40 and state.size == summary["surfels"]
    np.testing.assert_allclose(state.surfels["class_probs"].sum(axis=1), 1.0, atol=1e-4)
    assert len(state.timestamps) == FRAMES and state.config.semantics.segment_every == 2
    assert len(list((out / "segmentation").glob("*.png"))) == FRAMES // 2
    on_disk = json.loads((out / "summary.json").read_text())["semantics"]
    assert on_disk == summary["semantics"]
    assert on_disk["frames_segmented"] == FRAMES // 2 and on_disk["crf_runs"] == 1
    assert on_disk["label_update_ms_mean"] > 0 and on_disk["segment_ms_mean"] > 0


def test_render_writes_label_images_of_the_map(oracle_run, synthetic, tmp_path):
    from semslam.semantics.render import render_run

    out, _, _ = oracle_run
    result = render_run(out, tmp_path, synthetic, every=15)
    assert result["frames"] == 4 and result["label_set"] == "nyu40"
    import cv2

    labels = cv2.imread(str(sorted((tmp_path / "labels").glob("*.png"))[0]), cv2.IMREAD_UNCHANGED)
    colour = cv2.imread(str(sorted((tmp_path / "colour").glob("*.png"))[0]))
    assert labels.dtype == np.uint16 and labels.shape == (240, 320) and colour.shape == (240, 320, 3)
    gt = synthetic[0].labels
    seen = (labels > 0) & (gt > 0)
    assert seen.mean() > 0.25 and (labels[seen] == gt[seen]).mean() > 0.9
    assert {"floor", "table"} <= set(result["classes_seen"])  # what lies within 3 m of this orbit


class GatedOracle:
    """The real oracle behind a gate the test opens: the worker is held on its first frame."""

    def __init__(self) -> None:
        self.oracle = OracleSegmenter(OracleConfig())
        self.label_set, self.name = self.oracle.label_set, self.oracle.name
        self.gate = threading.Event()

    def segment(self, rgb, depth=None, frame=None):
        self.gate.wait(60)
        return self.oracle.segment(rgb, depth, frame)


def test_a_full_queue_skips_frames_and_tracking_goes_on(synthetic):
    segmenter = GatedOracle()  # held by a threading.Event: a worker thread (a process could not see the gate)
    slam = SemanticSLAM(semantic_config(segment_every=1, queue_size=2, crf_at_end=False, worker="thread"),
                        segmenter=segmenter)
    for k in range(20):
        slam.process(synthetic[k])  # would hang here if tracking waited for the held worker
    sem = slam.result().semantics
    # frame 0 is held by the worker, frames 1 and 2 fill the queue, frames 3..19 find it full
    assert sem["frames_submitted"] == 3 and sem["frames_skipped_queue_full"] == 17
    assert sem["frames_segmented"] == 0 and sem["frames_pending"] == 3
    segmenter.gate.set()
    slam.finish()
    sem = slam.result().semantics
    assert sem["frames_segmented"] == 3 and sem["frames_applied_at_end"] == 3
    assert [s.index for s in slam.label_fusion.segmented] == [0, 1, 2]
    assert sem["queue_wait_ms_max"] > 0 and sem["worker"] == "thread"
    labels, _ = slam.map.labels()
    assert (np.asarray(labels) > 0).mean() > 0.3


class NoLabelsAfter:
    """The synthetic sequence with frames from `k` on lacking ground truth, so the oracle fails there."""

    def __init__(self, seq, k: int) -> None:
        self.seq, self.k = seq, k
        self.path, self.format, self.name, self.timestamps = seq.path, seq.format, seq.name, seq.timestamps

    def __len__(self) -> int:
        return 20

    def __getitem__(self, i):
        frame = self.seq[i]
        if i >= self.k:
            frame.labels = None
        return frame


def test_worker_error_reaches_the_main_thread_and_the_map_is_kept(synthetic, tmp_path):
    config = semantic_config(segment_every=1, queue_size=20)
    with pytest.raises(SegmentationWorkerError, match=r"segmentation of frame 8 .*oracle segmenter needs ground-truth"):
        _run_sequence(NoLabelsAfter(synthetic, 8), config, tmp_path, quiet=True,
                      segmenter=OracleSegmenter(OracleConfig()))
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert "SegmentationWorkerError" in summary["stopped"] and summary["frames"] >= 8
    assert load_map_state(tmp_path).size == summary["surfels"] > 0
    assert isinstance(SegmentationWorkerError("x"), SemslamError)
