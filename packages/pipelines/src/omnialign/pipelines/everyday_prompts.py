"""Everyday instructions written by the project, split into training and held-out prompts that share nothing.

A prompt is a question template filled with an everyday task. The held-out prompts use tasks *and* templates
that no training prompt uses, so a gain measured on them cannot come from having seen a held-out task or a
held-out phrasing during training.
"""

from __future__ import annotations

from dataclasses import dataclass

TRAIN_TEMPLATES = (
    "How do I {}?",
    "What is the best way to {}?",
    "Give me some advice on how to {}.",
    "Can you explain how to {}?",
)
HELDOUT_TEMPLATES = (
    "I want to {}. Where should I start?",
    "Any tips on how to {}?",
)
TRAIN_TASKS = (
    "keep a houseplant alive",
    "make a cup of tea",
    "fix a flat bicycle tire",
    "sleep better at night",
    "start running as a beginner",
    "save money on groceries",
    "clean a cast iron pan",
    "learn to juggle",
    "write a thank-you note",
    "boil an egg",
    "organize a small closet",
    "prepare for a job interview",
    "remember people's names",
    "keep a sourdough starter",
    "wash a wool sweater",
    "plan a birthday party",
    "make friends in a new city",
    "study for an exam",
    "choose a good watermelon",
    "stop procrastinating",
    "train a puppy to sit",
    "paint a bedroom wall",
    "store fresh herbs",
    "write a short poem",
    "start a vegetable garden",
    "pack a suitcase efficiently",
    "fold a fitted sheet",
    "brew coffee with a French press",
    "change a light bulb safely",
    "learn a new language",
    "stay focused while working from home",
    "remove a coffee stain",
    "make a budget",
    "care for a cactus",
    "prepare a simple salad",
    "keep my phone battery healthy",
    "get better at chess",
    "start journaling",
    "cook rice on the stove",
    "calm down before a presentation",
    "teach a child to ride a bike",
    "keep bread fresh longer",
    "sharpen a kitchen knife",
    "pick a good book to read",
    "reduce screen time",
    "stretch after a workout",
    "make pancakes",
    "back up my computer files",
)
HELDOUT_TASKS = (
    "learn to play the guitar",
    "bake chocolate chip cookies",
    "take care of a goldfish",
    "improve my handwriting",
    "drink more water every day",
    "set up a home aquarium",
    "clean a laptop keyboard",
    "grow tomatoes on a balcony",
    "write a good cover letter",
    "keep a tidy desk",
    "learn to swim as an adult",
    "make homemade lemonade",
    "get up earlier in the morning",
    "take better photos with my phone",
    "plan a weekend hiking trip",
    "iron a dress shirt",
    "memorize a short speech",
    "make a paper airplane",
    "decorate a small apartment",
    "keep cut flowers fresh",
    "start meditating",
    "cook a simple soup",
    "organize my email inbox",
    "care for leather shoes",
)


@dataclass(frozen=True)
class EverydayPrompt:
    id: str
    text: str
    task: str
    template: str


def _fill(split: str, tasks: tuple[str, ...], templates: tuple[str, ...], count: int) -> list[EverydayPrompt]:
    if count > len(tasks):
        raise ValueError(f"{split}: asked for {count} prompts but only {len(tasks)} tasks are written")
    return [
        EverydayPrompt(
            f"{split}-{i:03d}",
            templates[i % len(templates)].format(task),
            task,
            templates[i % len(templates)],
        )
        for i, task in enumerate(tasks[:count])
    ]


def everyday_prompts(num_train: int, num_heldout: int) -> tuple[list[EverydayPrompt], list[EverydayPrompt]]:
    """(training prompts, held-out prompts): one prompt per task, templates taken in turn."""
    return (
        _fill("train", TRAIN_TASKS, TRAIN_TEMPLATES, num_train),
        _fill("heldout", HELDOUT_TASKS, HELDOUT_TEMPLATES, num_heldout),
    )
