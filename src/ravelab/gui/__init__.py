"""ravelab's desktop app (PySide6): the only package that imports Qt.

``python -m ravelab.gui`` opens it; ``ravelab.gui.app.main`` is the entry point. The
widgets render what ``ravelab.core`` and ``ravelab.db`` hold and call their methods; they
keep no business logic of their own. Core objects emit psygnal signals from their
threads; ``qt_bridge.RunBridge`` carries them to the GUI thread, coalesced.
"""
