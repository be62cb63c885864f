"""The program's commands and their shortcuts: one table binds them and documents them.

:data:`COMMANDS` lists every menu command with its text, its keys and a description;
:func:`create_actions` makes the ``QAction`` of each, with the keys bound, and the help dialog
(:mod:`app.help_dialog`) lists the same table, so what the help says is what the keys do.
:data:`GESTURES` documents the mouse conventions that the views implement (Audacity's and
EDFbrowser's): they are listed beside the keys in the help.

A command's ``scope`` says where its keys work: ``"window"`` anywhere in the main window,
``"view"`` only while the waveform/spectrogram view has the keyboard focus, so that the arrow
keys still move through the results table when it has the focus.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget


@dataclass(frozen=True)
class Command:
    """One command: ``id`` names its handler, ``keys`` are QKeySequence strings."""

    id: str
    group: str
    text: str  # menu text, with its & mnemonic
    description: str
    keys: tuple[str, ...] = ()
    scope: str = "window"  # "window" or "view"
    checkable: bool = False  # an on/off command (its handler reads the action's state)

    @property
    def label(self) -> str:
        """The menu text without mnemonics and ellipsis, for the help."""
        return self.text.replace("&", "").rstrip(".…")

    @property
    def keys_text(self) -> str:
        """The keys as the user's platform writes them, e.g. "Ctrl+O"."""
        return ", ".join(QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText)
                         for k in self.keys)


@dataclass(frozen=True)
class Gesture:
    """A mouse convention implemented by the views (documented here, bound in the view)."""

    group: str
    gesture: str
    description: str


COMMANDS: tuple[Command, ...] = (
    Command("open", "File", "&Open recordings…", "Open one or more recordings", ("Ctrl+O",)),
    Command("open_folder", "File", "Open &folder…",
            "Classify every recording in a folder (and its subfolders)", ("Ctrl+Shift+O",)),
    Command("record", "File", "&Record from the stethoscope",
            "Record from the stethoscope; again to stop, save and classify", ("Ctrl+R",)),
    Command("export_report", "File", "Export PDF &report…",
            "Save a one-page PDF report of the current recording", ("Ctrl+P",)),
    Command("export_csv", "File", "Export results table as &CSV…",
            "Save the table of classified recordings as a CSV file", ("Ctrl+Shift+E",)),
    Command("quit", "File", "&Quit", "Close AudioFuse", ("Ctrl+Q",)),
    Command("zoom_in", "View", "Zoom &in", "Zoom in on the time axis", ("Ctrl+=", "Ctrl++")),
    Command("zoom_out", "View", "Zoom &out", "Zoom out on the time axis", ("Ctrl+-",)),
    Command("fit", "View", "&Fit the recording", "Show the whole recording", ("Ctrl+0",)),
    Command("step_back", "View", "Step back", "Move a tenth of the view earlier", ("Left",),
            "view"),
    Command("step_forward", "View", "Step forward", "Move a tenth of the view later", ("Right",),
            "view"),
    Command("page_back", "View", "Page back", "Move one screen earlier", ("PgUp",), "view"),
    Command("page_forward", "View", "Page forward", "Move one screen later", ("PgDown",), "view"),
    Command("to_start", "View", "Go to start", "Jump to the start of the recording", ("Home",),
            "view"),
    Command("to_end", "View", "Go to end", "Jump to the end of the recording", ("End",), "view"),
    Command("show_cycles", "View", "Heart-cycle &markers",
            "Show or hide the S1 and S2 markers above the waveform", ("Ctrl+Shift+M",),
            checkable=True),
    Command("play_pause", "Playback", "&Play / pause",
            "Play from the cursor or the selection; pause", ("Space",)),
    Command("clear_selection", "Playback", "Clear selection",
            "Forget the selected time range", ("Esc",), "view"),
    Command("explain", "Analysis", "Show what &drove the result",
            "Colour the spectrogram where the sound pushed the result towards abnormal or "
            "normal (takes some seconds; again to hide)", ("Ctrl+E",), checkable=True),
    Command("cancel", "Analysis", "&Cancel classification",
            "Stop classifying the recordings still waiting"),
    Command("choose_model", "Analysis", "Use another &model file…",
            "Classify with another AudioFuse model file"),
    Command("model_card", "Analysis", "About the &model…",
            "What the model is for, how it was trained and validated"),
    Command("advanced", "Tools", "&Advanced: train, evaluate and manage models…",
            "Retrain the model on your own labelled recordings, evaluate it, choose the active "
            "model", ("Ctrl+Shift+A",)),
    Command("example_normal", "Help", "Open example: &normal heart",
            "Open the bundled recording of a normal heart (PhysioNet 2016)"),
    Command("example_abnormal", "Help", "Open example: &abnormal heart",
            "Open the bundled recording of an abnormal heart (PhysioNet 2016)"),
    Command("shortcuts", "Help", "&Keyboard and mouse shortcuts", "This list", ("F1",)),
    Command("about", "Help", "&About AudioFuse", "Version and licences"),
)

GESTURES: tuple[Gesture, ...] = (
    Gesture("View", "Ctrl+Wheel", "Zoom in or out around the mouse pointer"),
    Gesture("View", "Wheel", "Scroll in time (a tenth of the view per notch)"),
    Gesture("View", "Shift+Wheel", "Scroll in time, faster (half the view per notch)"),
    Gesture("View", "Double-click", "Fit the whole recording"),
    Gesture("View", "Hover", "Crosshair: read time, amplitude, frequency and level"),
    Gesture("Playback", "Click", "Place the cursor (playback starts there)"),
    Gesture("Playback", "Drag", "Select a time range (playback plays it)"),
    Gesture("File", "Drop files or folders", "Open them (several files: classify them all)"),
)

SCOPES = {"window": Qt.ShortcutContext.WindowShortcut,
          "view": Qt.ShortcutContext.WidgetWithChildrenShortcut}


def command(command_id: str) -> Command:
    """The command called ``command_id``."""
    for item in COMMANDS:
        if item.id == command_id:
            return item
    raise KeyError(command_id)


def create_actions(window: QWidget, view: QWidget,
                   handlers: Mapping[str, Callable[[], object]]) -> dict[str, QAction]:
    """One ``QAction`` per command, keys bound, added to ``window`` (or ``view`` for
    view-scoped commands) so that its keys work there, triggering ``handlers[command.id]``.
    """
    actions: dict[str, QAction] = {}
    for item in COMMANDS:
        owner = view if item.scope == "view" else window
        action = QAction(item.text, owner)
        action.setObjectName(f"action_{item.id}")
        action.setCheckable(item.checkable)
        if item.keys:
            action.setShortcuts([QKeySequence(k) for k in item.keys])
            action.setShortcutContext(SCOPES[item.scope])
            action.setToolTip(f"{item.description} ({item.keys_text})")
        else:
            action.setToolTip(item.description)
        action.setStatusTip(item.description)
        action.triggered.connect(handlers[item.id])
        owner.addAction(action)
        actions[item.id] = action
    return actions


def help_rows() -> list[tuple[str, str, str]]:
    """(group, keys or gesture, what it does) for every shortcut and gesture, grouped."""
    rows = [(c.group, c.keys_text, c.description) for c in COMMANDS if c.keys]
    rows += [(g.group, g.gesture, g.description) for g in GESTURES]
    order = {group: i for i, group in enumerate(dict.fromkeys(c.group for c in COMMANDS))}
    return sorted(rows, key=lambda row: order.get(row[0], len(order)))
