"""Settings from the environment (TAKTLINE_*), in one object."""

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAKTLINE_")

    # A SQLite file in the working directory out of the box; PostgreSQL in production.
    database_url: str = "sqlite:///taktline.db"
    # Request bodies above this size are refused with 413 before they are parsed.
    max_body_bytes: int = 1024 * 1024
    # How long a stored Idempotency-Key answer is replayed.
    idempotency_ttl_hours: int = 24
    # The addresses of the reverse proxies (comma-separated IPs or CIDR networks, or "*")
    # whose X-Forwarded-Proto and X-Forwarded-For are believed: a request they forward over
    # HTTPS is then treated as HTTPS (Secure cookies, HSTS). Empty: those headers are ignored.
    forwarded_allow_ips: str = ""


@lru_cache
def get_settings() -> Settings:
    return Settings()
