"""semslam: RGB-D semantic SLAM with a dense surfel map, per-surfel class beliefs and objects."""

__version__ = "0.1.0"

__all__ = ["__version__"]
