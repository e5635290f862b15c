"""What RAVE 2.3.1 ships: base configs, modifiers and augmentations, with their facts.

Facts from RAVE's README and its ``rave/configs/*.gin``:
one-line descriptions, the GPU memory RAVE's README gives, and the length of phase 1
(``PHASE_1_DURATION``) each config implies.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ConfigInfo:
    """One gin file of RAVE's and what a user should know about it."""

    name: str
    kind: str  # "base", "regularization", "discriminator", "other", "augmentation"
    description: str
    gpu_memory: str = ""
    phase_1_duration: int | None = None  # set when the file sets PHASE_1_DURATION


DEFAULT_PHASE_1_DURATION = 1_000_000

BASE_CONFIGS: dict[str, ConfigInfo] = {
    info.name: info
    for info in (
        ConfigInfo("v1", "base", "Original continuous model", "8 GB", 1_000_000),
        ConfigInfo("v2", "base", "Improved continuous model, faster and higher quality", "16 GB"),
        ConfigInfo(
            "v2_small",
            "base",
            "v2 with a smaller receptive field and a noise generator, for timbre transfer of "
            "stationary signals",
            "8 GB",
        ),
        ConfigInfo(
            "v2_nopqmf",
            "base",
            "(experimental) v2 without PQMF in the generator, better for bending",
            "16 GB",
        ),
        ConfigInfo("v2_nopqmf_small", "base", "Smaller v2 without PQMF", "", 500_000),
        ConfigInfo("v2_with_augs", "base", "v2 with mel-spectrogram input and compression", ""),
        ConfigInfo(
            "v3",
            "base",
            "Snake activations, Descript discriminator, AdaIN for style transfer",
            "32 GB",
        ),
        ConfigInfo(
            "discrete",
            "base",
            "Discrete model (residual vector quantisation, like SoundStream)",
            "18 GB",
            200_000,
        ),
        ConfigInfo(
            "discrete_v3",
            "base",
            "Discrete model with snake and Descript discriminator",
            "",
            200_000,
        ),
        ConfigInfo("onnx", "base", "Noiseless v1 configuration for ONNX export", "6 GB"),
        ConfigInfo(
            "raspberry", "base", "Lightweight configuration, realtime on Raspberry Pi 4", "5 GB"
        ),
    )
}

MODIFIERS: dict[str, ConfigInfo] = {
    info.name: info
    for info in (
        ConfigInfo(
            "wasserstein",
            "regularization",
            "Wasserstein regularization (MMD), latent size 16; needs a v2-family base",
            "",
            200_000,
        ),
        ConfigInfo(
            "spherical",
            "regularization",
            "Spherical latent space, latent size 16; needs a v2-family base",
            "",
            200_000,
        ),
        ConfigInfo(
            "spectral_discriminator",
            "discriminator",
            "Adds the EnCodec multi-scale spectral discriminator",
        ),
        ConfigInfo("descript_discriminator", "discriminator", "Uses the Descript discriminator"),
        ConfigInfo("causal", "other", "Causal convolutions: lower latency, a little less quality"),
        ConfigInfo("noise", "other", "Enables the noise synthesizer V2"),
        ConfigInfo("hybrid", "other", "Mel-spectrogram encoder input (includes v2)"),
        ConfigInfo("snake", "other", "Snake activations"),
        ConfigInfo("adain", "other", "Adaptive instance normalisation, for style transfer"),
        ConfigInfo("normalize_ambient", "other", "Ambient normalisation (sox compand)"),
    )
}

AUGMENTATIONS: dict[str, ConfigInfo] = {
    info.name: info
    for info in (
        ConfigInfo("mute", "augmentation", "Randomly mutes batches (p=0.1)"),
        ConfigInfo(
            "compress",
            "augmentation",
            "Random compression (needs torchaudio sox effects; not on Windows)",
        ),
        ConfigInfo("gain", "augmentation", "Random gain in [-6, 3] dB"),
    )
}

#: Modifiers RAVE documents for the v2 family only.
V2_ONLY_MODIFIERS = frozenset({"wasserstein", "spherical"})
V2_FAMILY = frozenset({"v2", "v2_small", "v2_nopqmf", "v2_nopqmf_small", "v2_with_augs", "v3"})

_PHASE_OVERRIDE = re.compile(r"^\s*(?:PHASE_1_DURATION|RAVE\.phase_1_duration)\s*=\s*([0-9_]+)\s*$")


def strip_gin(name: str) -> str:
    """``v2.gin`` -> ``v2``; a path keeps its form."""
    return name[:-4] if name.endswith(".gin") and "/" not in name else name


def is_custom_gin(name: str) -> bool:
    """True when a config is given as a path to the user's own .gin file."""
    return name.endswith(".gin") and ("/" in name or Path(name).is_file())


def phase_1_duration(
    base: str, modifiers: Sequence[str] = (), overrides: Sequence[str] = ()
) -> int:
    """The length of RAVE's phase 1 for a config, as its gin files and overrides set it."""
    duration = DEFAULT_PHASE_1_DURATION
    info = BASE_CONFIGS.get(strip_gin(base))
    if info is not None and info.phase_1_duration is not None:
        duration = info.phase_1_duration
    for modifier in modifiers:
        mod = MODIFIERS.get(strip_gin(modifier))
        if mod is not None and mod.phase_1_duration is not None:
            duration = mod.phase_1_duration
    for override in overrides:
        match = _PHASE_OVERRIDE.match(override)
        if match:
            duration = int(match.group(1).replace("_", ""))
    return duration
