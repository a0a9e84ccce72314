"""Emu3 and Chameleon: image codes are ordinary tokens of the one shared vocabulary.

Both families read an image in the prompt by running their VQ encoder inside `forward` on `pixel_values`
and writing the codes' token ids over the placeholders. A response image is the same span, so the adapter
writes the codes of the response's pixels over the response placeholders before the forward; the model then
sees exactly the sequence it would have generated, and one LM head scores text tokens and image codes alike.

What differs between the two is small and lives in an `ImageCodec`: how the VQ is called, which vocabulary
id spells codebook entry k, whether each code row ends with an end-of-line token (Emu3), and whether
transformers ships a VQ decoder (Emu3 yes, Chameleon no).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor, nn

from omnialign.data.collate import model_inputs
from omnialign.data.interleaved import RESPONSE_PIXELS
from omnialign.models.any_to_any.code_cache import CodeCache
from omnialign.models.any_to_any.common import ImageMarkers, base_model, body_of, pick, response_images


class ImageCodec(Protocol):
    """One family's VQ and the spelling of its codes in the vocabulary."""

    def encode(self, body: nn.Module, pixels: Tensor) -> Tensor:
        """`[N, C, H, W]` -> `[N, h, w]` codebook indices."""
        ...

    def decode(self, body: nn.Module, grids: Tensor) -> Tensor:
        """`[N, h, w]` codebook indices -> `[N, C, H, W]` pixels."""
        ...

    def code_vocabulary(self, body: nn.Module) -> Tensor:
        """`[K]` vocabulary id of each codebook entry."""
        ...

    def row_end(self, body: nn.Module) -> int | None:
        """The token that closes every row of codes, if the family writes one."""
        ...


class Emu3Codec:
    """Emu3: a video VQ (an image is repeated in time), codes spelled `<|visual token k|>`, rows closed by
    `<|extra_200|>`."""

    def encode(self, body: nn.Module, pixels: Tensor) -> Tensor:
        vq = body.vqmodel
        sizes = torch.tensor([pixels.shape[-2:]] * pixels.shape[0], device=pixels.device)
        return torch.stack(vq.encode(pixels.to(vq.dtype), sizes).image_tokens).long()

    def decode(self, body: nn.Module, grids: Tensor) -> Tensor:
        return body.vqmodel.decode(grids)

    def code_vocabulary(self, body: nn.Module) -> Tensor:
        return body.vocabulary_mapping.img2bpe_mapping_tensor.long()

    def row_end(self, body: nn.Module) -> int | None:
        return body.vocabulary_mapping.eol_token_id


