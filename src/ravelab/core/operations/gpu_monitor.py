"""What the NVIDIA GPUs are doing now, read through NVML (NVIDIA's ``nvidia-ml-py``).

``read_gpus()`` returns a ``GpuSnapshot`` (one ``GpuReading`` per GPU: name, utilisation,
memory, temperature, power and the compute processes with their memory) or, when there is
no GPU to read, a ``NoGpu`` with the reason: the ``pynvml`` module is missing, the NVML
library is not installed, the driver is not loaded, there is no device, or NVML failed or
did not answer. It never raises: a machine without a GPU is an ordinary case.

NVML calls can hang (a GPU fallen off the bus, a wedged driver), so every read runs in a
thread of its own and is given up after ``timeout_s``; a read still hanging blocks no later
caller (the next one is answered "still waiting" at once instead of starting another). Each
``NVMLError`` is caught and named by its error class. A value a GPU does not report (power
on some boards, temperature in some virtual machines) is None, with the failure named in
``GpuReading.problems``; the other values are still read.

NVML is initialised once per process and kept (``nvmlInit`` costs tens of milliseconds on a
real driver); after an error that may mean the driver went away it is initialised again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

#: Seconds an NVML read may take before it is given up.
DEFAULT_TIMEOUT_S = 5.0
_MIB = 1024 * 1024


@dataclass(frozen=True)
class GpuProcess:
    """A compute process on a GPU: its pid (as this machine numbers them; inside a
    container NVML may report the host's pids) and the GPU memory it holds (None when
    the driver does not say)."""

    pid: int
    memory_mib: float | None


@dataclass(frozen=True)
class GpuReading:
    """One GPU's readings; a value the GPU did not report is None."""

    index: int
    name: str
    utilization_pct: float | None
    memory_used_mib: float | None
    memory_total_mib: float | None
    temperature_c: float | None
    power_w: float | None
    processes: tuple[GpuProcess, ...] = ()
    #: What could not be read, e.g. ``("power: NVMLError_NotSupported",)``.
    problems: tuple[str, ...] = ()

    def process_memory_mib(self, pids: set[int]) -> float | None:
        """The GPU memory held by the processes among ``pids``: 0.0 when none of them
        is on this GPU, None when one is but the driver does not say how much."""
        total = 0.0
        for process in self.processes:
            if process.pid in pids:
                if process.memory_mib is None:
                    return None
                total += process.memory_mib
        return total


@dataclass(frozen=True)
class GpuSnapshot:
    """Every GPU's readings at one moment (``taken_at``: ``time.time()``)."""

    gpus: tuple[GpuReading, ...]
    taken_at: float
    driver: str | None = None

    def gpu(self, index: int) -> GpuReading | None:
        """The reading of GPU ``index``, None when there is no such GPU."""
        return next((gpu for gpu in self.gpus if gpu.index == index), None)


#: Why a ``NoGpu`` came back (``NoGpu.kind``).
NO_MODULE = "no-module"
NO_LIBRARY = "no-library"
NO_DRIVER = "no-driver"
NO_DEVICE = "no-device"
NVML_ERROR = "nvml-error"
NVML_TIMEOUT = "timeout"


@dataclass(frozen=True)
class NoGpu:
    """No GPU could be read, and why (``kind``: one of the ``NO_*`` / ``NVML_*`` names;
    ``reason``: a sentence for people)."""

    kind: str
    reason: str


GpuState = GpuSnapshot | NoGpu


def _error_name(error: BaseException) -> str:
    """An NVML error as its class name and message (``NVMLError_GpuIsLost: GPU is lost``)."""
    try:
        text = str(error)
    except Exception:  # NVMLError.__str__ itself calls NVML
        text = ""
    name = type(error).__name__
    return f"{name}: {text}" if text and text != name else name


