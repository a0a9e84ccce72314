"""The four eval-anything task families: how a response to an item becomes a score.

- understanding: a judge compares the answer with the item's reference;
- generation: the answer must contain the output modality the instruction asks for (a missing one scores 0,
  without asking the judge), and a judge rates how well it follows the instruction;
- selection: the modalities the model chose (the media it returned, else the modality words in its text),
  scored by the share of people who chose the same set (`votes`); no judge;
- synergy: a judge rates how well the answer's modalities combine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from omnialign.data.sample import Sample
from omnialign.eval.items import EvalItem, Response
from omnialign.eval.judges import Judge, JudgeRequest, Verdict

Family = Literal["understanding", "generation", "selection", "synergy"]
MODALITIES = ("text", "image", "audio", "video")
CRITERIA = {
    "understanding": "Is the answer correct and complete with respect to the reference answer?",
    "generation": "Does the {modality} output follow the instruction?",
    "synergy": "Do the modalities of the answer complement each other to serve the request?",
}


@dataclass(frozen=True)
class Scored:
    score: float | None
    verdict: str
    judged: bool = False
    """Whether a judge gave the verdict (False: a rule did, e.g. a vote share or a missing modality)."""


def chosen_modalities(response: Response) -> str:
    """The `+`-joined, sorted set of output modalities a response chose."""
    media = {p.type for p in response if p.type != "text"}
    if media:
        return "+".join(sorted(media | ({"text"} if any(p.text for p in response) else set())))
    words = set(re.findall(r"[a-z]+", " ".join(p.text or "" for p in response).lower()))
    return "+".join(sorted(words & set(MODALITIES)))


def vote_share(votes: dict[str, float], choice: str) -> float:
    """Share of voters who chose exactly `choice` (keys are normalised to sorted `+`-joined sets)."""
    normalised = {"+".join(sorted(key.split("+"))): count for key, count in votes.items()}
    return normalised.get(choice, 0.0) / sum(normalised.values())


def score_family(
    family: Family,
    items: list[EvalItem],
    prompts: list[Sample],
    responses: list[Response],
    judge: Judge | None,
) -> list[Scored]:
    """Scores for every item of one task, judged in one batch where a judge is needed."""
    if family == "selection":
        return [_select(item, response) for item, response in zip(items, responses, strict=True)]
    if judge is None:
        raise ValueError(f"the '{family}' family needs a judge")
    asked = [
        i for i, (item, r) in enumerate(zip(items, responses, strict=True)) if _has_modality(family, item, r)
    ]
    requests = [
        JudgeRequest(
            prompts[i],
            responses[i],
            CRITERIA[family].format(modality=items[i].modality),
            items[i].reference,
            items[i].labels,
        )
        for i in asked
    ]
    verdicts: dict[int, Verdict] = dict(zip(asked, judge.judge(requests), strict=True))
    return [
        Scored(verdicts[i].score, verdicts[i].text, judged=True)
        if i in verdicts
        else Scored(0.0, "missing output modality")
        for i in range(len(items))
    ]


def _has_modality(family: Family, item: EvalItem, response: Response) -> bool:
    if family != "generation" or item.modality is None:
        return True
    return any(p.type == item.modality and (p.text or p.media) for p in response)


def _select(item: EvalItem, response: Response) -> Scored:
    if item.votes is None:
        raise ValueError(f"item {item.id}: the selection family needs 'votes'")
    choice = chosen_modalities(response)
    return Scored(vote_share(item.votes, choice), f"chose '{choice or 'nothing'}'")
