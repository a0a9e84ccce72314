"""LoRA runs export twice: merged (plain `from_pretrained`, as before) and as the adapter alone, in the
ecosystem's own adapter format. Loading the adapter onto a fresh base model must reproduce the merged
export's outputs, and differ from the base (the adapters are perturbed away from peft's no-op init, so a
dropped or empty adapter fails)."""

from __future__ import annotations

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

from omnialign.alignment.modules.sft import SFTModule
from omnialign.models.backbone import BackboneOptions, LoraOptions, load_causal_lm
from omnialign.models.diffusion import DiffusionLoraOptions, DiffusionOptions, build_diffusion_model


def _perturb_lora(module: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if "lora_" in name:
                parameter.add_(0.5 * torch.randn(parameter.shape, generator=g))


def test_policy_lora_exports_a_peft_adapter_equal_to_the_merged_model(tmp_path):
    module = SFTModule(backbone=BackboneOptions(name="tiny:llama", lora=LoraOptions(r=4)))
    module.configure_model()
    _perturb_lora(module.policy, seed=0)
    folder = module.export_pretrained(tmp_path / "export")

    ids = torch.randint(5, 200, (2, 12), generator=torch.Generator().manual_seed(1))
    base = load_causal_lm(BackboneOptions(name="tiny:llama"), module.processor).eval()
    with torch.no_grad():
        base_logits = base(ids).logits
        adapted = PeftModel.from_pretrained(base, folder / "adapter").eval()(ids).logits
        merged = AutoModelForCausalLM.from_pretrained(folder).eval()(ids).logits
    torch.testing.assert_close(adapted, merged, rtol=1e-4, atol=1e-4)
    assert (adapted - base_logits).abs().max() > 1e-2, "the adapter must change the base model's outputs"


def test_diffusion_lora_exports_diffusers_lora_weights_equal_to_the_trained_denoiser(tmp_path):
    trained = build_diffusion_model(DiffusionOptions(lora=DiffusionLoraOptions(r=4)))
    _perturb_lora(trained.unet, seed=0)
    folder = trained.save_pipeline(tmp_path / "export")

    pipeline = build_diffusion_model(DiffusionOptions()).pipeline()  # the same seeded base, no adapters
    g = torch.Generator().manual_seed(2)
    config = pipeline.unet.config
    sample = torch.randn(2, config.in_channels, config.sample_size, config.sample_size, generator=g)
    text = torch.randn(2, 7, config.cross_attention_dim, generator=g)
    with torch.no_grad():
        before = pipeline.unet(sample, 10, encoder_hidden_states=text).sample
        pipeline.load_lora_weights(folder / "lora")
        loaded = pipeline.unet(sample, 10, encoder_hidden_states=text).sample
        expected = trained.unet(sample, 10, encoder_hidden_states=text).sample
    torch.testing.assert_close(loaded, expected, rtol=1e-4, atol=1e-4)
    assert (loaded - before).abs().max() > 1e-3, "the LoRA weights must change the denoiser's outputs"
