"""What ``rave preprocess`` finds, reads and writes, and the tqdm bar it draws on stderr.

Checked against scripts/preprocess.py (acids-rave 2.3.1), the ``preprocess`` captures and runs
of the real command with ffmpeg 5.1 on this machine's Python 3.11.7:

* files: ``Path(p).rglob('*.' + ext)`` then ``'*.' + ext.upper()`` for every input path and
  extension, duplicates included, each made absolute;
* chunks: ffmpeg resamples to ``--sampling_rate`` and RAVE keeps whole chunks of
  ``2 * --num_signal`` samples per file; WAV files are measured with the ``wave`` module (RIFF
  header as a fallback for float/extensible WAVs); other formats last
  ``FAKE_RAVE_AUDIO_SECONDS`` (default 0) since the double cannot decode them;
* ``metadata.yaml`` is ``yaml.safe_dump`` of four scalars, keys sorted;
* ``data.mdb`` grows like the LMDB file did (2 meta pages, one overflow run per chunk, a few
  pages of B-tree and free list: 20 chunks -> 5357568 bytes as in ``dataset_tree.txt``).
"""

from __future__ import annotations

import json
import math
import os
import struct
import wave
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from tests.fake_rave.captures import load_capture

PAGE = 4096
#: B-tree/free-list pages LMDB added for 1, 2 and >= 3 chunks (real runs: 68, 263, 1308 pages).
_EXTRA_PAGES = (0, 1, 3, 4, 5, 6)


@dataclass(frozen=True)
class Audio:
    """One file as ffprobe/ffmpeg would see it; ``frames`` None = ffprobe fails on it."""

    path: str
    frames: int | None
    rate: int
    channels: int

    def duration(self) -> float:
        """ffprobe's ``format=duration`` (printed with 6 decimals), as RAVE parses it."""
        return float(f"{(self.frames or 0) / self.rate:.6f}")


def find_audio(input_paths: list[str], extensions: list[str]) -> list[str]:
    """scripts/preprocess.py search_for_audios, then ``map(os.path.abspath, …)``."""
    found = []
    for folder in map(Path, input_paths):
        for ext in extensions:
            found += folder.rglob(f"*.{ext}")
            found += folder.rglob(f"*.{ext.upper()}")
    return [os.path.abspath(str(p)) for p in found]


def _riff_frames(path: str) -> tuple[int, int, int] | None:
    """(frames, rate, channels) from a RIFF/WAVE header the wave module refuses."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(1 << 16)
            size = os.fstat(handle.fileno()).st_size
    except OSError:
        return None
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos, fmt = 12, None
    while pos + 8 <= len(data):
        chunk, length = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if chunk == b"fmt " and length >= 16:
            fmt = struct.unpack_from("<HHIIH", data, pos + 8)
        elif chunk == b"data" and fmt is not None and fmt[4] > 0:
            available = min(length, size - pos - 8)
            return available // fmt[4], fmt[2], fmt[1]
        pos += 8 + length + (length & 1)
    return None


def probe(path: str, default_seconds: float) -> Audio:
    if path.lower().endswith(".wav"):
        if os.path.isdir(path):
            return Audio(path, None, 1, 1)
        try:
            with wave.open(path, "rb") as handle:
                header = handle.getnframes(), handle.getframerate(), handle.getnchannels()
        except (wave.Error, EOFError, OSError):
            header = _riff_frames(path)
        if header is None or header[1] <= 0:
            return Audio(path, None, 1, 1)
        return Audio(path, header[0], header[1], max(header[2], 1))
    return Audio(path, int(default_seconds * 1_000_000), 1_000_000, 1)


def chunk_count(audio: Audio, num_signal: int, sampling_rate: int) -> int:
    """Whole ``2 * num_signal`` sample chunks of the file resampled to ``sampling_rate``."""
    if not audio.frames or num_signal <= 0 or sampling_rate <= 0:
        return 0  # num_signal 0 would make RAVE yield empty chunks forever: not emulated
    return (audio.frames * sampling_rate // audio.rate) // (2 * num_signal)


def mdb_size(values: list[int]) -> int:
    """Size of data.mdb after LMDB stored values of these byte sizes (one put per txn)."""
    if not values:
        return 2 * PAGE
    pages = 2 + _EXTRA_PAGES[min(len(values), len(_EXTRA_PAGES) - 1)]
    small = 0
    for size in values:
        if size + 16 > PAGE // 2:  # an overflow run of its own
            pages += math.ceil((size + 16) / PAGE)
        else:
            small += size + 24
    return (pages + math.ceil(small / (PAGE - 16))) * PAGE


def grow(path: Path, size: int) -> None:
    """Make ``path`` at least ``size`` bytes (sparse: the bytes themselves do not matter)."""
    with open(path, "ab") as handle:
        if handle.tell() < size:
            handle.truncate(size)


def metadata_yaml(channels: int, lazy: bool, n_seconds: float, sr: int) -> str:
    """yaml.safe_dump({...}) of RAVE's four keys: sorted, floats as repr(), 0 stays an int."""
    if isinstance(n_seconds, float):
        seconds = repr(n_seconds).lower()
        if "." not in seconds and "e" in seconds:
            seconds = seconds.replace("e", ".0e", 1)
        if n_seconds != n_seconds:
            seconds = ".nan"
        elif math.isinf(n_seconds):
            seconds = ".inf" if n_seconds > 0 else "-.inf"
    else:
        seconds = str(n_seconds)
    lazy_text = "true" if lazy else "false"
    return f"channels: {channels}\nlazy: {lazy_text}\nn_seconds: {seconds}\nsr: {sr}\n"


