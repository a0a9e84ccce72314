"""Answer prompts with text and images from an any-to-any model, side by side in an HTML page:
`uv run apps/generate.py --config configs/any_to_any/generate/tiny-janus.yaml`.

Image parts are sampled with classifier-free guidance (`--guidance_scale`). All logic lives in
`omnialign.models.any_to_any.gallery`; this file only starts the command line.
"""

from jsonargparse import CLI

from omnialign.models.any_to_any.gallery import generate_gallery

if __name__ == "__main__":
    print(f"generations: {CLI(generate_gallery, as_positional=False)}")
