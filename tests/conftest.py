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
