"""The conversations LLF's models are shown: one place, so training and synthesis can never disagree.

The feedback model is trained on `critique_request(...)` → `feedback_text(...)` and asked the same
`critique_request` at synthesis time; the policy refines under `refine_request`, and a text-to-media
diffusion model's prompt is rewritten under `prompt_refine_request`. Media stay media parts: the prompt's
inputs and, for generation modalities, the generated image/video/audio are shown to a multimodal feedback
model through its own processor, in the one user turn it answers.
"""

from __future__ import annotations

from omnialign.data.sample import Message, Part, Sample

CRITIQUE_TASK = (
    "Critique the response: say what is wrong or missing, then suggest concretely how to improve it."
)


def _transcript(prompt: tuple[Message, ...]) -> str:
    """The conversation's text, one `role: text` line per turn (a single user turn is just its text)."""
    if len(prompt) == 1 and prompt[0].role == "user":
        return prompt[0].text
    return "\n".join(f"{message.role}: {message.text}" for message in prompt)


def _media(parts: tuple[Part, ...]) -> tuple[Part, ...]:
    return tuple(part for part in parts if part.media is not None)


def response_text(response: tuple[Part, ...]) -> str:
    """A response as text; generated media are named by kind (the model sees the media themselves)."""
    return "".join(
        part.text or "" if part.type == "text" else f"[generated {part.type}]" for part in response
    )


def critique_request(prompt: tuple[Message, ...], response: tuple[Part, ...]) -> Sample:
    """What the feedback model is asked: the prompt's media, the response's media, then the text."""
    media = _media(tuple(part for message in prompt for part in message.parts)) + _media(response)
    text = (
        f"## Prompt\n{_transcript(prompt)}\n\n"
        f"## Response\n{response_text(response)}\n\n"
        f"## Task\n{CRITIQUE_TASK}"
    )
    return Sample(prompt=(Message("user", (*media, Part.of_text(text))),))


def feedback_text(critique: str, suggestion: str | None = None) -> str:
    """The feedback model's answer: a critique, and a refinement suggestion when there is one."""
    text = f"Critique: {critique.strip()}"
    return f"{text}\nSuggestion: {suggestion.strip()}" if suggestion else text


def refine_request(prompt: tuple[Message, ...], response: tuple[Part, ...], feedback: str) -> Sample:
    """The policy's own conversation continued: its answer, then the feedback and a request to revise."""
    ask = (
        f"Here is feedback on your answer:\n{feedback}\n\n"
        "Write an improved answer that addresses the feedback. Reply with the answer only."
    )
    return Sample(prompt=(*prompt, Message("assistant", response), Message("user", (Part.of_text(ask),))))


def prompt_refine_request(prompt: str, modality: str, feedback: str) -> Sample:
    """For generation modalities the refinement acts on the generation prompt, not on the media."""
    ask = (
        f"## Prompt\n{prompt}\n\n## Feedback on the {modality} generated from it\n{feedback}\n\n"
        f"Rewrite the prompt so that the {modality} generated from it addresses the feedback. "
        "Reply with the new prompt only."
    )
    return Sample(prompt=(Message("user", (Part.of_text(ask),)),))
