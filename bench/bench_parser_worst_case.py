"""Worst-case cost of reading a trainer's output: typical input next to hostile input.

    python bench/bench_parser_worst_case.py [--size BYTES] [--before-size BYTES]

Line parser: nanoseconds per byte of the path every stdout/stderr byte takes (split into
lines, ANSI removed, parsed), on typical lines (the genuine RAVE 2.3.1 captures, the original API's
``step: N loss: X`` lines) and on adversarial lines of ``--size`` bytes (long digit runs, a
digit run before a bar's ``%|``, many colons, tqdm-like junk, one huge line). The target is
a ratio adversarial / typical of at most 3. The "before" column runs the same path with the
original bar-head regex (``(?P<desc>.*?):?\\s*(?P<pct>\\d+)$``) and without the line cuts,
on ``--before-size`` lines (its cost is quadratic: 50,000 bytes would take minutes), and at
twice that size to show the growth.

Event decoder: nanoseconds per byte of following an event file (TFRecord framing and event
decoding) on the genuine capture, on the same bytes damaged every 4 KB, and on random bytes;
"before" scans lost framing one offset at a time, as the original reader did.
"""

from __future__ import annotations

import argparse
import logging
import random
import re
import struct
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary

from ravelab.core.rave import output_parser
from ravelab.core.rave.output_parser import OutputParser
from ravelab.core.runs.text_stream import MAX_LINE_BYTES, LineSplitter
from ravelab.core.tensorboard import tfrecord
from ravelab.core.tensorboard.events import EventFileFollower

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "rave-2.3.1"
_OLD_HEAD = re.compile(r"(?P<desc>.*?):?\s*(?P<pct>\d+)$")


def _old_bar_description(head: str) -> str | None:
    """The original bar-head parse: a lazy regex over the text before ``%|``."""
    match = _OLD_HEAD.match(head)
    return match.group("desc").strip() if match else None


@contextmanager
def original_parser() -> Iterator[None]:
    """The original regex and no cut of long lines, for the "before" column."""
    saved = output_parser._bar_description, output_parser.MAX_PARSED_CHARS
    output_parser._bar_description = _old_bar_description
    output_parser.MAX_PARSED_CHARS = 1 << 62
    try:
        yield
    finally:
        output_parser._bar_description, output_parser.MAX_PARSED_CHARS = saved


@contextmanager
def byte_by_byte_resync() -> Iterator[None]:
    """The original resync, for the "before" column: with an empty needle, ``find``
    proposes the very next offset, so every offset of lost framing is tried in Python."""
    saved = tfrecord._HIGH_ZEROS
    tfrecord._HIGH_ZEROS = b""
    try:
        yield
    finally:
        tfrecord._HIGH_ZEROS = saved


def ingest(data: bytes, max_line_bytes: int, stream: str = "stdout") -> None:
    """Split and parse ``data`` as ``TrainingProcess`` does with a stream's bytes."""
    splitter = LineSplitter(max_line_bytes=max_line_bytes)
    parser = OutputParser(max_steps=10**6, batch_size=4)
    for line in [*splitter.feed(data), *splitter.flush()]:
        parser.parse(line.text, stream)


def ns_per_byte(run: Callable[[], None], size: int, budget_s: float = 0.5) -> float:
    """Best time per byte over repetitions that fill about ``budget_s`` (at least one)."""
    best = float("inf")
    spent = 0.0
    while spent < budget_s or best == float("inf"):
        start = time.perf_counter()
        run()
        elapsed = time.perf_counter() - start
        spent += elapsed
        best = min(best, elapsed)
    return best * 1e9 / size


def typical_inputs() -> dict[str, bytes]:
    original = "".join(f"step: {i} loss: {1.0 / i:.6f} lr: 1e-4\n" for i in range(1, 3000))
    return {
        "RAVE stdout capture": (FIXTURES / "train.stdout.raw").read_bytes(),
        "RAVE stderr capture": (FIXTURES / "train.stderr.raw").read_bytes(),
        "step lines (step: N loss: X lr: Y)": original.encode(),
    }


