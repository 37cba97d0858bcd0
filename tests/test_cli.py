"""The `semslam` command as a user runs it: a subprocess, its output and its exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import semslam


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "semslam", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def test_help_lists_every_subcommand():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("synth", "info", "demo", "version"):
        assert command in result.stdout
    for command in ("synth", "info", "demo"):
        sub = run_cli(command, "--help")
        assert sub.returncode == 0 and "Usage" in sub.stdout


def test_version_reports_core():
    result = run_cli("version")
    assert result.returncode == 0
    assert f"semslam {semslam.__version__}" in result.stdout
    assert '"cpu"' in result.stdout


def test_info_on_tum_json(shared_data):
    path = shared_data / "tum" / "rgbd_dataset_freiburg3_teddy_first200"
    if not path.is_dir():
        pytest.skip(f"{path} not found")
    result = run_cli("info", str(path), "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["format"] == "tum"
    assert info["frames"] == 193
    assert info["intrinsics"]["fx"] == pytest.approx(535.4)


def test_info_table_on_tum(shared_data):
    path = shared_data / "tum" / "rgbd_dataset_freiburg1_desk_9frames"
    result = run_cli("info", str(path))
    assert result.returncode == 0, result.stderr
    assert "tum" in result.stdout and "517.3" in result.stdout


def test_info_unknown_layout_is_one_clear_line(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing here")
    result = run_cli("info", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith("semslam: error:")
    assert str(tmp_path) in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_config_value_is_a_clear_error(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("dataset:\n  stride: 0\n")
    result = run_cli("info", str(tmp_path), "--config", str(cfg))
    assert result.returncode == 2
    assert "stride" in result.stderr and str(cfg) in result.stderr


def test_unknown_device_is_a_clear_error():
    result = run_cli("demo", "--device", "tpu:0")
    assert result.returncode == 2
    assert "unknown device 'tpu:0'" in result.stderr
