"""Janus: understanding through SigLIP features, generation through VQ codes and a separate head.

In a Janus sequence an image placeholder means one of two things. In the prompt it is filled with SigLIP
features (`pixel_values`), as `JanusModel.forward` does. In a response it is one VQ code, embedded by the
generation embedding + aligner and predicted by the generation head over the codebook, as Janus's own
`generate` does token by token. The forward pass here builds that mixed input once for the whole sequence
(teacher forcing), so a response is scored in one pass, and each position's log-prob comes from the head
that would have sampled it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from transformers import GenerationConfig

from omnialign.data.interleaved import RESPONSE_PIXELS
from omnialign.models.any_to_any.code_cache import CodeCache
from omnialign.models.any_to_any.common import base_model, body_of, pick, response_images


class JanusAdapter:
    """Adapter for `JanusForConditionalGeneration` (Janus, Janus-Pro); `code_cache` keeps response images'
    codes on disk."""

    def __init__(self, code_cache: CodeCache | None = None) -> None:
        self.code_cache = code_cache

    @torch.no_grad()
    def image_codes(self, model: nn.Module, pixel_values: Tensor) -> Tensor:
        vq = body_of(model).vqmodel

        def encode(pixels: Tensor) -> Tensor:
            return vq.encode(pixels.to(vq.dtype)).image_tokens.view(pixels.shape[0], -1)

        if self.code_cache is None:
            return encode(pixel_values)
        return self.code_cache.codes(vq, pixel_values, encode)

    @torch.no_grad()
    def decode_codes(self, model: nn.Module, codes: Tensor) -> Tensor:
        return body_of(model).vqmodel.decode(codes)

    @torch.no_grad()
    def sample_image_codes(
        self, model: nn.Module, prompts: dict[str, Tensor], span: Tensor, guidance_scale: float = 5.0
    ) -> Tensor:
        """Janus's own image generation: the unconditional branch is the prompt blanked to padding (`<bos>`
        and `<begin_of_image>` kept), `guidance_scale` mixes the two; codes come from the generation head."""
        ids = prompts["input_ids"]
        mask = prompts.get("attention_mask", torch.ones_like(ids))
        boi = int(span[0])
        text_config = base_model(model).config.text_config
        config = GenerationConfig(
            do_sample=True,
            guidance_scale=guidance_scale,
            bos_token_id=text_config.bos_token_id,
            pad_token_id=text_config.pad_token_id,
            generation_kwargs={"boi_token_id": boi},
        )
        return base_model(model).generate(
            inputs=torch.cat([ids, ids.new_full((ids.shape[0], 1), boi)], dim=1),
            attention_mask=torch.cat([mask, mask.new_ones((ids.shape[0], 1))], dim=1),
            generation_mode="image",
            generation_config=config,
        )

    def _embeddings(self, body: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Input embeddings with prompt images as SigLIP features and response images as code embeddings
        (embedded as Janus's `generate` embeds them); also the response images' codes, in sequence order."""
        ids, image = batch["input_ids"], response_images(batch)
        embeds = body.get_input_embeddings()(ids)
        if "pixel_values" in batch:
            features = body.get_image_features(batch["pixel_values"]).pooler_output
            prompt_images = (ids == body.config.image_token_id) & ~image
            embeds = embeds.masked_scatter(prompt_images.unsqueeze(-1), features.to(embeds.dtype))
        codes = ids.new_zeros(0)
        if RESPONSE_PIXELS in batch:
            codes = self.image_codes(body, batch[RESPONSE_PIXELS]).flatten()
            code_embeds = body.generation_aligner(body.generation_embeddings(codes)).to(embeds.dtype)
            embeds = embeds.masked_scatter(image.unsqueeze(-1), code_embeds)
        return embeds, codes

    def _language_model(self, body: nn.Module, batch: dict[str, Tensor], embeds: Tensor) -> Tensor:
        return body.language_model(
            inputs_embeds=embeds,
            attention_mask=batch.get("attention_mask"),
            position_ids=batch.get("position_ids"),
            use_cache=False,
        ).last_hidden_state

    def hidden_states(self, body: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        return self._language_model(body, batch, self._embeddings(body, batch)[0])

    def response_token_logprobs(
        self, model: nn.Module, batch: dict[str, Tensor], temperature: float
    ) -> Tensor:
        janus, body = base_model(model), body_of(model)
        mask, image = batch["response_mask"].bool(), response_images(batch)
        embeds, codes = self._embeddings(body, batch)
        hidden = self._language_model(body, batch, embeds)[:, :-1]  # position t-1 predicts token t
        text_targets = mask[:, 1:] & ~image[:, 1:]
        image_targets = image[:, 1:]
        out = torch.zeros(mask.shape, dtype=torch.float32, device=hidden.device)
        out[:, 1:][text_targets] = pick(
            janus.lm_head(hidden[text_targets]), batch["input_ids"][:, 1:][text_targets], temperature
        )
        out[:, 1:][image_targets] = pick(body.generation_head(hidden[image_targets]), codes, temperature)
        return out