# -- the tqdm bar ---------------------------------------------------------------------------

#: Capture clock of ``preprocess``: tqdm created (first "\r"); seconds between two pairs of
#: chunks coming out of the 2-process pool; close after the last one; exit after close;
#: time per file when no chunk comes out (``preprocess_default_numsignal``: 20 files, 1.27 s).
T_BAR, PAIR_DT, CLOSE_DT, EXIT_DT, FILE_DT = 1.0626, 0.1155, 0.0041, 0.424, 0.0637


def fmt_elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(max(seconds, 0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:d}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def fmt_rate(n: int, elapsed: float) -> str:
    if n <= 0 or elapsed <= 0:
        return "?it/s"
    rate = n / elapsed
    return f"{1 / rate:5.2f}s/it" if rate < 1 else f"{rate:5.2f}it/s"


def describe(seconds: float) -> str:
    return f"dataset length: {timedelta(seconds=seconds)}"


def pattern(items: int) -> list[tuple[str, int]]:
    """The bar's writes for ``items`` items coming in pairs, as in the ``preprocess`` capture:
    ("init", 0), then per item k ("desc", k) (set_description) and, after every second item,
    ("count", n) (tqdm's own refresh, at most every 0.1 s)."""
    writes = [("init", 0)]
    if items:
        writes += [("desc", 0), ("count", 1)]
    for k in range(1, items):
        writes.append(("desc", k))
        if k % 2 == 0:
            writes.append(("count", k + 1))
    return writes


def _capture_table() -> dict[tuple[str, int], tuple[float, str]]:
    """(kind, k) -> (write time, "[elapsed, rate]") of the ``preprocess`` capture (20 chunks)."""
    records = [r for r in load_capture("preprocess") if r.stream == "stderr"]
    table = {}
    for key, previous, record in zip(pattern(20), records, records[1:], strict=False):
        text = record.data.decode()
        table[key] = (previous.t, text[text.rindex("[") :].rstrip("\r\n"))
    return table


_TABLE: dict[tuple[str, int], tuple[float, str]] | None = None


@dataclass
class Write:
    t: float  # capture clock
    extra: float  # real seconds added by FAKE_RAVE_PREPROCESS_SECONDS_PER_CHUNK
    text: str  # the bar (drawn as "\r" + text + padding), or "\n" (tqdm.close)
    item: int | None = None  # the item this write reports, when it is a "desc" write


class Bar:
    """Builds the genuine writes of RAVE's tqdm for a dataset of ``len(descs)`` items."""

    def __init__(self, descs: list[str], per_item: float) -> None:
        global _TABLE
        if _TABLE is None:
            _TABLE = _capture_table()
        self.descs, self.per_item = descs, per_item
        self.last_len = 0
        self.shown, self.rate = 0, "?it/s"

    def render(self, write: Write) -> bytes:
        """tqdm's print_status: pad with spaces over a longer previous bar."""
        if write.text == "\n":
            return b"\n"
        padding = " " * max(self.last_len - len(write.text), 0)
        self.last_len = len(write.text)
        return f"\r{write.text}{padding}".encode()

    def _time(self, kind: str, k: int) -> float:
        if (kind, k) in _TABLE:
            return _TABLE[kind, k][0]
        if kind == "count":
            return self._time("desc", k - 1) + 0.0009
        last = _TABLE["desc", 19][0]
        return last + ((k - 1) // 2 - 9) * PAIR_DT + (0.0001 if k % 2 == 0 else 0.0)

    def line(self, desc: str | None, n: int, elapsed: float, rate: str) -> str:
        prefix = f"{desc}: : " if desc else ""
        return f"{prefix}{n}it [{fmt_elapsed(elapsed)}, {rate}]"

    def writes(self, files: int) -> list[Write]:
        """All writes of a run that ends normally (close included)."""
        out: list[Write] = []
        for kind, k in pattern(len(self.descs)):
            t = T_BAR if kind == "init" else self._time(kind, k)
            done = 0 if kind == "init" else (k + 1 if kind == "desc" else k)
            extra = self.per_item * done
            elapsed = t - T_BAR + extra
            captured = _TABLE.get((kind, k)) if self.per_item == 0 else None
            if kind == "init":
                out.append(Write(t, 0.0, "0it [00:00, ?it/s]"))
                continue
            if kind == "count":
                self.shown = k
                self.rate = captured[1][1:-1].split(", ")[1] if captured else fmt_rate(k, elapsed)
                desc = self.descs[k - 1]
            else:
                desc = self.descs[k]
            bracket = captured[1] if captured else None
            text = self.line(desc, self.shown, elapsed, self.rate)
            if bracket is not None:
                text = text[: text.rindex("[")] + bracket
            out.append(Write(t, extra, text, k if kind == "desc" else None))
        count = len(self.descs)
        t = out[-1].t + CLOSE_DT if count else T_BAR + FILE_DT * files
        out += self.close(t, self.per_item * count, count)
        return out

    def close(self, t: float, extra: float, done: int) -> list[Write]:
        """tqdm.close(): the bar once more with the overall rate, then a newline."""
        elapsed = t - T_BAR + extra
        desc = self.descs[done - 1] if done else None
        text = self.line(desc, done, elapsed, fmt_rate(done, elapsed))
        return [Write(t, extra, text), Write(t, extra, "\n")]


def lazy_record_size(audio: Audio) -> int:
    """AudioExample(metadata={path, length, channels}) serialised: about this many bytes."""
    return len(json.dumps([audio.path, str(audio.duration()), str(audio.channels)])) + 12
