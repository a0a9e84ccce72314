"""Chat templates of the multimodal families, written for the tiny tokenizer.

Each renders media parts the way its family's released template does, so the family's processor finds the
placeholder it expands (Qwen2-VL `<|image_pad|>`/`<|video_pad|>` inside vision markers, LLaVA `<image>`,
Qwen2-Audio `<|AUDIO|>` inside audio markers) and the prompt/response split matches real checkpoints.
Every assistant turn ends with an end-of-turn token, which is what the response mask scores last.
"""

from __future__ import annotations

# A message's content is a string or a list of typed parts; `part_text` maps one part to its rendering.
_QWEN_SYSTEM = "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}"


def _chatml(part_text: str) -> str:
    """ChatML with the Qwen default system turn, rendering each content part with `part_text`."""
    return (
        "{% set counter = namespace(audio=0) %}"
        "{% for message in messages %}"
        "{% if loop.first and message['role'] != 'system' %}" + _QWEN_SYSTEM + "{% endif %}"
        "{{ '<|im_start|>' + message['role'] + '\n' }}"
        "{% if message['content'] is string %}{{ message['content'] }}"
        "{% else %}{% for part in message['content'] %}" + part_text + "{% endfor %}{% endif %}"
        "{{ '<|im_end|>\n' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    )


QWEN2_VL_TEMPLATE = _chatml(
    "{% if part['type'] == 'image' %}{{ '<|vision_start|><|image_pad|><|vision_end|>' }}"
    "{% elif part['type'] == 'video' %}{{ '<|vision_start|><|video_pad|><|vision_end|>' }}"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
)
"""Qwen2-VL: each image or video is one pad token between vision markers; the processor repeats the pad
token once per merged patch."""

QWEN2_AUDIO_TEMPLATE = _chatml(
    "{% if part['type'] == 'audio' %}{% set counter.audio = counter.audio + 1 %}"
    "{{ 'Audio ' + counter.audio | string + ': <|audio_bos|><|AUDIO|><|audio_eos|>\n' }}"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
)
"""Qwen2-Audio: each clip is announced as `Audio N:` and one `<|AUDIO|>` between audio markers, which the
processor repeats once per encoder output frame."""

LLAVA_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{% set prefix = '' %}"
    "{% elif message['role'] == 'user' %}{% set prefix = 'USER: ' %}"
    "{% else %}{% set prefix = 'ASSISTANT: ' %}{% endif %}"
    "{{ prefix }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}{{ '<image>\n' }}"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% else %}{{ ' ' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)
"""LLaVA-1.5 (Vicuna v1 format): `USER: <image>\\n... ASSISTANT: ...</s>`; the assistant turn closes with
the tokenizer's EOS as in LLaVA's training data."""

IMAGE_TAG_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}"
    "{% elif part['type'] == 'image' %}{{ '<image>' }}"
    "{% endif %}{% endfor %}{% endif %}"
    "{{ '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
"""Shared-vocabulary any-to-any families (Emu3, Chameleon) in ChatML dress, without a system turn: an image
part renders as `<image>`, which their processors expand to the image's code span; the tiny tokenizer's EOS
(`<|im_end|>`) ends the assistant turn (the released Emu3-Chat format is `USER: ... ASSISTANT: ...`)."""
