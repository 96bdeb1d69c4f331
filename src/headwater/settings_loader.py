"""Where the settings come from: keyword arguments, ``HEADWATER_*`` variables, ``headwater.toml``.

Kept apart from :mod:`headwater.config` so that only the process that reads the settings (the
command line) imports pydantic-settings (9 MB of memory); the server's processes get the
:class:`~headwater.config.Settings` pickled and never import this module.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from headwater.config import Settings


class EnvSettings(Settings, BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEADWATER_", extra="forbid", validate_default=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("HEADWATER_CONFIG", "headwater.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path.exists():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    """Read the settings once. CLI flags come in as overrides (None means 'not given')."""
    given = {k: v for k, v in overrides.items() if v is not None}
    read = EnvSettings(**given)
    return Settings.model_validate({name: getattr(read, name) for name in Settings.model_fields})
