"""The config schema: defaults, YAML overrides, clear errors, and every shipped config file valid."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from semslam.config import Config, load_config
from semslam.errors import SemslamError

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_round_trip_through_yaml(tmp_path):
    dumped = tmp_path / "full.yaml"
    dumped.write_text(yaml.safe_dump(Config().model_dump(mode="json")))
    assert load_config(dumped) == Config()


def test_override_merges_nested_sections(tmp_path):
    path = tmp_path / "o.yaml"
    path.write_text("preprocess:\n  depth_max: 3.5\n")
    cfg = load_config(path, overrides={"dataset": {"stride": 2}})
    assert cfg.preprocess.depth_max == 3.5
    assert cfg.preprocess.bilateral_radius == Config().preprocess.bilateral_radius
    assert cfg.dataset.stride == 2


@pytest.mark.parametrize(
    "text, words",
    [
        ("preprocess:\n  depth_max: -1\n", ["depth_max"]),
        ("preprocesss:\n  depth_max: 3\n", ["preprocesss"]),
        ("- a list\n", ["mapping"]),
        ("dataset: [unclosed\n", ["not valid YAML"]),
    ],
)
def test_bad_files_name_the_file_and_field(tmp_path, text, words):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SemslamError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    for word in words:
        assert word in str(info.value)


def test_missing_file():
    with pytest.raises(SemslamError, match="config file not found"):
        load_config("/nonexistent/semslam.yaml")


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_are_valid(path):
    load_config(path)
