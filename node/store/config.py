"""Configuration section ``store`` (see config.yaml)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class StoreConfig(BaseModel):
    """Spool settings. Where the spool and database live is ``data_dir`` (NodeConfig)."""

    model_config = ConfigDict(extra="forbid")

    min_free_bytes: int = Field(
        2 * 1024**3,
        ge=0,
        description="disk watermark: refuse an instance (0xA700 Out of Resources) when writing it "
        "would leave less than this many free bytes on the spool's file system",
    )
    sync: Literal["group", "auto", "file_and_folder"] = Field(
        "group", description="group: each instance is written and renamed, then one waiting "
        "handler makes everything waiting durable with one syncfs(2) of the spool's file system "
        "(a batch of one on ext4/XFS/btrfs: fsync of that file) "
        "and indexes it in one transaction before the C-STORE answers (group commit across "
        "associations; per-file fsync + folder fsync where syncfs is missing); auto: one fsync "
        "per instance (file, after its rename) where the file system journals a rename with the "
        "renamed inode (ext4, XFS, btrfs), else file and folder fsync; file_and_folder: always "
        "both (POSIX, any file system)")
    retention_days: float = Field(
        30.0, gt=0, description="finished jobs (delivered/failed) older than this lose their spool "
        "copy and bulky job files; result.json and the audit trail stay")
    cleanup_free_bytes: int = Field(
        10 * 1024**3, ge=0, description="below this much free space, finished jobs are cleaned "
        "oldest first even before retention_days")
