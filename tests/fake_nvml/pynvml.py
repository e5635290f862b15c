"""A test double of NVIDIA's ``pynvml`` (nvidia-ml-py): the GPUs come from a JSON file.

Put this folder first on ``sys.path`` (or ``PYTHONPATH`` for a subprocess) and name the file
in ``RAVELAB_FAKE_NVML``. The file is read again at every call, so a test changes the GPUs
while a reader runs. Only the functions ravelab calls exist. Its shape::

    {
      "init_error": "DRIVER_NOT_LOADED",        # nvmlInit raises this NVML error (optional)
      "count_error": "GPU_IS_LOST",             # nvmlDeviceGetCount raises it (optional)
      "hang_while": "/path/to/file",            # nvmlDeviceGetCount waits while it exists
      "driver": "550.54.15",
      "gpus": [
        {"name": "NVIDIA GeForce RTX 4090", "utilization": 97, "memory_used_mib": 20000,
         "memory_total_mib": 24564, "temperature_c": 71, "power_w": 380.5,
         "processes": [{"pid": 1234, "memory_mib": 19000}],
         "fail": {"power": "NOT_SUPPORTED"}}          # a reading that raises
      ]
    }

With no ``RAVELAB_FAKE_NVML`` or no file, it behaves as the real module does on a machine
without the driver: ``nvmlInit`` raises ``NVMLError_LibraryNotFound``. Errors are raised as
the real module raises them: ``NVMLError(value)`` picks the subclass for the value
(``NVMLError_GpuIsLost`` ...), and ``str()`` gives the driver's text.
"""

from __future__ import annotations

import json
import os
import time
from types import SimpleNamespace
from typing import Any, ClassVar

ENV = "RAVELAB_FAKE_NVML"

NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_TIMEOUT = 10
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_UNKNOWN = 999
NVML_TEMPERATURE_GPU = 0

_TEXT = {
    NVML_ERROR_UNINITIALIZED: "Uninitialized",
    NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
    NVML_ERROR_NOT_FOUND: "Not Found",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_TIMEOUT: "Timeout",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
    NVML_ERROR_GPU_IS_LOST: "GPU is lost",
    NVML_ERROR_UNKNOWN: "Unknown Error",
}


class NVMLError(Exception):
    """As the real class: ``NVMLError(value)`` is an instance of the value's subclass."""

    _valClassMapping: ClassVar[dict[int, type[NVMLError]]] = {}
    value: int

    def __new__(cls, value: int) -> NVMLError:
        if cls is NVMLError:
            cls = NVMLError._valClassMapping.get(value, cls)
        obj = Exception.__new__(cls)
        obj.value = value
        return obj

    def __init__(self, value: int) -> None:
        super().__init__(value)

    def __str__(self) -> str:
        return _TEXT.get(self.value, f"NVML Error with code {self.value}")


def _make_classes() -> None:
    for name, value in list(globals().items()):
        if name.startswith("NVML_ERROR_"):
            words = name.removeprefix("NVML_ERROR_").title().replace("_", "")
            cls = type(f"NVMLError_{words}", (NVMLError,), {})
            globals()[cls.__name__] = cls
            NVMLError._valClassMapping[value] = cls


_make_classes()
_initialised = 0


def _error(name: str) -> NVMLError:
    return NVMLError(globals().get(f"NVML_ERROR_{name}", NVML_ERROR_UNKNOWN))


def _state() -> dict[str, Any]:
    path = os.environ.get(ENV)
    if not path:
        raise _error("LIBRARY_NOT_FOUND")
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except FileNotFoundError:
        raise _error("LIBRARY_NOT_FOUND") from None
    assert isinstance(data, dict)
    return data


def _gpu(handle: Any, reading: str) -> dict[str, Any]:
    gpus = _state().get("gpus", [])
    if not isinstance(handle, SimpleNamespace) or not 0 <= handle.index < len(gpus):
        raise _error("GPU_IS_LOST")
    gpu = gpus[handle.index]
    fail = gpu.get("fail", {}).get(reading)
    if fail:
        raise _error(fail)
    return dict(gpu)


def nvmlInit() -> None:
    global _initialised
    error = _state().get("init_error")
    if error:
        raise _error(error)
    _initialised += 1


def nvmlShutdown() -> None:
    global _initialised
    if not _initialised:
        raise _error("UNINITIALIZED")
    _initialised -= 1


def _check() -> dict[str, Any]:
    if not _initialised:
        raise _error("UNINITIALIZED")
    return _state()


def nvmlSystemGetDriverVersion() -> str:
    return str(_check().get("driver", "550.54.15"))


def nvmlDeviceGetCount() -> int:
    state = _check()
    hang = state.get("hang_while")
    deadline = time.monotonic() + 120  # a forgotten file never hangs a test run for good
    while hang and os.path.exists(hang) and time.monotonic() < deadline:
        time.sleep(0.02)
    if state.get("count_error"):
        raise _error(state["count_error"])
    return len(state.get("gpus", []))


def nvmlDeviceGetHandleByIndex(index: int) -> SimpleNamespace:
    gpus = _check().get("gpus", [])
    if not 0 <= index < len(gpus):
        raise _error("INVALID_ARGUMENT")
    if gpus[index].get("fail", {}).get("handle"):
        raise _error(gpus[index]["fail"]["handle"])
    return SimpleNamespace(index=index)


def nvmlDeviceGetName(handle: Any) -> str:
    return str(_gpu(handle, "name").get("name", "NVIDIA Fake GPU"))


def nvmlDeviceGetUtilizationRates(handle: Any) -> SimpleNamespace:
    gpu = _gpu(handle, "utilization")
    return SimpleNamespace(gpu=int(gpu.get("utilization", 0)), memory=0)


def nvmlDeviceGetMemoryInfo(handle: Any) -> SimpleNamespace:
    gpu = _gpu(handle, "memory")
    total = int(gpu.get("memory_total_mib", 24564) * 1024 * 1024)
    used = int(gpu.get("memory_used_mib", 0) * 1024 * 1024)
    return SimpleNamespace(total=total, used=used, free=total - used)


def nvmlDeviceGetTemperature(handle: Any, sensor: int) -> int:
    if sensor != NVML_TEMPERATURE_GPU:
        raise _error("INVALID_ARGUMENT")
    return int(_gpu(handle, "temperature").get("temperature_c", 40))


def nvmlDeviceGetPowerUsage(handle: Any) -> int:
    return int(float(_gpu(handle, "power").get("power_w", 50.0)) * 1000)


def nvmlDeviceGetComputeRunningProcesses(handle: Any) -> list[SimpleNamespace]:
    found = []
    for process in _gpu(handle, "processes").get("processes", []):
        memory = process.get("memory_mib")
        used = None if memory is None else int(memory * 1024 * 1024)
        found.append(SimpleNamespace(pid=int(process["pid"]), usedGpuMemory=used))
    return found