class _Nvml:
    """NVML initialised once for this process (a lock keeps two readers apart)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._module: Any = None

    def read(self) -> GpuState:
        with self._lock:
            return self._read()

    def _read(self) -> GpuState:
        if self._module is None:
            try:
                import pynvml
            except ImportError:
                return NoGpu(NO_MODULE, "the nvidia-ml-py package (module pynvml) is not installed")
            try:
                pynvml.nvmlInit()
            except pynvml.NVMLError as error:
                return _init_failure(pynvml, error)
            except OSError as error:  # a library that loads but is broken
                return NoGpu(NO_LIBRARY, f"the NVML library could not be loaded: {error}")
            self._module = pynvml
        nvml = self._module
        try:
            count = int(nvml.nvmlDeviceGetCount())
            driver = _text(_attempt(nvml.nvmlSystemGetDriverVersion, nvml)[0])
            gpus = tuple(_read_gpu(nvml, index) for index in range(count))
        except nvml.NVMLError as error:
            self._forget(nvml)
            return NoGpu(NVML_ERROR, f"NVML failed: {_error_name(error)}")
        if not gpus:
            return NoGpu(NO_DEVICE, "the NVIDIA driver is loaded but reports no GPU")
        return GpuSnapshot(gpus, time.time(), driver)

    def _forget(self, nvml: Any) -> None:
        """Shut NVML down so that the next read initialises it again (the driver may
        have been reloaded, or the GPU reset)."""
        self._module = None
        try:
            nvml.nvmlShutdown()
        except Exception as error:
            logger.debug("nvmlShutdown failed: %s", _error_name(error))


def _init_failure(nvml: Any, error: BaseException) -> NoGpu:
    value = getattr(error, "value", None)
    if value == getattr(nvml, "NVML_ERROR_LIBRARY_NOT_FOUND", None):
        return NoGpu(NO_LIBRARY, "no NVIDIA driver (the NVML library libnvidia-ml is missing)")
    if value == getattr(nvml, "NVML_ERROR_DRIVER_NOT_LOADED", None):
        return NoGpu(NO_DRIVER, "the NVIDIA driver is not loaded")
    if value == getattr(nvml, "NVML_ERROR_NO_PERMISSION", None):
        return NoGpu(NVML_ERROR, "no permission to use the NVIDIA driver")
    return NoGpu(NVML_ERROR, f"NVML could not start: {_error_name(error)}")


def _attempt(call: Callable[..., Any], nvml: Any, *args: Any) -> tuple[Any, str | None]:
    """``call(*args)``, or None and the named NVML error. Errors that mean the whole
    driver is gone (uninitialised, GPU lost, driver not loaded) are raised on, so the read
    as a whole fails and NVML is initialised again."""
    try:
        return call(*args), None
    except nvml.NVMLError as error:
        fatal = (
            getattr(nvml, "NVML_ERROR_UNINITIALIZED", None),
            getattr(nvml, "NVML_ERROR_DRIVER_NOT_LOADED", None),
            getattr(nvml, "NVML_ERROR_GPU_IS_LOST", None),
        )
        if getattr(error, "value", None) in fatal:
            raise
        return None, _error_name(error)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):  # older bindings return bytes
        value = value.decode("utf-8", "replace")
    return str(value)[:200]


def _number(value: Any, scale: float = 1.0, most: float = 1e12) -> float | None:
    """A reading as a finite float in ``[0, most]`` (None for anything else: the driver's
    "not available" sentinels are huge unsigned numbers, and a value no GPU can have is
    no reading)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value) / scale
    if not 0.0 <= number <= most:
        return None
    return number


#: The largest readings a GPU can give: per cent, degrees, watts (a whole DGX board
#: draws about 10 kW), MiB (16 TiB).
_MOST_PCT, _MOST_C, _MOST_W, _MOST_MIB = 100.0, 200.0, 20_000.0, 16.0 * 1024 * 1024


def _read_gpu(nvml: Any, index: int) -> GpuReading:
    problems: list[str] = []

    def read(label: str, call: Callable[..., Any], *args: Any) -> Any:
        value, problem = _attempt(call, nvml, *args)
        if problem is not None:
            problems.append(f"{label}: {problem}")
        return value

    handle, problem = _attempt(nvml.nvmlDeviceGetHandleByIndex, nvml, index)
    if problem is not None:
        return GpuReading(index, f"GPU {index}", None, None, None, None, None, (), (problem,))
    name = _text(read("name", nvml.nvmlDeviceGetName, handle)) or f"GPU {index}"
    rates = read("utilization", nvml.nvmlDeviceGetUtilizationRates, handle)
    memory = read("memory", nvml.nvmlDeviceGetMemoryInfo, handle)
    temperature = read(
        "temperature",
        nvml.nvmlDeviceGetTemperature,
        handle,
        getattr(nvml, "NVML_TEMPERATURE_GPU", 0),
    )
    power = read("power", nvml.nvmlDeviceGetPowerUsage, handle)  # milliwatts
    found = read("processes", nvml.nvmlDeviceGetComputeRunningProcesses, handle) or []
    processes = []
    for process in found:
        pid = getattr(process, "pid", None)
        if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0:
            used = _number(getattr(process, "usedGpuMemory", None), _MIB, _MOST_MIB)
            processes.append(GpuProcess(pid, used))
    return GpuReading(
        index=index,
        name=name,
        utilization_pct=_number(getattr(rates, "gpu", None), most=_MOST_PCT),
        memory_used_mib=_number(getattr(memory, "used", None), _MIB, _MOST_MIB),
        memory_total_mib=_number(getattr(memory, "total", None), _MIB, _MOST_MIB),
        temperature_c=_number(temperature, most=_MOST_C),
        power_w=_number(power, 1000.0, _MOST_W),
        processes=tuple(processes),
        problems=tuple(problems),
    )


_NVML = _Nvml()
_pending_lock = threading.Lock()
_pending: threading.Thread | None = None


def read_gpus(timeout_s: float = DEFAULT_TIMEOUT_S) -> GpuState:
    """Every GPU's readings now, or ``NoGpu`` with the reason. Never raises, never
    blocks longer than ``timeout_s`` (see the module docstring)."""
    global _pending
    with _pending_lock:
        if _pending is not None and _pending.is_alive():
            return NoGpu(NVML_TIMEOUT, "NVML has not answered an earlier read yet")
        result: list[GpuState] = []

        def work() -> None:
            try:
                result.append(_NVML.read())
            except Exception as error:  # a broken binding: said, never raised
                result.append(NoGpu(NVML_ERROR, f"NVML failed: {_error_name(error)}"))

        thread = threading.Thread(target=work, name="nvml-read", daemon=True)
        _pending = thread
        thread.start()
    thread.join(timeout_s)
    if result:
        return result[0]
    return NoGpu(NVML_TIMEOUT, f"NVML did not answer within {timeout_s:g} s")