class ChameleonCodec:
    """Chameleon: codes spelled `IMGIMG<k in letters>Z`, no row markers; transformers ships the VQ encoder
    only."""

    def encode(self, body: nn.Module, pixels: Tensor) -> Tensor:
        vq = body.vqmodel
        side = 2 ** (len(vq.config.channel_multiplier) - 1)
        codes = vq.encode(pixels.to(vq.dtype)).image_tokens.long()
        return codes.view(pixels.shape[0], pixels.shape[-2] // side, pixels.shape[-1] // side)

    def decode(self, body: nn.Module, grids: Tensor) -> Tensor:
        raise NotImplementedError(
            "transformers' ChameleonVQVAE has no decoder (Chameleon checkpoints were released without "
            "image generation), so Chameleon codes cannot be drawn; use an Emu3 or Janus model to draw"
        )

    def code_vocabulary(self, body: nn.Module) -> Tensor:
        return body.vocabulary_mapping.img2bpe_mapping_tensor.long()

    def row_end(self, body: nn.Module) -> int | None:
        return None


CODECS: dict[str, ImageCodec] = {"emu3": Emu3Codec(), "chameleon": ChameleonCodec()}
"""Codec per `config.model_type`."""


def square_side(length: int) -> int:
    side = math.isqrt(length)
    if side * side != length:
        raise ValueError(f"{length} codes do not form a square grid; only square images are decoded")
    return side


@dataclass
class SharedVocabularyAdapter:
    """Adapter for `Emu3ForConditionalGeneration` and `ChameleonForConditionalGeneration`; `code_cache`
    keeps response images' codes on disk."""

    codec: ImageCodec
    code_cache: CodeCache | None = None

    @torch.no_grad()
    def _grids(self, body: nn.Module, pixel_values: Tensor) -> Tensor:
        def encode(pixels: Tensor) -> Tensor:
            return self.codec.encode(body, pixels)

        if self.code_cache is None:
            return encode(pixel_values)
        return self.code_cache.codes(body.vqmodel, pixel_values, encode)

    def image_codes(self, model: nn.Module, pixel_values: Tensor) -> Tensor:
        return self._grids(body_of(model), pixel_values).flatten(1)

    @torch.no_grad()
    def decode_codes(self, model: nn.Module, codes: Tensor) -> Tensor:
        side = square_side(codes.shape[1])
        return self.codec.decode(body_of(model), codes.view(codes.shape[0], side, side))

    def code_tokens(self, body: nn.Module, grids: Tensor) -> Tensor:
        """`[N, h, w]` codes -> `[N, L]` the vocabulary ids that spell them in a sequence (with Emu3's
        end-of-line token after each row)."""
        ids = self.codec.code_vocabulary(body).to(grids.device)[grids]
        row_end = self.codec.row_end(body)
        if row_end is not None:
            ids = torch.cat([ids, ids.new_full((*ids.shape[:2], 1), row_end)], dim=-1)
        return ids.flatten(1)

    def with_response_codes(self, body: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        """`input_ids` with every response image placeholder replaced by the token of its code."""
        ids = batch["input_ids"]
        if RESPONSE_PIXELS not in batch:
            return ids
        tokens = self.code_tokens(body, self._grids(body, batch[RESPONSE_PIXELS])).flatten()
        return ids.masked_scatter(response_images(batch), tokens.to(ids.dtype))

    def hidden_states(self, body: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        return _forward(body, batch, self.with_response_codes(body, batch))

    def response_token_logprobs(
        self, model: nn.Module, batch: dict[str, Tensor], temperature: float
    ) -> Tensor:
        """One LM head over the whole vocabulary for every response token. Chameleon's own `forward` sets the
        logits of image codes to -inf (its release generates text only); the head is read directly here, so
        image codes get the model's real probabilities."""
        body = body_of(model)
        ids = self.with_response_codes(body, batch)
        hidden = _forward(body, batch, ids)[:, :-1]  # position t-1 predicts token t
        targets = batch["response_mask"].bool()[:, 1:]
        out = torch.zeros(ids.shape, dtype=torch.float32, device=hidden.device)
        head = base_model(model).lm_head
        out[:, 1:][targets] = pick(head(hidden[targets]), ids[:, 1:][targets], temperature)
        return out

    @torch.no_grad()
    def sample_image_codes(
        self, model: nn.Module, prompts: dict[str, Tensor], span: Tensor, guidance_scale: float = 5.0
    ) -> Tensor:
        """Codes sampled one position at a time from the LM head restricted to the codebook, with
        classifier-free guidance: the unconditional branch sees the image span's opening tokens without the
        prompt (masked out), and `uncond + scale * (cond - uncond)` is sampled. Emu3's row ends are fed, not
        sampled. `span` fixes the grid: its placeholders are the positions to fill. Prompt images travel as
        the processor's media keys in `prompts` (`pixel_values`, Emu3's `image_sizes`)."""
        body, head = body_of(model), base_model(model).lm_head
        markers = _markers_of(span, body)
        ids = prompts["input_ids"]
        mask = prompts.get("attention_mask", torch.ones_like(ids))
        media = {k: torch.cat([v, v]) for k, v in prompts.items() if k not in ("input_ids", "attention_mask")}
        prefix = markers.prefix(span).to(ids.device).expand(ids.shape[0], -1)
        inputs = torch.cat([ids, prefix], dim=1).repeat(2, 1)
        attention = torch.cat([mask, torch.ones_like(prefix)], dim=1).repeat(2, 1)
        attention[ids.shape[0] :, : ids.shape[1]] = 0  # the unconditional half forgets the prompt
        vocabulary = self.codec.code_vocabulary(body).to(ids.device)
        row_end = self.codec.row_end(body)
        positions = int((span == markers.placeholder).sum())
        width = square_side(positions) if row_end is None else _emu3_width(positions)
        codes, step_ids, cache = [], inputs, None
        for position in range(positions):
            out = body(
                input_ids=step_ids,
                attention_mask=attention,
                position_ids=(attention.cumsum(-1) - 1).clamp_min(0)[:, -step_ids.shape[1] :],
                cache=cache,
                use_cache=True,
                **(media if cache is None else {}),
            )
            cache = out.cache
            if row_end is not None and position % (width + 1) == width:
                token = ids.new_full((ids.shape[0],), row_end)
            else:
                logits = head(out.last_hidden_state[:, -1]).float()[:, vocabulary]
                conditional, unconditional = logits.chunk(2)
                guided = unconditional + guidance_scale * (conditional - unconditional)
                code = torch.multinomial(guided.softmax(-1), 1).squeeze(-1)
                codes.append(code)
                token = vocabulary[code]
            step_ids = token.repeat(2).unsqueeze(-1)
            attention = torch.cat([attention, attention.new_ones((attention.shape[0], 1))], dim=1)
        return torch.stack(codes, dim=1)


def _forward(body: nn.Module, batch: dict[str, Tensor], input_ids: Tensor) -> Tensor:
    """Last hidden states of the base model; prompt images (`pixel_values`) are encoded by its forward."""
    return body(**(model_inputs(batch) | {"input_ids": input_ids}), use_cache=False).last_hidden_state


def _markers_of(span: Tensor, body: nn.Module) -> ImageMarkers:
    """The markers of a span: its first and last token, and the placeholder (`config.image_token_id`)."""
    return ImageMarkers(int(span[0]), int(body.config.image_token_id), int(span[-1]))


def _emu3_width(positions: int) -> int:
    """Row width of a square Emu3 grid of `positions` = h * (w + 1) span positions."""
    side = (math.isqrt(4 * positions + 1) - 1) // 2
    if side * (side + 1) != positions:
        raise ValueError(f"{positions} Emu3 image positions do not form a square grid")
    return side
