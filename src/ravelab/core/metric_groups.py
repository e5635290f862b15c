"""Which panel of a training plot each metric belongs to, and that panel's axis.

RAVE 2.3.1 logs a dozen scalars on very different scales: spectral distances around 1 to
10, discriminator scores around 0 (``pred_fake`` goes negative), ``beta_factor`` around
0.01 and the ``fidelity_*`` dimension counts up to the latent size (16 to 128). On one
axis the small ones are flat lines. So a plot shows one panel per group, each with its own
y axis:

* reconstruction: the spectral distances and validation (what the first phase trains);
* adversarial: the discriminator and the terms it adds in phase 2;
* latent: the regularisation, its weight and the latent dimensions in use (a log axis:
  0.01 and 30 both readable);
* learning rate: the original API's ``lr`` (RAVE 2.3.1 logs none), a log axis;
* other: any name not known here (a newer RAVE, a user's own logger), never dropped;
* GPU and GPU memory: what ravelab itself sampled of the run's GPU (``gpu/...``:
  utilisation %, temperature, watts; memory in MiB), at the bottom: machine readings,
  never training metrics (``is_training_metric``).

Counters that are not measurements (``epoch``, ``step``) belong to no panel. Qt-free: the
app and ``ravelab plot`` share it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class MetricGroup:
    """One panel: its key, its title, its y axis's label and scale, its known names."""

    key: str
    title: str
    unit: str
    log: bool = False
    names: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()

    def holds(self, name: str) -> bool:
        """True when ``name`` is one of this group's metrics."""
        return name in self.names or any(name.startswith(p) for p in self.prefixes)


RECONSTRUCTION = MetricGroup(
    "reconstruction",
    "Reconstruction",
    "spectral distance",
    names=(
        "fullband_spectral_distance",
        "multiband_spectral_distance",
        "validation",
        "loss",  # the original API's regex metrics: a reconstruction loss and its validation
        "val_loss",
    ),
)
ADVERSARIAL = MetricGroup(
    "adversarial",
    "Adversarial",
    "score",
    names=("loss_dis", "pred_real", "pred_fake", "feature_matching", "adversarial"),
)
LATENT = MetricGroup(
    "latent",
    "Latent",
    "weight / dimensions",
    log=True,
    names=("regularization", "beta_factor"),
    prefixes=("fidelity_",),
)
LEARNING_RATE = MetricGroup("lr", "Learning rate", "learning rate", log=True, names=("lr",))
OTHER = MetricGroup("other", "Other", "value")
#: The warden's GPU samples (``ravelab.core.operations.gpu_sampling``), in two panels: the
#: load (%, C and W share a 0 to a few hundred axis) and the memory (MiB, up to 80 000, which
#: would flatten the load on one axis).
GPU = MetricGroup(
    "gpu",
    "GPU",
    "% / °C / W",
    names=("gpu/utilization", "gpu/temperature_c", "gpu/power_w"),
)
GPU_MEMORY = MetricGroup(
    "gpu_memory",
    "GPU memory",
    "MiB",
    names=("gpu/memory_used_mib", "gpu/run_memory_mib"),
    prefixes=("gpu/",),  # a GPU reading not known here still stays out of the training panels
)

#: The panels, top to bottom.
GROUPS = (RECONSTRUCTION, ADVERSARIAL, LATENT, OTHER, LEARNING_RATE, GPU, GPU_MEMORY)
#: Counters logged with the metrics that no panel shows.
NOT_PLOTTED = frozenset({"epoch", "step"})


def group_of(name: str) -> MetricGroup | None:
    """The panel ``name`` is drawn in (``OTHER`` for an unknown name), None for a counter."""
    if name in NOT_PLOTTED:
        return None
    for group in GROUPS:
        if group.holds(name):
            return group
    return OTHER


def group_metrics(names: Iterable[str]) -> dict[str, list[str]]:
    """``names`` by panel key, panels in ``GROUPS`` order, each list in a stable order
    (the group's known order, then by name); panels without a name are left out."""
    found: dict[str, list[str]] = {}
    for name in sorted(set(names)):
        group = group_of(name)
        if group is not None:
            found.setdefault(group.key, []).append(name)
    ordered: dict[str, list[str]] = {}
    for group in GROUPS:
        if group.key in found:
            known = {n: i for i, n in enumerate(group.names)}
            ordered[group.key] = sorted(found[group.key], key=lambda n: (known.get(n, 99), n))
    return ordered


def is_training_metric(name: str) -> bool:
    """Whether ``name`` is something the trainer logged (a loss, a score, a weight), not a
    counter and not one of ravelab's own GPU samples: what best values, loss panels and
    comparisons of training read."""
    group = group_of(name)
    return group is not None and group not in (GPU, GPU_MEMORY)


def default_metrics(names: Iterable[str]) -> list[str]:
    """The metrics a plot shows before the user picks: every one of a known group (an
    unknown name is listed, not drawn, until chosen)."""
    grouped = group_metrics(names)
    return [n for key, members in grouped.items() if key != OTHER.key for n in members]


GROUPS_BY_KEY = {group.key: group for group in GROUPS}

__all__ = [
    "ADVERSARIAL",
    "GPU",
    "GPU_MEMORY",
    "GROUPS",
    "GROUPS_BY_KEY",
    "LATENT",
    "LEARNING_RATE",
    "NOT_PLOTTED",
    "OTHER",
    "RECONSTRUCTION",
    "MetricGroup",
    "default_metrics",
    "group_metrics",
    "group_of",
    "is_training_metric",
]
