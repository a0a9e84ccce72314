"""A byte-level BPE tokenizer trained in-process, so tiny models need no hub and no shipped vocabulary.

Byte-level BPE covers every UTF-8 string whatever the training text, so a small corpus only decides how
compact the encoding is, not what can be encoded. Training is deterministic for a fixed corpus and vocabulary
size, which keeps every test and the quickstart reproducible.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

PAD_TOKEN = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
IMAGE_TOKEN = "<|image|>"
AUDIO_TOKEN = "<|audio|>"
VIDEO_TOKEN = "<|video|>"
SPECIAL_TOKENS = (PAD_TOKEN, IM_START, IM_END, IMAGE_TOKEN, AUDIO_TOKEN, VIDEO_TOKEN)

# ChatML, the template of the Qwen family: each turn is `<|im_start|>role\n...<|im_end|>\n`, and an assistant
# turn ends with `<|im_end|>`, which is also the EOS the model learns to emit. Media parts render as one
# placeholder token each; a multimodal processor expands it to the model's patch or frame tokens.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}"
    "{% elif part['type'] == 'image' %}{{ '<|image|>' }}"
    "{% elif part['type'] == 'audio' %}{{ '<|audio|>' }}"
    "{% elif part['type'] == 'video' %}{{ '<|video|>' }}"
    "{% endif %}{% endfor %}{% endif %}"
    "{{ '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_CORPUS = (
    "OmniAlign aligns all-modality models with human preferences. A user asks a question and the "
    "assistant answers helpfully, honestly and harmlessly. The image shows a red square on a blue "
    "background. The audio clip is a short tone. The video shows a ball moving from left to right. "
    "Which response is better? The first response is more helpful; the second is safer. Critique: "
    "the answer misses a step. Refined answer: here is the full reasoning, step by step. 0 1 2 3 4 "
    "5 6 7 8 9 + - * / = ? ! . , : ; ' \" ( ) [ ] { } the quick brown fox jumps over the lazy dog "
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG system user assistant question answer prompt "
    "response chosen rejected reward cost safe unsafe "
)


def _corpus_lines() -> Iterable[str]:
    for _ in range(4):
        yield from _CORPUS.split(". ")


@functools.lru_cache(maxsize=4)
def _train_backend(vocab_size: int) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_corpus_lines(), trainer=trainer)
    return tokenizer


def build_tiny_tokenizer(
    vocab_size: int = 512,
    extra_special_tokens: tuple[str, ...] = (),
    chat_template: str = CHATML_TEMPLATE,
    **named_tokens: str,
) -> PreTrainedTokenizerFast:
    """A fresh transformers tokenizer (`<|im_end|>` as EOS, `<|endoftext|>` as pad), ChatML by default.

    A model family's own markers (`<|image_pad|>`, `<image>`, `<|AUDIO|>` ...) come as `extra_special_tokens`:
    they get ids after the trained vocabulary, so the text tokens are the same ids for every family.
    `named_tokens` (e.g. `image_token="<image>"`) become tokenizer attributes that are saved with it, for
    processors that read their markers from the tokenizer (Janus).
    """
    backend = Tokenizer.from_str(_train_backend(vocab_size).to_str())  # a copy: callers may mutate theirs
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token=IM_END,
        pad_token=PAD_TOKEN,
        additional_special_tokens=[IM_START, IMAGE_TOKEN, AUDIO_TOKEN, VIDEO_TOKEN, *extra_special_tokens],
        padding_side="right",
        model_max_length=2048,
        **named_tokens,
    )
    tokenizer.chat_template = chat_template
    return tokenizer
