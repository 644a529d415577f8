"""The one ``Settings`` object: a TOML file plus ``COMPLAINTDESK_*`` environment overrides.

Load it at the edge (CLI, app factory) with :func:`load_settings`; never at import time.
Nested values use ``__`` in the environment, e.g. ``COMPLAINTDESK_WECHATPAY__LIST_PER_MINUTE=100``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from complaintdesk.errors import ConfigError

DEFAULT_CONFIG_FILE = "complaintdesk.toml"


class WeChatPaySettings(BaseModel):
    """Budgets and timing for the WeChat Pay APIv3 channel (all documented limits are configurable)."""

    base_url: str = "https://api.mch.weixin.qq.com"
    list_per_minute: int = 200
    history_per_minute: int = 200
    detail_per_minute: int = 200  # not published by WeChat; assumption, see docs/channels/wechatpay.md
    reply_per_minute: int = 60
    upload_per_minute: int = 60
    complete_per_minute: int = 1500
    refund_update_per_minute: int = 60  # not published by WeChat; assumption (same as reply)
    notifications_per_minute: int = 60  # callback-URL management; not published by WeChat; assumption
    #: Longest ``response_content``: merchant doc says 200, partner doc (2025-09) 500; 200 is safe for both.
    reply_max_chars: int = 200
    certificates_per_minute: int = 60
    image_download_per_minute: int = 200  # not published by WeChat; assumption
    budget_window_seconds: float = 61.0  # a little over 60 s so arrival jitter never exceeds a minute
    timestamp_tolerance_seconds: int = 300
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    max_retries: int = 4
    backoff_initial: float = 0.5
    backoff_max: float = 20.0
    list_page_size: int = 50
    history_page_size: int = 100
    certificate_refresh_hours: float = 12.0


class MiniProgramSettings(BaseModel):
    """Mini Program 交易投诉 channel (edit only this class for this channel's settings)."""

    base_url: str = "https://api.weixin.qq.com"
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    max_retries: int = 3
    backoff_initial: float = 0.5
    backoff_max: float = 20.0
    calls_per_minute: int = 600  # not published per API; assumption, see docs/channels/miniprogram.md
    token_refresh_margin_seconds: int = 300
    #: WeChat allows 20 forced token refreshes a day, at least 30 s apart.
    token_force_refresh_min_interval_seconds: float = 30.0
    upload_per_minute: int = 60
    media_id_ttl_seconds: int = 3 * 24 * 3600 - 600  # ids are valid 3 days; re-upload a little earlier
    #: Pushed messages whose ``timestamp`` is further than this from our clock are refused (0: no check).
    timestamp_tolerance_seconds: int = 300
    #: Evidence image size limit: the pages say 2 MB in one place and 10 MB in another; 2 MB is safe.
    image_max_bytes: int = 2 * 1024 * 1024
    #: Images per action: not published; assumption.
    max_images: int = 9
    #: Characters of ``content`` per action: not published; assumption (a sanity bound).
    content_max_chars: int = 1000
    #: Wire values of ``acceptReturn`` (received / not received): undocumented; 1 is what Senparc sends.
    accept_return_received_value: int = 1
    accept_return_not_received_value: int = 0
    #: Hosts (or parent domains) complaint image URLs may point at; nothing else is fetched. Assumption.
    media_host_suffixes: list[str] = Field(default_factory=lambda: ["qq.com", "qpic.cn", "weixin.qq.com"])


class HuishouqianSettings(BaseModel):
    """Huishouqian (慧收钱) channel (edit only this class for this channel's settings)."""

    base_url: str = "https://api.huishouqian.com"
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    max_retries: int = 3
    backoff_initial: float = 0.5
    backoff_max: float = 20.0
    query_per_minute: int = 120  # not published; assumption
    write_per_minute: int = 60  # not published; assumption
    query_page_size: int = 500
    query_window_days: int = 30  # not published; assumption
    timestamp_tolerance_seconds: int = 300
    #: Longest reply / completion text: WeChat Pay's merchant limit (Huishouqian publishes none); assumption.
    reply_max_chars: int = 200
    history_page_size: int = 100  # COMPLAINT_QUERY_HISTORY ``limit``; not published; assumption
    #: ``mediaType`` sent to COMPLAINT_FILE_DOWNLOAD for history ``imageList`` URLs; unconfirmed.
    history_media_type: str = "OPERATION_IMAGE"
    #: Notifications carry no id or time: identical ones within this many seconds count as one (0 = forever).
    notify_dedupe_seconds: int = 60


class SyncSettings(BaseModel):
    """Reconciliation schedule."""

    enabled: bool = True
    interval_seconds: int = 900
    lookback_days: int = 30
    window_days: int = 30
    overlap_days: int = 1
    refresh_open: bool = True
    #: An open complaint's history is re-read by the sweep when older than this even if unchanged.
    open_history_max_age_minutes: int = 60


class SlaSettings(BaseModel):
    """SLA clocks (C6): per-channel deadlines, warning lead time and the evaluation schedule."""

    wechatpay_first_reply_hours: float = 24.0
    wechatpay_finish_hours: float = 72.0
    huishouqian_first_reply_hours: float = 24.0  # no published rule; WeChat Pay's is assumed
    huishouqian_finish_hours: float = 72.0  # no published rule; WeChat Pay's is assumed
    #: Mini Program appeal window after entering 待商家申诉 (platform staff answer, not in the docs).
    miniprogram_appeal_hours: float = 72.0
    #: Mini Program raw statuses whose ``expireTime`` is the merchant's own deadline (others wait on others).
    miniprogram_merchant_statuses: list[str] = Field(default_factory=lambda: ["106", "108", "201", "206"])
    warning_lead_hours: float = 4.0
    #: Alert lead times per channel: an ``sla_warning`` alert fires once per deadline at the tightest
    #: of these thresholds reached (e.g. 6 h, then 1 h before); ``*`` applies to channels not named.
    alert_lead_hours: dict[str, list[float]] = Field(default_factory=lambda: {"*": [6.0, 1.0]})
    evaluate_interval_seconds: float = 60.0
    batch_size: int = 500


class AlertSettings(BaseModel):
    """Alerts and outgoing webhooks (``[alerts]``): delivery timing; destinations live in the database."""

    #: Attempts per delivery before it is ``failed`` (each retry waits longer: ``backoff_initial`` × 2ⁿ).
    max_attempts: int = 8
    backoff_initial: float = 10.0
    backoff_max: float = 3600.0
    #: Default pause between two messages to one chat or mailbox: what arrives meanwhile is one digest.
    min_interval_seconds: float = 60.0
    #: Most events one digest names line by line (the rest are counted).
    digest_lines: int = 20
    #: Most deliveries one send covers; a slow receiver never makes a backlog of messages.
    batch_size: int = 500
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    #: ``http://`` destinations are refused unless their host is one of these (tests, a local relay).
    http_allowed_hosts: list[str] = Field(default_factory=lambda: ["127.0.0.1", "localhost", "::1"])
    #: Time zone of quiet hours and of the times written in messages.
    timezone: str = "Asia/Shanghai"
    #: This many refused webhook signatures of one account within one window → one alert per window.
    signature_refusals: int = Field(default=10, ge=1)
    signature_window_seconds: float = Field(default=600.0, gt=0)
    #: Hours an endpoint's previous secret still signs after a rotation from the console.
    rotation_overlap_hours: float = Field(default=24.0, ge=0)


class JobSettings(BaseModel):
    """Background jobs: leases of sends and downloads, and procrastinate workers (PostgreSQL)."""

    #: How long a claimed send or download is held; renewed right before the request leaves, so it
    #: must exceed the slowest upstream call (connect + read timeout). Past it, another worker takes over.
    lease_seconds: float = 120.0
    #: procrastinate: jobs run at once by one worker process.
    concurrency: int = 8
    #: procrastinate: a worker writes its heartbeat this often…
    heartbeat_seconds: float = 10.0
    #: …and one silent for this long is dead: its running jobs are handed to another worker.
    stalled_after_seconds: float = 30.0
    #: How often one worker of the cluster looks for stalled jobs and for due work that has no job.
    sweep_seconds: int = 30
    #: procrastinate: how often a worker looks for jobs scheduled for later (new jobs wake it by NOTIFY).
    scheduled_poll_seconds: float = 2.0


class MediaSettings(BaseModel):
    """Where evidence images live (``[media]``; environment ``COMPLAINTDESK_MEDIA__STORAGE=s3`` etc.).

    ``local`` keeps them under ``local_dir`` (default ``data_dir/media``): one machine, or a shared
    filesystem mounted at the same path on every machine. ``s3`` keeps them in an S3-compatible bucket
    (AWS, MinIO, Ceph, Aliyun OSS, Tencent COS, …) that every web process and worker reaches.
    """

    storage: Literal["local", "s3"] = "local"
    #: Directory of the ``local`` store; empty means ``data_dir/media``.
    local_dir: Path | None = None
    s3_bucket: str = ""
    #: Empty means AWS itself; otherwise e.g. ``http://minio.internal:9000``.
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    #: Prepended to every key, e.g. ``complaintdesk/`` (several installs can share one bucket).
    s3_prefix: str = ""
    #: ``env:NAME`` or ``file:/path`` (never the value). Both empty: boto3's own chain (AWS_* variables,
    #: instance role). Typed as secrets so a value pasted here by mistake is still masked.
    s3_access_key_id_ref: SecretStr | None = None
    s3_secret_access_key_ref: SecretStr | None = None
    #: ``path`` (MinIO, Ceph), ``virtual`` (Aliyun OSS, Tencent COS), ``auto`` (boto3 decides).
    s3_addressing_style: Literal["auto", "path", "virtual"] = "auto"
    s3_connect_timeout: float = 5.0
    s3_read_timeout: float = 30.0
    #: Attempts per call, first one included (boto3's standard retry mode: network errors, 5xx, throttling).
    s3_max_attempts: int = 4


class MetricsSettings(BaseModel):
    """Prometheus ``/metrics`` (``[metrics]``): never open unless a token or a port is set.

    With ``token`` (or ``token_file``) the main port serves ``/metrics`` to ``Authorization: Bearer
    <token>`` only. With ``port``, ``serve`` (and ``worker``, with ``worker_port``) serve it on a
    port of their own at ``host``, which a firewall keeps for Prometheus; the token, if set, is
    asked there too. With neither, ``/metrics`` answers 404.
    """

    token: SecretStr | None = None
    #: A file holding the token (preferred to ``token``: it stays out of the environment).
    token_file: Path | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    #: ``complaintdesk worker`` on a machine without ``serve``: its own metrics port.
    worker_port: int | None = Field(default=None, ge=1, le=65535)
    host: str = "127.0.0.1"
    #: Per-process files of the multiprocess mode; empty means ``data_dir/metrics``.
    directory: Path | None = None
    #: Gauges read from the database (inbox lag, queue depths, SLA risk) are reused this long.
    cache_seconds: float = Field(default=5.0, ge=0, le=300)

    def token_value(self) -> str | None:
        """The bearer token, or None when none is set; a short one is refused."""
        if self.token_file is not None:
            try:
                raw = self.token_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
                    f"cannot read metrics.token_file {self.token_file}: {exc.strerror}"
                ) from exc
        elif self.token is not None:
            raw = self.token.get_secret_value().strip()
        else:
            return None
        if len(raw) < 16:
            raise ConfigError("metrics token must be at least 16 characters")
        return raw


