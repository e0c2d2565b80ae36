"""Typed settings every service shares; each service extends `ServiceSettings` in its config.py."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """What every app needs to know about itself and its sidecar's components.

    The Dapr ports and API token are not declared here: the Dapr SDK reads DAPR_HTTP_PORT,
    DAPR_GRPC_PORT and DAPR_API_TOKEN itself (see `services.shared.dapr`).
    """

    model_config = SettingsConfigDict(env_prefix="SHOP_", extra="ignore")

    app_id: str = Field(validation_alias="APP_ID")
    # Set by `dapr run` from dapr.yaml's appPort.
    app_port: int = Field(validation_alias="APP_PORT")
    log_level: str = "INFO"
    # Names of the Dapr components in components/ (the broker file is chosen by BROKER).
    pubsub_name: str = "pubsub"
    state_store_name: str = "statestore"
    secret_store_name: str = "secretstore"
    # Upper bound for one call through the sidecar; resiliency.yaml holds the per-target policy.
    invoke_timeout_s: float = Field(default=5.0, gt=0, le=60)
    # How long start-up waits for the sidecar before giving up with a clear error.
    sidecar_wait_s: float = Field(default=90.0, gt=0)


class DatabaseSettings(ServiceSettings):
    """For services owning a MariaDB/MySQL database; the password comes from the secret store."""

    db_name: str
    db_user: str | None = None
    db_host: str = "127.0.0.1"
    db_port: int = 3306
    db_pool_size: int = Field(default=10, ge=1, le=100)
