"""ravelab's desktop app (PySide6): the only package that imports Qt.

``python -m ravelab.gui`` opens it; ``ravelab.gui.app.main`` is the entry point. The
widgets render what ``ravelab.core`` reads and call its functions and methods for every
change (of ``ravelab.db`` they use only ``Database``, the records and the errors, as
import-linter checks); they keep no business logic of their own. Core objects emit
psygnal signals from their threads; ``qt_bridge.RunBridge`` carries them to the GUI
thread, coalesced.
"""
