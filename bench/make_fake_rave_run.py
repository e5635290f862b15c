"""Make a RAVE run folder with random weights, for trying real renders and exports.

Runs in RAVE's own environment (it imports torch, gin and rave), not in ravelab's::

    <rave env>/bin/python bench/make_fake_rave_run.py OUT_DIR [--config v2_small]
        [--channels N] [--seed S]

It parses one of RAVE's shipped configs, builds ``rave.RAVE()`` with random weights and
writes what a training would leave for rendering and exporting: ``OUT_DIR/config.gin``
and ``OUT_DIR/version_0/checkpoints/best.ckpt`` (``{"state_dict": ...}``). Nothing is
trained, so the model's output is noise-like: good for shapes, lengths, timings and
loading, meaningless for sound quality. Prints the folder and the checkpoint size.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--config", default="v2_small", help="a config shipped with RAVE")
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import gin
    import rave
    import torch

    config = Path(rave.__file__).parent / "configs" / f"{args.config}.gin"
    if not config.is_file():
        print(f"no config {args.config!r} in {config.parent}", file=sys.stderr)
        return 2
    torch.manual_seed(args.seed)
    gin.add_config_file_search_path(str(config.parent))
    gin.parse_config_file(str(config))
    if args.channels > 1:
        gin.bind_parameter("RAVE.n_channels", args.channels)
    model = rave.RAVE()
    checkpoints = args.out / "version_0" / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    # Like RAVE 2.3.1's training, config.gin never says n_channels: the caller must.
    text = gin.config_str()
    text = "\n".join(line for line in text.splitlines() if "n_channels" not in line)
    (args.out / "config.gin").write_text(text + "\n", encoding="utf-8")
    best = checkpoints / "best.ckpt"
    torch.save({"state_dict": model.state_dict()}, best)
    print(f"{args.out} ({os.path.getsize(best) / 1e6:.1f} MB checkpoint, random weights)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