def adversarial_inputs(size: int) -> dict[str, bytes]:
    bar_junk = "Epoch 0:  25%|##5 | 1/4 [00:00<00:01,  1.83it/s"
    return {
        "digits": b"9" * size + b"\n",
        # The original bar-head regex retried the digit run from every position.
        "digits, x, then %|": b"9" * size + b"x%|#| 1/4 [00:00<00:00, 1.0it/s]\n",
        "digits, space, then %|": b"9" * size + b" %|#| 1/4 [00:00<00:00, 1.0it/s]\n",
        "step: + digits": b"step: " + b"7" * size + b"\n",
        "many colons": b"loss" + b":" * size + b"\n",
        "spaces then =": b"lr" + b" " * size + b"x\n",
        "tqdm-like junk": (bar_junk * (size // len(bar_junk) + 1)).encode()[:size] + b"\n",
        "one huge line": bytes(random.Random(1).choices(b"abc :%|0123456789", k=size)) + b"\n",
        "long line, \\r redraws": (b"x" * 1000 + b"\r") * (size // 1001 + 1),
    }


def line_parser(size: int, before_size: int) -> None:
    typical = typical_inputs()
    print("line parser: split + parse, ns per byte (best of repeated runs)")
    print(f"{'input':<42}{'before':>12}{'after':>12}")
    typical_ns = []
    for name, data in typical.items():
        stream = "stderr" if "stderr" in name else "stdout"
        with original_parser():
            before = ns_per_byte(lambda d=data, s=stream: ingest(d, 1 << 62, s), len(data))
        after = ns_per_byte(lambda d=data, s=stream: ingest(d, MAX_LINE_BYTES, s), len(data))
        typical_ns.append(after)
        print(f"typical: {name:<33}{before:>12.1f}{after:>12.1f}")
    worst = 0.0
    for name, data in adversarial_inputs(size).items():
        small = adversarial_inputs(before_size)[name]
        double = adversarial_inputs(2 * before_size)[name]
        with original_parser():
            before = ns_per_byte(lambda d=small: ingest(d, 1 << 62), len(small), 0.2)
            before2 = ns_per_byte(lambda d=double: ingest(d, 1 << 62), len(double), 0.2)
        after = ns_per_byte(lambda d=data: ingest(d, MAX_LINE_BYTES), len(data))
        worst = max(worst, after)
        print(
            f"adversarial: {name:<29}{before:>12.1f}{after:>12.1f}"
            f"   (before at {2 * before_size:,} B: {before2:.1f})"
        )
    baseline = max(typical_ns)
    print(
        f"worst adversarial after ({size:,} B lines) / slowest typical: "
        f"{worst:.1f} / {baseline:.1f} = {worst / baseline:.2f} (target <= 3)"
    )
    print(f"'before' adversarial lines are {before_size:,} B (and twice that in brackets)")


def scalar_events(count: int) -> bytes:
    """``count`` one-scalar events framed as ``SummaryWriter.add_scalar`` writes them."""
    tags = ["loss_dis", "regularization", "fullband_spectral_distance", "pred_real"]
    records = []
    for step in range(count):
        summary = Summary(value=[Summary.Value(tag=tags[step % 4], simple_value=step / 7)])
        payload = Event(step=step, wall_time=1.8e9 + step, summary=summary).SerializeToString()
        length = struct.pack("<Q", len(payload))
        records.append(
            length
            + struct.pack("<I", tfrecord.masked_crc32c(length))
            + payload
            + struct.pack("<I", tfrecord.masked_crc32c(payload))
        )
    return b"".join(records)


def event_decoder() -> None:
    genuine = max(FIXTURES.glob("events.out.tfevents.*"), key=lambda p: p.stat().st_size)
    data = genuine.read_bytes()
    damaged = bytearray(data)
    rng = random.Random(2)
    for at in range(0, len(damaged), 4096):
        damaged[at + rng.randrange(min(4096, len(damaged) - at))] ^= 0xFF
    scalars = scalar_events(40_000)
    inputs = {
        "genuine RAVE event file (mostly audio)": data,
        "same, a byte flipped every 4 KB": bytes(damaged),
        "random bytes, as many": random.Random(3).randbytes(len(data)),
        f"{40_000:,} scalar events": scalars,
        "random bytes, as many as those": random.Random(4).randbytes(len(scalars)),
    }
    print()
    print("event decoder: follow a file to its end, ns per byte")
    print(f"{'input':<42}{'before':>12}{'after':>12}")
    with tempfile.TemporaryDirectory() as workdir:
        for name, blob in inputs.items():
            path = Path(workdir) / f"events.out.tfevents.{abs(hash(name))}"
            path.write_bytes(blob)

            def follow(p: Path = path) -> None:
                follower = EventFileFollower(p)
                while follower.poll().more_pending:
                    pass

            with byte_by_byte_resync():
                before = ns_per_byte(follow, len(blob), 0.2)
            after = ns_per_byte(follow, len(blob))
            print(f"{name:<42}{before:>12.1f}{after:>12.1f}")
    print("'before': lost framing scanned one offset at a time (the original resync)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=50_000, help="adversarial line bytes")
    parser.add_argument("--before-size", type=int, default=4_000, help="... for 'before'")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # out-of-range values warn (once per parser and file)
    line_parser(args.size, args.before_size)
    event_decoder()


if __name__ == "__main__":
    main()
