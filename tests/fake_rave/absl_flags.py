"""absl-py 2.5.1's command-line parsing as ``rave train|preprocess|export`` meet it.

Same forms (``--flag value``, ``--flag=value``, ``-flag``, ``--noflag``, repeated multi
flags, ``--flagfile``, ``--undefok``), same order of checks (a bad value at once, help at
once, unknown flags after the loop, then the required flags) and the same messages, down
to the "Did you mean" suggestions; rave_cli prints them as ``FATAL Flags parsing error: …``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: name -> (absl type, default), in scripts/train.py's order (it orders the FATAL messages).
TRAIN_FLAGS: dict[str, tuple[str, Any]] = {
    "name": ("string", None),
    "config": ("multi_string", ["v2.gin"]),
    "augment": ("multi_string", []),
    "db_path": ("string", None),
    "out_path": ("string", "runs/"),
    "max_steps": ("integer", 6000000),
    "val_every": ("integer", 10000),
    "save_every": ("integer", 500000),
    "n_signal": ("integer", 131072),
    "channels": ("integer", 0),
    "batch": ("integer", 8),
    "ckpt": ("string", None),
    "override": ("multi_string", []),
    "workers": ("integer", 0),  # RAVE's default is 8; the double spawns workers only on request
    "gpu": ("multi_integer", None),
    "derivative": ("bool", False),
    "normalize": ("bool", False),
    "rand_pitch": ("list", None),
    "ema": ("float", None),
    "progress": ("bool", True),
    "smoke_test": ("bool", False),
}
#: scripts/preprocess.py's flags, in definition order (input_path and output_path required).
PREPROCESS_FLAGS: dict[str, tuple[str, Any]] = {
    "input_path": ("multi_string", None),
    "output_path": ("string", None),
    "num_signal": ("integer", 131072),
    "channels": ("integer", 1),
    "sampling_rate": ("integer", 44100),
    "max_db_size": ("integer", 100),
    "ext": ("multi_string", ["aif", "aiff", "wav", "opus", "mp3", "aac", "flac", "ogg"]),
    "lazy": ("bool", False),
    "dyndb": ("bool", True),
}
#: scripts/export.py's flags (run required); export_help shows fidelity's bounds.
EXPORT_FLAGS: dict[str, tuple[str, Any]] = {
    "run": ("string", None),
    "streaming": ("bool", False),
    "fidelity": ("float", 0.95),
    "name": ("string", None),
    "output": ("string", None),
    "ema_weights": ("bool", False),
    "channels": ("integer", None),
    "sr": ("integer", None),
    "prior": ("string", None),
}
#: DEFINE_float(lower_bound=, upper_bound=): checked as each value is parsed.
FLOAT_BOUNDS: dict[str, tuple[float, float]] = {"fidelity": (0.1, 0.999)}
#: The absl.app / absl.logging / absl.flags flags that train_helpfull lists.
ABSL_FLAGS: dict[str, tuple[str, Any]] = {
    **{
        name: ("bool", False)
        for name in (
            "help",
            "?",
            "helpfull",
            "helpshort",
            "helpxml",
            "only_check_args",
            "only_check_flags",
            "pdb",
            "pdb_post_mortem",
            "run_with_pdb",
            "run_with_profiling",
            "alsologtostderr",
            "logtostderr",
        )
    },
    "use_cprofile_for_profiling": ("bool", True),
    "showprefixforinfo": ("bool", True),
    "profile_file": ("string", None),
    "log_dir": ("string", ""),
    "logger_levels": ("string", ""),
    "stderrthreshold": ("string", "fatal"),
    "verbosity": ("integer", -1),
    "v": ("integer", -1),
    "flagfile": ("string", ""),
    "undefok": ("string", ""),
}


class FlagError(Exception):
    """absl's ``FATAL Flags parsing error: <message>``."""


class HelpRequested(Exception):
    """--help / -? / --helpshort (``train_help``) or --helpfull (``train_helpfull``)."""


class NegatedWithValue(Exception):
    """``--noprogress=1``: absl raises a plain ValueError, i.e. a traceback."""


def _damerau_levenshtein(a: str, b: str) -> int:
    memo: dict[tuple[str, str], int] = {}

    def distance(x: str, y: str) -> int:
        if (x, y) in memo:
            return memo[x, y]
        if not x or not y:
            result = len(x) + len(y)
        else:
            result = min(
                distance(x[1:], y) + 1,
                distance(x, y[1:]) + 1,
                distance(x[1:], y[1:]) + (x[0] != y[0]),
            )
            if len(x) >= 2 and len(y) >= 2 and x[0] == y[1] and x[1] == y[0]:
                result = min(result, distance(x[2:], y[2:]) + 1)
        memo[x, y] = result
        return result

    return distance(a, b)


