"""The work both sides of a peer benchmark do: one model folder, one tokenizer with its chat template, one set
of records, one batch size and sequence cap.

Both frameworks load the model from the same Hugging Face folder, so loading counts on both sides and the
weights are identical: the tiny model is built once from a fixed config and seed and saved; SmolLM2 is the
embedded model's converted folder. Records are written once as OmniAlign JSONL and handed to TRL in its
conversational format (system + user prompt, assistant completion), which renders through the same chat
template. Sequences are sized to fit under `max_length`, so neither side truncates and both do the same work.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

WORDS = tuple(
    [
        "the",
        "river",
        "light",
        "blue",
        "cat",
        "map",
        "seven",
        "builds",
        "under",
        "quietly",
        "over",
        "stone",
        "cloud",
        "apple",
        "bread",
        "milk",
        "fire",
        "rain",
        "snow",
        "tree",
        "fish",
        "bird",
        "star",
        "moon",
        "sun",
        "green",
        "red",
        "dog",
        "house",
        "road",
        "window",
        "paper",
        "music",
        "garden",
        "winter",
    ]
)

TINY_MODEL = {
    "hidden_size": 256,
    "intermediate_size": 688,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
}
TINY_VOCAB = 4096


@dataclass(frozen=True)
class Workload:
    """One model's settings, shared by every objective and both frameworks."""

    model: str  # "tiny" or "smollm2"
    batch_size: int  # pairs (DPO, reward) or sequences (SFT) per optimiser step
    max_length: int  # prompt + response tokens; records are made to fit
    warmup_steps: int
    timed_steps: int
    lr: float = 1e-5
    beta: float = 0.1
    threads: int = 2
    seed: int = 0
    # GRPO: one rollout = `prompts` x `samples_per_prompt` sampled answers of up to `max_new_tokens` tokens,
    # then `epochs` passes of 2 mini-batches; throughput counts the tokens each side really generated.
    prompts: int = 4
    samples_per_prompt: int = 4
    max_new_tokens: int = 16
    epochs: int = 2
    rollouts_warmup: int = 1
    rollouts_timed: int = 2

    @property
    def steps(self) -> int:
        return self.warmup_steps + self.timed_steps

    def describe(self) -> str:
        return json.dumps(asdict(self))


WORKLOADS = {
    "tiny": Workload("tiny", batch_size=8, max_length=160, warmup_steps=2, timed_steps=10, lr=1e-4),
    "smollm2": Workload("smollm2", batch_size=4, max_length=256, warmup_steps=2, timed_steps=6),
}
QUICK = {
    "tiny": Workload(
        "tiny",
        batch_size=2,
        max_length=128,
        warmup_steps=1,
        timed_steps=1,
        prompts=2,
        samples_per_prompt=2,
        max_new_tokens=4,
        rollouts_timed=1,
    )
}


def model_folder(workload: Workload, root: Path) -> Path:
    """The Hugging Face folder both sides load (built and saved on first use for the tiny model)."""
    if workload.model == "smollm2":
        from omnialign.models.gguf import pretrained_location

        return Path(pretrained_location("smollm2-135m-instruct"))
    folder = root / "tiny-llama"
    if not (folder / "config.json").exists():
        import torch
        from transformers import LlamaConfig, LlamaForCausalLM

        from omnialign.models.tiny_tokenizer import build_tiny_tokenizer

        tokenizer = build_tiny_tokenizer(vocab_size=TINY_VOCAB)
        config = LlamaConfig(
            **TINY_MODEL,
            vocab_size=TINY_VOCAB,  # above the tokenizer's ids, as padded vocabularies are: a real LM head
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            bos_token_id=tokenizer.pad_token_id,
            max_position_embeddings=2048,
            tie_word_embeddings=False,
        )
        torch.manual_seed(workload.seed)
        LlamaForCausalLM(config).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    return folder


def _words(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))


def records(workload: Workload, count: int) -> list[dict[str, str]]:
    """`count` preference records (system, prompt, chosen, rejected). Tiny: random words, prompts of 6-16
    and responses of 3-12 words (lengths vary as in real data; at most 160 tokens in all). SmolLM2: the
    project's real-text disclosure pairs (omnialign.data.fixtures.disclosure)."""
    if workload.model == "smollm2":
        from omnialign.data.fixtures.disclosure import make_examples, preference_record

        return [preference_record(e, i) for i, e in enumerate(make_examples("train", count, workload.seed))]
    rng = random.Random(workload.seed)
    return [
        {
            "system": _words(rng, 2, 4),
            "prompt": _words(rng, 6, 16),
            "chosen": _words(rng, 3, 12),
            "rejected": _words(rng, 3, 12),
        }
        for _ in range(count)
    ]


def write_jsonl(rows: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def chat_prompt(record: dict[str, str]) -> list[dict[str, str]]:
    """TRL's conversational prompt for a record: the same turns OmniAlign builds from its flat fields."""
    return [{"role": "system", "content": record["system"]}, {"role": "user", "content": record["prompt"]}]


def assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def reward_letters(text: str) -> float:
    """The GRPO reward on both sides: how many letters `e` the answer has (OmniAlign: `KeywordScorer("e")`),
    a cheap rule, so the benchmark times the trainers, not a reward model."""
    return float(text.count("e"))
