"""Config: YAML + LIPO_NODE_ env overrides, clear errors on broken files."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from node.config import REPO_DIR, load_config
from node.errors import ConfigError
from node.logs import JsonLineFormatter, phash


def test_repository_config_yaml_loads_with_defaults() -> None:
    cfg = load_config(REPO_DIR / "config.yaml")
    assert cfg.http.host == "127.0.0.1"
    assert cfg.data_dir == REPO_DIR / "var"


def test_env_var_overrides_yaml_at_any_depth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("http:\n  port: 9000\northanc:\n  filters:\n    modalities: [MR]\n")
    monkeypatch.setenv("LIPO_NODE_HTTP__PORT", "9100")
    monkeypatch.setenv("LIPO_NODE_ORTHANC__FILTERS__MODALITIES", '["MR", "CT"]')
    cfg = load_config(cfg_file)
    assert cfg.http.port == 9100
    assert cfg.orthanc.filters.modalities == ["MR", "CT"]
    assert cfg.data_dir == tmp_path / "var"


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """systemd, Docker and a shell start the service in different working directories."""
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "c.yaml").write_text(
        "receive:\n  tls: {cert_file: tls/node.pem, key_file: tls/node.key, ca_file: /pki/ca.pem}\n"
        "segment:\n  results_dir: models/seg\n"
        "send:\n  destinations:\n    - {kind: dicom, name: pacs, host: 127.0.0.1, port: 104,"
        " ae_title: PACS, tls: {ca_file: tls/pacs-ca.pem}}\n")
    monkeypatch.chdir(tmp_path)
    cfg = load_config(etc / "c.yaml")
    assert cfg.receive.tls is not None
    assert (cfg.receive.tls.cert_file, cfg.receive.tls.ca_file) == (etc / "tls/node.pem", Path("/pki/ca.pem"))
    assert cfg.segment.results_dir == etc / "models/seg"
    assert cfg.send.destinations[0].tls.ca_file == etc / "tls/pacs-ca.pem"
    assert cfg.data_dir == etc / "var"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("http: [unclosed", "not valid YAML"),
        ("- a\n- b\n", "mapping at top level"),
        ("http:\n  port: many\n", "http.port"),
        ("no_such_section: 1\n", "no_such_section"),
    ],
)
def test_broken_config_names_the_problem(tmp_path: Path, text: str, needle: str) -> None:
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(text)
    with pytest.raises(ConfigError, match=needle):
        load_config(cfg_file)


def test_cli_reports_config_error_without_traceback(tmp_path: Path) -> None:
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("http:\n  port: many\n")
    proc = subprocess.run(
        [sys.executable, "-m", "node.cli", "--config", str(cfg_file), "select", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "config_error" in proc.stderr and "Traceback" not in proc.stderr


def test_json_log_lines_carry_extra_fields_and_hashed_ids() -> None:
    record = logging.makeLogRecord(
        {"msg": "stored %s", "args": ("x",), "levelname": "INFO", "patient": phash("DOE^JOHN")}
    )
    line = json.loads(JsonLineFormatter().format(record))
    assert line["msg"] == "stored x"
    assert line["patient"] == phash("DOE^JOHN") != "DOE^JOHN"
    assert len(line["patient"]) == 12
    assert phash("") == "-"
