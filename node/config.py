"""Typed node configuration: ``config.yaml`` plus ``LIPO_NODE_...`` environment overrides.

Every key can be overridden from the environment with the prefix ``LIPO_NODE_`` and ``__``
between nesting levels, e.g. ``LIPO_NODE_RECEIVE__PORT=11112`` or
``LIPO_NODE_SEGMENT__DEVICE=cpu``; lists and mappings take JSON. The environment wins over the
file. This is the only module that reads environment variables (STYLE.md #5): stages get their
own section (``cfg.receive``, ``cfg.segment`` ...) handed down from the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from node.classify.config import ClassifyConfig
from node.errors import ConfigError
from node.jobs.config import JobsConfig
from node.orthanc.config import OrthancConfig
from node.qc.config import QcConfig
from node.radiomics.config import RadiomicsConfig
from node.receive.config import ReceiveConfig
from node.report.config import ReportConfig
from node.segment.config import SegmentConfig
from node.select.config import SelectConfig
from node.send.config import SendConfig
from node.store.config import StoreConfig
from node.worklist.config import HttpConfig

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
DEFAULT_CONFIG = REPO_DIR / "config.yaml"


class LoggingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_lines: bool = Field(False, description="one JSON object per log line (for log shippers)")
    file: Path | None = None


class NodeConfig(BaseSettings):
    """The whole node configuration. Sections belong to the stage of the same name."""

    model_config = SettingsConfigDict(
        env_prefix="LIPO_NODE_", env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    data_dir: Path = Field(Path("var"), description="root of spool, database, job folders")
    logging: LoggingConfig = LoggingConfig()
    receive: ReceiveConfig = ReceiveConfig()
    store: StoreConfig = StoreConfig()
    select: SelectConfig = SelectConfig()
    jobs: JobsConfig = JobsConfig()
    segment: SegmentConfig = SegmentConfig()
    qc: QcConfig = QcConfig()
    radiomics: RadiomicsConfig = RadiomicsConfig()
    classify: ClassifyConfig = ClassifyConfig()
    report: ReportConfig = ReportConfig()
    send: SendConfig = SendConfig()
    http: HttpConfig = HttpConfig()
    orthanc: OrthancConfig = OrthancConfig()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # environment beats the YAML file (passed as init kwargs)
        return (env_settings, init_settings)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "lipo-node.sqlite3"

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @property
    def jobs_dir(self) -> Path:
        return self.data_dir / "jobs"


def load_config(path: str | Path | None = None, **overrides: Any) -> NodeConfig:
    """Load ``path`` (default: the repository's ``config.yaml``), apply env, validate.

    Relative paths (``data_dir``, TLS files, model folders ...) are resolved against the config
    file's folder so a service started from any working directory finds the same files.
    Raises :class:`ConfigError` naming the offending key rather than a pydantic traceback.
    """
    cfg_path = Path(path) if path is not None else DEFAULT_CONFIG
    data: dict[str, Any] = {}
    if path is not None or cfg_path.exists():
        try:
            text = cfg_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read config {cfg_path}: {exc.strerror}") from exc
        try:
            loaded = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"config {cfg_path} is not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"config {cfg_path} must be a mapping at top level")
        data = loaded
    data.update(overrides)
    try:
        cfg = NodeConfig(**data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration ({cfg_path}): {problems}") from exc
    return _anchor(cfg, cfg_path.parent.resolve())


def _anchor(value: Any, base: Path) -> Any:
    """Every relative path in the config (data_dir, TLS files, model folders, templates, log
    file ...) is taken relative to the config file's folder, not to the service's working
    directory, which systemd, Docker and a shell all set differently."""
    if isinstance(value, Path):
        return value if value.is_absolute() else base / value
    if isinstance(value, BaseModel):
        update = {}
        for name in type(value).model_fields:
            old = getattr(value, name)
            new = _anchor(old, base)
            if new is not old:
                update[name] = new
        return value.model_copy(update=update) if update else value
    if isinstance(value, list | tuple):
        items = [_anchor(v, base) for v in value]
        return type(value)(items) if any(a is not b for a, b in zip(items, value, strict=True)) else value
    if isinstance(value, dict):
        items = {k: _anchor(v, base) for k, v in value.items()}
        return items if any(items[k] is not value[k] for k in value) else value
    return value
