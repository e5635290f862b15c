"""Metric groups: every name RAVE 2.3.1 logs has its panel; unknown names go to "other"."""

from __future__ import annotations

import json

from ravelab.core.metric_groups import (
    GROUPS,
    default_metrics,
    group_metrics,
    group_of,
)
from tests.fake_rave import FIXTURES

#: What RAVE 2.3.1 logs (its TensorBoard scalars), by panel.
RAVE_2_3_1 = {
    "reconstruction": ["fullband_spectral_distance", "multiband_spectral_distance", "validation"],
    "adversarial": ["loss_dis", "pred_real", "pred_fake", "feature_matching", "adversarial"],
    "latent": [
        "regularization",
        "beta_factor",
        "fidelity_0.8",
        "fidelity_0.9",
        "fidelity_0.95",
        "fidelity_0.99",
    ],
}


def _captured_scalar_tags() -> set[str]:
    """The scalar tags in the captured TensorBoard files of RAVE 2.3.1."""
    capture = json.loads((FIXTURES / "tensorboard_capture_run.json").read_text())
    return {
        tag
        for entry in capture.values()
        if isinstance(entry, dict)
        for tag in entry.get("tags", {}).get("scalars", [])
    }


def test_every_captured_rave_scalar_has_a_known_panel() -> None:
    tags = _captured_scalar_tags()
    assert {"validation", "pred_fake", "fidelity_0.99"} <= tags
    for tag in tags:
        group = group_of(tag)
        assert group is None or group.key != "other", f"{tag} falls to 'other'"


def test_rave_metrics_are_grouped_in_order_and_unknown_names_are_kept() -> None:
    names = [n for members in RAVE_2_3_1.values() for n in members]
    grouped = group_metrics([*reversed(names), "epoch", "step", "lr", "my_metric", "zeta"])
    assert grouped == {**RAVE_2_3_1, "other": ["my_metric", "zeta"], "lr": ["lr"]}
    assert list(grouped) == ["reconstruction", "adversarial", "latent", "other", "lr"]
    assert group_of("epoch") is None and group_of("step") is None
    assert group_of("fidelity_0.5") is not None and group_of("fidelity_0.5").key == "latent"


def test_defaults_leave_unknown_names_to_the_user() -> None:
    assert default_metrics(["validation", "beta", "lr", "pred_fake", "epoch"]) == [
        "validation",
        "pred_fake",
        "lr",
    ]


def test_each_panel_has_a_unit_and_its_own_scale() -> None:
    keys = [g.key for g in GROUPS]
    assert len(set(keys)) == len(keys)
    assert all(g.unit and g.title for g in GROUPS)
    latent = next(g for g in GROUPS if g.key == "latent")
    assert latent.log  # beta 0.01 and fidelity 30 on one readable axis
