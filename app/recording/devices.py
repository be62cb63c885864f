"""Input devices: list them, choose one by name, and say plainly why recording is unavailable.

Digital stethoscopes reach the computer as ordinary audio input devices. A device is stored by
its *name* (and, where names repeat, its host API's name), never by its index: PortAudio numbers
devices afresh in each session, and plugging in a headset shifts every index after it.

sounddevice is imported lazily and only here: without the PortAudio library it raises
``OSError`` at import, and the program must still open files. Every function that needs it goes
through :func:`sounddevice_module`, which turns that failure into a
:class:`RecordingUnavailableError` with a sentence a user can act on.

Nothing here runs on PortAudio's real-time thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from .errors import DeviceNotFoundError, DeviceSettingsError, RecordingUnavailableError

#: Sample rates offered for a stethoscope: the devices' usual 4, 8, 44.1 and 48 kHz and the
#: common rates between them.
COMMON_SAMPLERATES = (4000, 8000, 11025, 16000, 22050, 32000, 44100, 48000)

_PORTAUDIO_MISSING = (
    "Recording is not available: the PortAudio sound library is not installed "
    "(on Debian or Ubuntu: sudo apt-get install libportaudio2; on Windows and macOS it comes "
    "with AudioFuse). Opening and classifying recordings still works.")
_SOUNDDEVICE_MISSING = (
    "Recording is not available: the Python package sounddevice is not installed "
    "(pip install sounddevice). Opening and classifying recordings still works.")
_NO_INPUT = (
    "Recording is not available: no audio input device was found. Connect the stethoscope "
    "(or its USB/Bluetooth adapter) and choose it in the recording settings. Opening and "
    "classifying recordings still works.")

_sd: ModuleType | None = None
_sd_error: str | None = None


def sounddevice_module() -> ModuleType:
    """Import sounddevice on first use; raise :class:`RecordingUnavailableError` without it."""
    global _sd, _sd_error
    if _sd is not None:
        return _sd
    if _sd_error is None:
        try:
            import sounddevice
        except OSError:  # sounddevice raises OSError when libportaudio cannot be loaded
            _sd_error = _PORTAUDIO_MISSING
        except ImportError:
            _sd_error = _SOUNDDEVICE_MISSING
        else:
            _sd = sounddevice
            return _sd
    raise RecordingUnavailableError(_sd_error)


@dataclass(frozen=True)
class InputDevice:
    """One audio input device as PortAudio lists it now.

    ``index`` is valid for this session only; store ``name`` (and ``hostapi`` where names
    repeat) to find the device again.
    """

    name: str
    hostapi: str
    index: int
    max_channels: int
    default_samplerate: float
    is_default: bool = False

    @property
    def label(self) -> str:
        """A line for a device menu: ``"USB Audio (ALSA)"``."""
        return f"{self.name} ({self.hostapi})"


def list_input_devices() -> list[InputDevice]:
    """Every device with at least one input channel, in PortAudio's order.

    Raises :class:`RecordingUnavailableError` when PortAudio is missing or fails to start.
    An empty list means PortAudio works but no input device is connected.
    """
    sd = sounddevice_module()
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
        default_in = _default_input_index(sd)
    except sd.PortAudioError as exc:
        raise RecordingUnavailableError(
            f"Recording is not available: the sound system could not list the audio devices "
            f"({exc}).") from None
    found = []
    for dev in devices:
        if int(dev["max_input_channels"]) < 1:
            continue
        found.append(InputDevice(
            name=str(dev["name"]), hostapi=str(hostapis[dev["hostapi"]]["name"]),
            index=int(dev["index"]), max_channels=int(dev["max_input_channels"]),
            default_samplerate=float(dev["default_samplerate"]),
            is_default=int(dev["index"]) == default_in))
    return found


def _default_input_index(sd: ModuleType) -> int:
    try:
        index = sd.default.device[0]
        if index is None or int(index) < 0:
            return int(sd.query_hostapis(0)["default_input_device"])
        return int(index)
    except (IndexError, TypeError, ValueError):
        return -1


def find_input_device(name: str | None = None, *, hostapi: str | None = None) -> InputDevice:
    """The input device called ``name`` now (the system's default input when ``name`` is None).

    An exact name wins; where several host APIs list the same name, ``hostapi`` (or else the
    default device's host API) decides. Failing an exact match, a unique case-insensitive match
    of the whole name or of a part of it is accepted (PortAudio may add a suffix such as
    ``", MME"`` or ``" (hw:1,0)"``).
    """
    devices = list_input_devices()
    if not devices:
        raise RecordingUnavailableError(_NO_INPUT)
    if name is None or not name.strip():
        for dev in devices:
            if dev.is_default:
                return dev
        return devices[0]
    folded = name.casefold()
    matches = ([d for d in devices if d.name == name]
               or [d for d in devices if d.name.casefold() == folded]
               or [d for d in devices if folded in d.name.casefold()])
    if len({d.name for d in matches}) == 1:  # one device, perhaps under several host APIs
        return _prefer_hostapi(matches, hostapi or _default_hostapi(devices))
    if not matches:
        names = ", ".join(sorted({f'"{d.name}"' for d in devices}))
        raise DeviceNotFoundError(
            f'The input device "{name}" is not connected. Connected input devices: {names}.')
    raise DeviceNotFoundError(
        f'"{name}" matches several input devices ({", ".join(d.label for d in matches)}); '
        f"choose one of them by its full name.")


def _default_hostapi(devices: Sequence[InputDevice]) -> str | None:
    return next((d.hostapi for d in devices if d.is_default), None)


def _prefer_hostapi(devices: list[InputDevice], hostapi: str | None) -> InputDevice:
    same = [d for d in devices if hostapi is not None and d.hostapi == hostapi]
    return same[0] if same else devices[0]


def recording_unavailable_reason() -> str | None:
    """None when recording can work (PortAudio loads and an input device exists), else why not.

    Cheap enough for a GUI to call at start-up and when the device menu opens.
    """
    try:
        find_input_device(None)
    except RecordingUnavailableError as exc:
        return str(exc)
    return None


def refresh_devices() -> None:
    """Make PortAudio list the devices again (after a stethoscope was plugged in or out).

    PortAudio takes its device list once, at initialisation; re-initialising is the only way to
    see a new device. Call it only while no recording or monitoring stream is open (the GUI
    disables the device menu while recording): re-initialising closes every open stream.
    """
    sd = sounddevice_module()
    # NB: _terminate/_initialize are sounddevice's own, documented in its issue tracker as the
    # way to rescan devices; there is no public alternative.
    sd._terminate()
    sd._initialize()


def supported_samplerates(device: InputDevice, *, channels: int = 1, dtype: str = "int16",
                          candidates: Sequence[int] = COMMON_SAMPLERATES) -> list[int]:
    """The rates in ``candidates`` (plus the device's default) that the device accepts."""
    sd = sounddevice_module()
    rates = sorted({*candidates, int(round(device.default_samplerate))})
    ok = []
    for rate in rates:
        try:
            sd.check_input_settings(device=device.index, samplerate=rate, channels=channels,
                                    dtype=dtype)
        except (sd.PortAudioError, ValueError):
            continue
        ok.append(rate)
    return ok


class PortAudioSource:
    """An input source on a real device, through sounddevice: what :class:`Recorder` opens.

    The device is looked up by name when the source is made, just before recording. A
    :class:`~app.recording.fake_source.FakeSource` has the same attributes and ``open`` method.
    """

    def __init__(self, device: str | None = None, *, hostapi: str | None = None) -> None:
        self.device = find_input_device(device, hostapi=hostapi)

    @property
    def name(self) -> str:
        """The device's name, as stored in settings and sidecars."""
        return self.device.name

    @property
    def default_samplerate(self) -> float:
        """The device's own rate (used when no rate is chosen)."""
        return self.device.default_samplerate

    @property
    def max_channels(self) -> int:
        """How many input channels the device offers."""
        return self.device.max_channels

    def open(self, *, samplerate: int, channels: int, dtype: str, blocksize: int,
             callback: Callable[..., None], finished_callback: Callable[[], None]) -> Any:
        """A stopped ``sounddevice.InputStream`` on this device (not started)."""
        sd = sounddevice_module()
        try:
            sd.check_input_settings(device=self.device.index, samplerate=samplerate,
                                    channels=channels, dtype=dtype)
        except (sd.PortAudioError, ValueError) as exc:
            raise DeviceSettingsError(
                f'The input device "{self.name}" does not accept {samplerate} Hz, '
                f"{channels} channel(s), {dtype} samples ({exc}). Choose another sample rate "
                f"(its own is {self.default_samplerate:g} Hz).") from None
        try:
            # latency="high": display needs no low latency, and larger host buffers make input
            # overflows (lost samples) rarer on a busy computer.
            return sd.InputStream(device=self.device.index, samplerate=samplerate,
                                  channels=channels, dtype=dtype, blocksize=blocksize,
                                  latency="high", callback=callback,
                                  finished_callback=finished_callback)
        except sd.PortAudioError as exc:
            raise DeviceSettingsError(
                f'The input device "{self.name}" could not be opened ({exc}). It may be in '
                f"use by another program or have been unplugged.") from None
