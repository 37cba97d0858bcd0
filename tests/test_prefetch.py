"""Read-ahead: frames in order, a reader error raised at the frame it belongs to, the thread stopped."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from semslam.datasets.prefetch import Prefetcher
from semslam.errors import ImageReadError


class _Frames:
    """A sequence whose item k is k (or raises at `bad`); records which items were read."""

    def __init__(self, n: int, bad: int | None = None) -> None:
        self.n, self.bad, self.read = n, bad, []

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, k: int):
        self.read.append(k)
        if k == self.bad:
            raise ImageReadError(f"image file frame{k}.png is truncated")
        return k


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_frames_come_in_order(depth):
    seq = _Frames(25)
    with Prefetcher(seq, depth=depth) as frames:
        assert list(frames) == list(range(25))


def test_a_read_error_is_raised_at_its_frame():
    seq = _Frames(10, bad=6)
    got = []
    with Prefetcher(seq, depth=2) as frames:
        with pytest.raises(ImageReadError, match="frame6.png"):
            for frame in frames:
                got.append(frame)
    assert got == [0, 1, 2, 3, 4, 5]
    assert max(seq.read) == 6  # the reader stops at the bad frame


def test_close_stops_the_reader_early():
    seq = _Frames(1000)
    with Prefetcher(seq, depth=2) as frames:
        it = iter(frames)
        assert [next(it) for _ in range(3)] == [0, 1, 2]
    assert not any(t.name == "semslam-read-ahead" for t in threading.enumerate())
    assert len(seq.read) <= 3 + 2 + 1  # what was consumed, the queue, one in hand


def test_real_sequence_matches_direct_reads(make_synthetic):
    from semslam import datasets

    seq = datasets.open(make_synthetic(frames=6, noise="none"))
    with Prefetcher(seq, depth=2) as frames:
        for k, frame in enumerate(frames):
            direct = seq[k]
            assert frame.index == direct.index and frame.timestamp == direct.timestamp
            np.testing.assert_array_equal(frame.depth, direct.depth)
            np.testing.assert_array_equal(frame.rgb, direct.rgb)


def test_negative_depth_is_refused():
    with pytest.raises(ValueError, match="read-ahead depth"):
        Prefetcher(_Frames(1), depth=-1)
