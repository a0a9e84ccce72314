"""The vLLM rollout backend on CPU, with a test double of the engine (`vllm.LLM`'s `apply_model`, `generate`,
`reset_prefix_cache`) injected through the constructor. What runs is the backend's own code: weight sync
(plain and LoRA-merged), request mapping (padding, sampling semantics, media placeholders and data) and the
mapping of outputs back to `[N, G]` ids. Real vLLM is not installed here, so the engine's side is the double.
"""

from __future__ import annotations

import copy
import types
from types import SimpleNamespace

import pytest
import torch
from PIL import Image
from rl_helpers import text_prompts

from omnialign.alignment.modules.rl import GroupRLModule
from omnialign.alignment.rollout import KeywordScorer
from omnialign.data.datamodules import PromptDataModule
from omnialign.data.fixtures import write_fixture
from omnialign.models.backbone import BackboneOptions, LoraOptions, load_causal_lm, load_processor
from omnialign.models.generation.text import GenerationOptions, SpecialIds
from omnialign.models.generation.vllm import (
    SUPPRESSED_LOGIT_BIAS,
    VLLMBackend,
    build_requests,
    collapse_runs,
    placeholder_ids,
    responses_of,
    sampling_kwargs,
)


def _load_weights(self, weights):
    """vLLM models load checkpoint (transformers) names; an unknown name is an error there too."""
    params = dict(self.named_parameters())
    for name, tensor in weights:
        params[name].data.copy_(tensor)
    return {name for name, _ in weights}


class FakeEngine:
    """Holds its own copy of the architecture (other random weights) and answers with scripted ids."""

    def __init__(self, replies: list[list[int]] | None = None, seed: int = 7) -> None:
        options = BackboneOptions(name="tiny:llama", seed=seed)
        self.model = load_causal_lm(options, load_processor(options))
        self.model.load_weights = types.MethodType(_load_weights, self.model)
        self.replies = replies or []
        self.requests: list[list[dict]] = []
        self.params: list[dict] = []
        self.cache_resets = 0

    def apply_model(self, func):
        return [func(self.model)]

    def reset_prefix_cache(self) -> None:
        self.cache_resets += 1

    def generate(self, requests, params, use_tqdm=True):
        self.requests.append(requests)
        self.params.append(params)
        return [SimpleNamespace(outputs=[SimpleNamespace(token_ids=reply)]) for reply in self.replies]


def _assert_engine_holds(engine: FakeEngine, expected: dict[str, torch.Tensor]) -> None:
    held = dict(engine.model.named_parameters())
    assert held.keys() == expected.keys()
    for name, tensor in expected.items():
        torch.testing.assert_close(held[name], tensor, rtol=0, atol=0, msg=name)


def test_each_rollout_first_pushes_the_policys_current_weights():
    options = BackboneOptions(name="tiny:llama")
    policy = load_causal_lm(options, load_processor(options))
    engine = FakeEngine(replies=[[5]])
    backend = VLLMBackend(engine=engine, sampling_params=dict)
    prompts = {"input_ids": torch.tensor([[3, 4]]), "attention_mask": torch.ones(1, 2, dtype=torch.long)}
    tokens = SpecialIds(eos=2, pad=0, suppressed=[])
    assert not torch.equal(engine.model.lm_head.weight, policy.lm_head.weight)
    for step in range(2):  # an update between rollouts must reach the engine
        with torch.no_grad():
            policy.model.layers[0].mlp.up_proj.weight.add_(0.5 * (step + 1))
        backend.generate(policy, prompts, GenerationOptions(max_new_tokens=3), tokens)
        _assert_engine_holds(engine, {n: p.detach() for n, p in policy.named_parameters()})
        assert engine.cache_resets == step + 1


def test_lora_policy_is_pushed_merged_and_stays_unmerged():
    options = BackboneOptions(name="tiny:llama", lora=LoraOptions(r=4))
    policy = load_causal_lm(options, load_processor(options))
    with torch.no_grad():  # peft starts B at 0 (merge = base); make the adapters matter
        for name, param in policy.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    ids = torch.tensor([[3, 4, 5]])
    before = policy(input_ids=ids).logits
    merged = copy.deepcopy(policy).merge_and_unload()
    engine = FakeEngine()
    count = VLLMBackend(engine=engine, sampling_params=dict).sync_weights(policy)
    _assert_engine_holds(engine, {n: p.detach() for n, p in merged.named_parameters()})
    assert count == len(dict(merged.named_parameters()))
    torch.testing.assert_close(policy(input_ids=ids).logits, before)  # adapters unmerged again
    base_up = policy.base_model.model.model.layers[0].mlp.up_proj.base_layer.weight
    assert not torch.equal(base_up, merged.model.layers[0].mlp.up_proj.weight)


def test_an_engine_weight_the_policy_does_not_cover_is_an_error():
    options = BackboneOptions(name="tiny:llama")
    policy = load_causal_lm(options, load_processor(options))
    engine = FakeEngine()
    engine.model.register_parameter("extra_head", torch.nn.Parameter(torch.zeros(2)))
    with pytest.raises(RuntimeError, match="extra_head"):
        VLLMBackend(engine=engine, sampling_params=dict).sync_weights(policy)


