"""Configuration section ``http`` (HTTP API + worklist web app; see config.yaml)."""

from pydantic import BaseModel, ConfigDict


class HttpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = 8088
    enabled: bool = True
    require_login: bool = True  # /api and every page need a worklist login (lipo-node user add)
