"""Sample → token ids with an exact response mask, through the model's own chat template.

The prompt is rendered with `add_generation_prompt=True` and tokenised on its own; the response is the
rest of the rendered conversation (its text plus the template's end-of-turn), tokenised on its own and
appended. The mask is therefore exact by construction: it covers the response's tokens and nothing else,
and the prompt tokens are the very ids the model sees at generation time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformers import PreTrainedTokenizerBase

from omnialign.data.sample import Message, Part, Sample


@dataclass
class EncodedSequence:
    """One prompt (+ response) as token ids; `response_mask[t] = 1` marks a scored response token."""

    input_ids: torch.Tensor
    response_mask: torch.Tensor

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])


def _content(parts: tuple[Part, ...]) -> list[dict[str, Any]] | str:
    if all(p.type == "text" for p in parts):
        return "".join(p.text or "" for p in parts)
    return [{"type": "text", "text": p.text} if p.type == "text" else {"type": p.type} for p in parts]


def chat_messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """Messages in the list-of-dicts form every transformers chat template accepts."""
    return [{"role": m.role, "content": _content(m.parts)} for m in messages]


class ChatEncoder:
    """Renders samples with the tokenizer's chat template and builds exact response masks."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, max_length: int = 1024) -> None:
        if tokenizer.chat_template is None:
            raise ValueError(
                f"tokenizer '{tokenizer.name_or_path}' has no chat template; set one before training"
            )
        self.tokenizer = tokenizer
        self.max_length = max_length

    def render_prompt(self, sample: Sample) -> str:
        return self.tokenizer.apply_chat_template(
            chat_messages(sample.prompt), tokenize=False, add_generation_prompt=True
        )

    def render_response(self, sample: Sample, response: tuple[Part, ...]) -> str:
        """The text the template appends for the assistant turn, end-of-turn marker included."""
        prompt = self.render_prompt(sample)
        full = self.tokenizer.apply_chat_template(
            chat_messages((*sample.prompt, Message("assistant", response))), tokenize=False
        )
        if not full.startswith(prompt):
            raise ValueError(
                "the chat template renders the prompt differently with and without the assistant turn, "
                f"so the response cannot be delimited exactly ({sample.origin()})"
            )
        return full[len(prompt) :]

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def encode_prompt(self, sample: Sample) -> EncodedSequence:
        ids = self._ids(self.render_prompt(sample))
        self._check_prompt_fits(sample, len(ids))
        tensor = torch.tensor(ids, dtype=torch.long)
        return EncodedSequence(tensor, torch.zeros_like(tensor))

    def encode(self, sample: Sample, response_index: int = 0) -> EncodedSequence:
        """Prompt + the chosen response; the response is cut on the right to fit `max_length`."""
        prompt_ids = self._ids(self.render_prompt(sample))
        self._check_prompt_fits(sample, len(prompt_ids))
        response_ids = self._ids(self.render_response(sample, sample.responses[response_index]))
        response_ids = response_ids[: self.max_length - len(prompt_ids)]
        ids = torch.tensor(prompt_ids + response_ids, dtype=torch.long)
        mask = torch.zeros_like(ids)
        mask[len(prompt_ids) :] = 1
        return EncodedSequence(ids, mask)

    def _check_prompt_fits(self, sample: Sample, prompt_length: int) -> None:
        if prompt_length >= self.max_length:
            raise ValueError(
                f"{sample.origin()}: prompt has {prompt_length} tokens, "
                f"max_length is {self.max_length}; raise max_length or shorten the prompt"
            )