def test_sampling_follows_hf_generate_semantics():
    tokens = SpecialIds(eos=2, pad=0, suppressed=[7, 9])
    kwargs = sampling_kwargs(GenerationOptions(max_new_tokens=5, temperature=0.7, top_k=0), tokens)
    assert kwargs["stop_token_ids"] == [2] and kwargs["ignore_eos"] is True
    assert kwargs["logit_bias"] == {7: SUPPRESSED_LOGIT_BIAS, 9: SUPPRESSED_LOGIT_BIAS}
    assert (kwargs["max_tokens"], kwargs["temperature"], kwargs["top_k"], kwargs["n"]) == (5, 0.7, -1, 1)
    assert sampling_kwargs(GenerationOptions(top_k=20), tokens)["top_k"] == 20


def test_requests_drop_left_padding_and_outputs_pad_to_a_batch():
    prompts = {"input_ids": torch.tensor([[0, 0, 11, 12], [13, 14, 15, 16]]), "attention_mask": None}
    prompts["attention_mask"] = (prompts["input_ids"] != 0).long()
    requests = build_requests(prompts, placeholders=set(), samples=None)
    assert requests == [{"prompt_token_ids": [11, 12]}, {"prompt_token_ids": [13, 14, 15, 16]}]
    tokens = SpecialIds(eos=2, pad=0, suppressed=[])
    outputs = [_output(ids) for ids in ([5, 2], [6, 6, 6], [2])]
    assert responses_of(outputs, tokens).tolist() == [[5, 2, 0], [6, 6, 6], [2, 0, 0]]
    with pytest.raises(RuntimeError, match="response 1 after 1 of 3 tokens without end-of-turn"):
        responses_of([_output([5, 2, 7]), _output([6])], tokens)


def _output(ids: list[int]) -> SimpleNamespace:
    return SimpleNamespace(outputs=[SimpleNamespace(token_ids=ids, finish_reason="length")])


def test_rollout_through_the_module_uses_the_engines_responses(tmp_path):
    """Two prompts × k = 2 rows; the engine's replies come back as the rollout's responses, cut after
    end-of-turn exactly as with HF generate."""
    module = GroupRLModule(
        reward=KeywordScorer("e"),
        samples_per_prompt=2,
        kl_coef=0.0,
        generation=GenerationOptions(max_new_tokens=4),
    )
    eos = module.processor.eos_token_id
    replies = [[40, eos, 41], [42, 43, 44, 45], [eos], [46, eos]]
    module.backend = VLLMBackend(engine=FakeEngine(replies), sampling_params=dict)
    module.configure_model()
    data = text_prompts(tmp_path, rows=2, batch_size=2)
    data.attach_processor(module.processor)
    data.setup("fit")
    prompts = next(iter(data.reference_dataloader("train")))
    batch = module.collect(prompts).rollout.batch
    width = prompts["input_ids"].shape[1]
    responses = [
        row[mask.bool()].tolist()
        for row, mask in zip(batch["input_ids"], batch["response_mask"], strict=True)
    ]
    assert responses == [[40, eos], [42, 43, 44, 45], [eos], [46, eos]]
    assert batch["response_mask"][:, :width].sum() == 0
    sent = module.backend.engine.requests[0]
    assert len(sent) == 4 and sent[0] == sent[2]  # tile j·B + b is sample j of prompt b


def test_image_prompts_become_one_placeholder_and_the_image(tmp_path):
    """Qwen2-VL's processor expands each image to a run of `<|image_pad|>`; vLLM expects one per image and
    the image itself in `multi_modal_data`."""
    options = BackboneOptions(name="tiny:qwen2-vl")
    processor = load_processor(options)
    fixture = write_fixture(tmp_path, "align-anything/text-image-to-text", rows=2, seed=0)
    data = PromptDataModule([str(fixture.path)], schema="align-anything/text-image-to-text", batch_size=2)
    data.attach_processor(processor)
    data.setup("fit")
    prompts = next(iter(data.reference_dataloader("train")))
    samples = [data.sample("train", i) for i in prompts["targets"]["index"].tolist()]
    config = load_causal_lm(options, processor).config
    pad = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert placeholder_ids(config) >= {pad}
    requests = build_requests(prompts, placeholder_ids(config), samples)
    for row, request in enumerate(requests):
        real = prompts["input_ids"][row][prompts["attention_mask"][row].bool()].tolist()
        assert real.count(pad) > 1 and request["prompt_token_ids"].count(pad) == 1
        assert [t for t in request["prompt_token_ids"] if t != pad] == [t for t in real if t != pad]
        (image,) = request["multi_modal_data"]["image"]
        assert isinstance(image, Image.Image)
    with pytest.raises(ValueError, match="row 0 holds media placeholders"):
        build_requests(prompts, placeholder_ids(config), samples=None)


def test_collapse_runs_keeps_separate_items_apart():
    assert collapse_runs([1, 9, 9, 9, 2, 9, 9, 3, 8, 8], {9, 8}) == [1, 9, 2, 9, 3, 8]


def test_missing_vllm_names_the_fix():
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="HFGenerateBackend"):
            VLLMBackend()
    else:
        pytest.skip("vllm is installed")