class Settings(BaseSettings):
    """Everything complaintdesk can be told."""

    model_config = SettingsConfigDict(
        env_prefix="COMPLAINTDESK_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    database_url: str = "sqlite:///./var/complaintdesk.db"
    data_dir: Path = Path("./var")
    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str = "http://127.0.0.1:8000"
    #: Key that encrypts personal data (payer phone) at rest; 32+ characters. Prefer ``..._FILE``.
    data_key: SecretStr | None = None
    data_key_file: Path | None = None
    max_body_bytes: int = 64 * 1024
    #: Largest request body of the API (JSON) and the console (forms); uploads may carry
    #: ``media.service.MAX_UPLOAD_BYTES`` plus the multipart envelope. Webhooks use ``max_body_bytes``.
    max_request_body_bytes: int = 256 * 1024
    log_level: str = "INFO"
    log_json: bool = False
    job_poll_seconds: float = 0.5
    #: How often each process checks whether the accounts it has loaded were changed by another one
    #: (an edit in the console, a rotated key or certificate): at most this long on the old keys.
    account_recheck_seconds: float = 5.0
    #: How often each process reads the live console's change feed while a page is open (on PostgreSQL
    #: a NOTIFY wakes it at once; this is then only a safety net).
    live_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    #: How often an open live stream renews its presence and checks that its session still stands.
    live_heartbeat_seconds: float = Field(default=10.0, gt=0, le=25)
    job_max_attempts: int = 8
    run_jobs_in_process: bool = True
    jobs: JobSettings = Field(default_factory=JobSettings)
    wechatpay: WeChatPaySettings = Field(default_factory=WeChatPaySettings)
    miniprogram: MiniProgramSettings = Field(default_factory=MiniProgramSettings)
    huishouqian: HuishouqianSettings = Field(default_factory=HuishouqianSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    sla: SlaSettings = Field(default_factory=SlaSettings)
    media: MediaSettings = Field(default_factory=MediaSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)

    @model_validator(mode="after")
    def _lease_outlasts_a_call(self) -> Settings:
        """A send's lease must outlast the slowest upstream call, or a slow call could be taken over."""
        slowest = max(
            c.connect_timeout + c.read_timeout for c in (self.wechatpay, self.miniprogram, self.huishouqian)
        )
        if self.jobs.lease_seconds <= slowest:
            raise ValueError(
                f"jobs.lease_seconds ({self.jobs.lease_seconds:g}) must be longer than the slowest upstream"
                f" call (connect + read timeout: {slowest:g} s)"
            )
        return self

    @field_validator("database_url")
    @classmethod
    def _normalise_db_url(cls, value: str) -> str:
        if value.startswith("postgres://"):
            value = "postgresql://" + value.removeprefix("postgres://")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = os.environ.get("COMPLAINTDESK_CONFIG", DEFAULT_CONFIG_FILE)
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
            file_secret_settings,
        )

    def metrics_directory(self) -> Path:
        """Where each process writes its metric values (multiprocess mode)."""
        return self.metrics.directory or self.data_dir / "metrics"

    def data_key_bytes(self) -> bytes:
        """Return the at-rest encryption key material; fail fast when it is missing or weak."""
        if self.data_key_file is not None:
            try:
                raw = self.data_key_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"cannot read data_key_file {self.data_key_file}: {exc.strerror}") from exc
        elif self.data_key is not None:
            raw = self.data_key.get_secret_value()
        else:
            raise ConfigError("data_key (or data_key_file) must be set to store personal data encrypted")
        if len(raw) < 32 or raw.lower() in {"changethis" * 4, "x" * 32}:
            raise ConfigError("data_key must be at least 32 characters of random text")
        return raw.encode("utf-8")


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the TOML file, the environment and explicit overrides."""
    return Settings(**overrides)
