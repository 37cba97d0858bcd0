"""Exceptions and warnings of semslam.

Every error a user can cause with bad input derives from `SemslamError`, so scripts can catch
our errors without catching programming mistakes. Messages name the file or value at fault.
"""

from __future__ import annotations


class SemslamError(Exception):
    """Base class of every error semslam raises on purpose."""


class DatasetError(SemslamError):
    """A sequence on disk is missing, malformed or inconsistent (names the file)."""


class FormatNotRecognizedError(DatasetError):
    """No reader recognises a path; the message says what each reader looked for."""


class ImageReadError(DatasetError):
    """An image file is missing, unreadable, truncated, or of the wrong dtype/size."""


class GroundTruthError(DatasetError):
    """Ground truth is missing, malformed, or does not cover the frames asked for."""


class TrajectoryFormatError(SemslamError):
    """A trajectory file is not valid TUM format (names the file and line)."""


class DeviceError(SemslamError):
    """A compute device was asked for that this build or this machine does not have."""


class OutOfMemoryError(SemslamError, MemoryError):
    """A device ran out of memory (the surfel map could not grow); the map built so far is intact."""


class EvaluationError(SemslamError):
    """A trajectory cannot be evaluated: no ground truth, no run output, or no poses in common."""


class DatasetWarning(UserWarning):
    """Something a user may want to go on with (a few missing frames); strict mode raises instead."""