def _suggestions(attempt: str, names: Sequence[str]) -> list[str]:
    """absl's get_flag_suggestions: closest flag-name prefixes, under 50 % errors."""
    if len(attempt) <= 2 or not names:
        return []
    distances = sorted((_damerau_levenshtein(attempt, n[: len(attempt)]), n) for n in names)
    least = distances[0][0]
    if least >= 0.5 * len(attempt):
        return []
    return [name for errors, name in distances if errors == least]


def _convert(name: str, kind: str, text: str, bounds: tuple[float, float] | None = None) -> Any:
    try:
        if kind in ("integer", "multi_integer"):
            base = 10
            if len(text) > 2 and text[0] == "0" and text[1] in "ox":
                base = 8 if text[1] == "o" else 16
            return int(text, base)
        if kind == "float":
            value = float(text)
            if bounds is not None and not bounds[0] <= value <= bounds[1]:
                # FloatParser: '%s is not %s' % (val, 'a number in the range [lo, hi]')
                raise ValueError(f"{value} is not a number in the range [{bounds[0]}, {bounds[1]}]")
            return value
        if kind == "bool":
            if text.lower() in ("true", "t", "1"):
                return True
            if text.lower() in ("false", "f", "0"):
                return False
            raise ValueError("Non-boolean argument to boolean flag", text)
        if kind == "list":
            return [part.strip() for part in text.split(",")] if text else []
    except ValueError as error:
        raise FlagError(f"flag --{name}={text}: {error}") from None
    return text


def _expand_flagfiles(args: list[str]) -> list[str]:
    expanded: list[str] = []
    index = 0
    while index < len(args):
        arg, index = args[index], index + 1
        if arg in ("--flagfile", "-flagfile"):
            if index >= len(args):
                raise FlagError("--flagfile with no argument")
            path, index = args[index], index + 1
        elif arg.startswith(("--flagfile=", "-flagfile=")):
            path = arg.partition("=")[2]
        else:
            expanded.append(arg)
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                lines = [line.strip() for line in handle]
        except OSError as error:
            raise FlagError(f"ERROR:: Unable to open flagfile: {error}") from None
        lines = [ln for ln in lines if ln and not ln.startswith(("#", "//"))]
        expanded.extend(_expand_flagfiles(lines))
    return expanded


def parse_flags(
    args: list[str],
    flags: dict[str, tuple[str, Any]],
    required: Sequence[str] = ("name", "db_path"),
    prefix: str = "train",
) -> dict[str, Any]:
    """absl's parsing: errors in order, help at once, unknown flags after the loop.

    ``required`` are the flags marked required (in definition order); ``prefix`` names the
    help captures (``<prefix>_help``, ``<prefix>_helpfull``).
    """
    values = {name: (list(d) if isinstance(d, list) else d) for name, (_, d) in flags.items()}
    args, seen, unknown = _expand_flagfiles(args), set(), []
    index = 0
    while index < len(args):
        arg, index = args[index], index + 1
        if arg == "--":
            break
        if not arg.startswith("-") or arg == "-":
            continue  # a positional argument (``train`` itself, in RAVE's argv)
        name, equals, value = arg[2 if arg.startswith("--") else 1 :].partition("=")
        if name in ("help", "?", "helpshort"):
            raise HelpRequested(f"{prefix}_help")
        if name == "helpfull":
            raise HelpRequested(f"{prefix}_helpfull")
        if name in flags:
            kind = flags[name][0]
            if kind == "bool":
                parsed = _convert(name, kind, value) if equals else True
            else:
                if not equals:
                    if index >= len(args):
                        raise FlagError(f"Missing value for flag {arg}")
                    value, index = args[index], index + 1
                parsed = _convert(name, kind, value, FLOAT_BOUNDS.get(name))
            if kind.startswith("multi"):
                current = values[name] if name in seen else []
                values[name] = [*current, parsed]
                seen.add(name)
            else:
                values[name] = parsed
        elif name.startswith("no") and flags.get(name[2:], ("",))[0] == "bool":
            if equals:
                raise NegatedWithValue(f"{arg} does not take an argument")
            values[name[2:]] = False
        else:
            unknown.append(name)
    allowed = str(values.get("undefok") or "").split(",")
    for name in unknown:
        if name in allowed or (name.startswith("no") and name[2:] in allowed):
            continue
        tips = _suggestions(name, list(flags))
        tip = f". Did you mean: {', '.join(tips)} ?" if tips else ""
        raise FlagError(f"Unknown command line flag '{name}'{tip}")
    missing = [
        f"flag --{name}=None: Flag --{name} must have a value other than None."
        for name in required
        if name in flags and values[name] is None
    ]
    if len(missing) == 1:
        raise FlagError(missing[0])
    if missing:
        raise FlagError("\n" + "\n".join(f"  {line}" for line in missing))
    return values
