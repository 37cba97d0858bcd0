"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only real RGB-D data: $SEMSLAM_DATA, else ../shared/data next to the repository.

    Tests that use it are skipped, saying where it was looked for, when it is absent.
    """
    root = Path(os.environ.get("SEMSLAM_DATA", REPO_ROOT.parent / "shared" / "data")).resolve()
    if not root.is_dir():
        pytest.skip(f"shared RGB-D data not found at {root} (set SEMSLAM_DATA to its folder)")
    return root


@pytest.fixture(scope="session")
def make_synthetic(tmp_path_factory):
    """Generate (once per session and setting) a synthetic sequence folder with exact ground truth:
    make_synthetic(frames=30, noise="none", trajectory="orbit", width=320, height=240, seed=0)."""
    pytest.importorskip("open3d", reason="synthetic sequences are rendered with open3d, not installed here")
    from semslam.config import SynthConfig
    from semslam.datasets.synthetic import generate

    made: dict[tuple, Path] = {}

    def make(frames: int = 30, noise: str = "none", trajectory: str = "orbit", width: int = 320,
             height: int = 240, seed: int = 0) -> Path:
        key = (frames, noise, trajectory, width, height, seed)
        if key not in made:
            out = tmp_path_factory.mktemp(f"synth_{trajectory}_{noise}_{frames}")
            config = SynthConfig(frames=frames, noise=noise, trajectory=trajectory, width=width, height=height,
                                 seed=seed)
            made[key] = generate(out / "sequence", config)
        return made[key]

    return make
