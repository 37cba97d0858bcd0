"""The core's per-frame device work (FrameProcessor) on every device: depth sanitising, the
preprocessing it chains, fill-in of a sparse prediction, tracking and fusion without host copies."""

from __future__ import annotations

import numpy as np
import pytest
from devices import DEVICES

from semslam import datasets
from semslam.config import Config
from semslam.device import core
from semslam.mapping import SurfelMap, bilateral_filter, vertex_map

DESK = "tum/rgbd_dataset_freiburg1_desk_9frames"


def make_processor(intrinsics, config: Config, device: str):
    pre, tracking = config.preprocess, config.tracking
    k = intrinsics
    return core().FrameProcessor(
        device, k.width, k.height, k.fx, k.fy, k.cx, k.cy,
        bilateral_radius=pre.bilateral_radius, bilateral_sigma_space=pre.bilateral_sigma_space,
        bilateral_sigma_depth=pre.bilateral_sigma_depth, depth_min=pre.depth_min, depth_max=pre.depth_max,
        tracking=tracking.core_params(),
        fill_in_min_density=tracking.fill_in_min_density,
    )


@pytest.fixture(scope="module")
def desk(shared_data):
    return datasets.open(shared_data / DESK)


@pytest.mark.parametrize("device", DEVICES)
def test_set_frame_sanitises_and_counts(device, desk):
    config = Config()
    frame = desk[0]
    depth = frame.depth.copy()
    depth[::9, ::7] = np.nan
    depth[1::13, ::11] = np.inf
    depth[2::17, ::5] = -0.5
    bad = ~np.isfinite(depth) | (depth < 0)
    processor = make_processor(frame.intrinsics, config, device)
    stats = processor.set_frame(depth, frame.rgb)
    assert stats["invalid_depth_values"] == int(bad.sum())
    clean = np.where(bad, np.float32(0), depth)
    expected = vertex_map(bilateral_filter(clean, config.preprocess), frame.intrinsics)
    assert stats["valid_pixels"] == int(np.isfinite(expected[..., 2]).sum())


@pytest.mark.parametrize("device", DEVICES)
def test_fill_in_lets_a_young_map_track_its_own_frame(device, desk):
    """After one fused frame no surfel is stable, so the prediction is empty and is filled from
    that frame: tracking the same frame again must return the identity."""
    config = Config(device=device)
    frame = desk[0]
    processor = make_processor(frame.intrinsics, config, device)
    surfel_map = SurfelMap(config.map, device)
    processor.set_frame(frame.depth, frame.rgb)
    empty = processor.predict_reference(surfel_map.core, np.eye(4), 0)
    assert empty == {"predicted_fraction": 0.0, "filled": False}  # nothing fused yet: nothing to fill from
    fused = processor.fuse(surfel_map.core, np.eye(4), 0)
    assert fused["added"] > 10000 and fused["size"] == surfel_map.size
    reference = processor.predict_reference(surfel_map.core, np.eye(4), 1)
    assert reference["filled"] and reference["predicted_fraction"] < config.tracking.fill_in_min_density
    result = processor.track(np.eye(4))
    assert result["ok"], result["reason"]
    np.testing.assert_allclose(result["T_ref_cur"], np.eye(4), atol=1e-4)
    assert result["inlier_fraction"] > 0.9


@pytest.mark.parametrize("device", DEVICES)
def test_tracks_the_next_frame_like_ground_truth(device, desk):
    config = Config(device=device)
    f0, f1 = desk[0], desk[1]
    processor = make_processor(f0.intrinsics, config, device)
    surfel_map = SurfelMap(config.map, device)
    processor.set_frame(f0.depth, f0.rgb)
    processor.fuse(surfel_map.core, np.eye(4), 0)
    processor.set_frame(f1.depth, f1.rgb)
    processor.predict_reference(surfel_map.core, np.eye(4), 1)
    result = processor.track(np.eye(4))
    assert result["ok"], result["reason"]
    T_gt = np.linalg.inv(f0.T_world_cam) @ f1.T_world_cam
    assert np.linalg.norm(result["T_ref_cur"][:3, 3] - T_gt[:3, 3]) < 0.012
    assert np.linalg.norm(T_gt[:3, 3]) > 0.01  # the frames really moved


def test_unknown_tracking_parameter_is_refused(desk):
    frame = desk[0]
    config = Config()
    k, pre = frame.intrinsics, config.preprocess
    tracking = config.tracking.core_params()
    tracking["icp_weigth"] = 3.0
    with pytest.raises(ValueError, match="icp_weigth"):
        core().FrameProcessor("cpu", k.width, k.height, k.fx, k.fy, k.cx, k.cy, bilateral_radius=pre.bilateral_radius,
                              bilateral_sigma_space=pre.bilateral_sigma_space,
                              bilateral_sigma_depth=pre.bilateral_sigma_depth, depth_min=pre.depth_min,
                              depth_max=pre.depth_max, tracking=tracking, fill_in_min_density=0.75)
