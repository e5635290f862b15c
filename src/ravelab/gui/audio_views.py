"""A clip's waveform and spectrogram, painted with QPainter, with a playhead.

The numbers come from ``ravelab.core.listening.views`` (peaks per pixel column, a
log-frequency spectrogram as 8-bit levels); here they only become pixels: a filled outline
for the waveform, an indexed image (one colour table lookup per pixel, in C++) scaled once
per size for the spectrogram. Moving the playhead repaints a cached picture and one line.
A click or a drag on either view asks to seek there (``seek_requested``: a fraction of the
view's width, which ``SignalView`` turns into a sample of its signal).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QPolygonF,
    QResizeEvent,
)
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from ravelab.core.listening import views
from ravelab.gui.style import HINT_COLOUR, SCHEME

#: Waveform colours: the current source stands out, the other is muted.
WAVE_ACTIVE = QColor(SCHEME.wave_active)
WAVE_IDLE = QColor(SCHEME.wave_idle)
PLAYHEAD = QColor(SCHEME.playhead)
BACKGROUND = QColor(SCHEME.wave_background)
GRID = QColor(SCHEME.wave_grid)
_COLOURS = views.colour_table()
_FREQUENCY_TICKS = (100.0, 1000.0, 10_000.0)


class _SeekArea(QWidget):
    """A view that reports clicks and drags as a fraction of its width.

    What it shows is drawn by ``_draw`` into a cached picture (redrawn after a resize or
    once ``_picture`` is set back to None); a paint copies that picture and adds the
    playhead.
    """

    seek_requested = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.playhead: float | None = None
        self._picture: QPixmap | None = None
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_playhead(self, fraction: float | None) -> None:
        if fraction != self.playhead:
            self.playhead = fraction
            self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._seek(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._seek(event)

    def _seek(self, event: QMouseEvent) -> None:
        width = max(self.width(), 1)
        self.seek_requested.emit(min(max(event.position().x() / width, 0.0), 1.0))

    def _draw(self) -> QPixmap:
        """The view at its current size, without the playhead (each view draws its own)."""
        raise NotImplementedError

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._picture = None
        super().resizeEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._picture is None or self._picture.size() != self.size():
            self._picture = self._draw()
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._picture)
        self._paint_playhead(painter)
        painter.end()

    def _paint_playhead(self, painter: QPainter) -> None:
        if self.playhead is None:
            return
        x = round(self.playhead * (self.width() - 1))
        painter.setPen(QPen(PLAYHEAD, 2))
        painter.drawLine(x, 0, x, self.height())


class WaveformView(_SeekArea):
    """Min/max per pixel column of one signal, on a fixed -1..1 scale."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._samples: npt.NDArray[np.float32] = np.zeros(0, dtype=np.float32)
        self.active = True
        self.setMinimumHeight(36)

    def sizeHint(self) -> QSize:
        return QSize(400, 56)

    @property
    def frames(self) -> int:
        """Samples in the signal shown."""
        return int(self._samples.size)

    def set_samples(self, samples: npt.NDArray[np.float32] | None) -> None:
        self._samples = np.zeros(0, dtype=np.float32) if samples is None else views.mono(samples)
        self._picture = None
        self.update()

    def set_active(self, active: bool) -> None:
        if active != self.active:
            self.active = active
            self._picture = None
            self.update()

    def _draw(self) -> QPixmap:
        width, height = max(self.width(), 1), max(self.height(), 1)
        picture = QPixmap(width, height)
        picture.fill(BACKGROUND)
        painter = QPainter(picture)
        middle = height / 2
        painter.setPen(QPen(GRID, 1))
        painter.drawLine(0, round(middle), width, round(middle))
        if self._samples.size:
            low, high = views.peaks(self._samples, width)
            scale = (height / 2) - 1
            xs = np.arange(width, dtype=np.float64) + 0.5
            # Top edge left to right, bottom edge back: one polygon, filled in C++.
            top = middle - np.clip(high, -1, 1) * scale
            bottom = middle - np.clip(low, -1, 1) * scale
            bottom = np.maximum(bottom, top + 1)  # silence still draws a hairline
            points = [QPointF(x, y) for x, y in zip(xs, top, strict=True)]
            points += [QPointF(x, y) for x, y in zip(xs[::-1], bottom[::-1], strict=True)]
            colour = WAVE_ACTIVE if self.active else WAVE_IDLE
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawPolygon(QPolygonF(points))
        painter.end()
        return picture


class SpectrogramView(_SeekArea):
    """A log-frequency spectrogram (dB on a fixed scale), with frequency marks."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._spectrogram: views.Spectrogram | None = None
        self.setMinimumHeight(48)

    def sizeHint(self) -> QSize:
        return QSize(400, 110)

    @property
    def spectrogram(self) -> views.Spectrogram | None:
        return self._spectrogram

    def set_spectrogram(self, spectrogram: views.Spectrogram | None) -> None:
        self._spectrogram = spectrogram
        self._image = None
        if spectrogram is not None:
            levels = np.ascontiguousarray(spectrogram.levels)
            rows, columns = levels.shape
            image = QImage(levels.data, columns, rows, columns, QImage.Format.Format_Indexed8)
            image.setColorTable(_COLOURS)
            self._image = image.copy()  # owns its pixels (the array may go away)
        self._picture = None
        self.update()

    def _draw(self) -> QPixmap:
        width, height = max(self.width(), 1), max(self.height(), 1)
        picture = QPixmap(width, height)
        picture.fill(QColor(_COLOURS[0]))
        spectrogram = self._spectrogram
        if self._image is None or spectrogram is None:
            return picture
        painter = QPainter(picture)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(QRectF(0, 0, width, height), self._image)
        # Frequency marks on the left edge, on the same log scale as the rows.
        top, bottom = np.log(spectrogram.top_hz), np.log(spectrogram.bottom_hz)
        font = painter.font()
        font.setPointSizeF(max(font.pointSizeF() - 1.5, 6.5))
        painter.setFont(font)
        for hz in _FREQUENCY_TICKS:
            if not spectrogram.bottom_hz < hz < spectrogram.top_hz:
                continue
            y = (np.log(hz) - top) / (bottom - top) * height
            painter.setPen(QPen(QColor(255, 255, 255, 90), 1, Qt.PenStyle.DotLine))
            painter.drawLine(0, round(y), width, round(y))
            label = f"{hz / 1000:g} kHz" if hz >= 1000 else f"{hz:g} Hz"
            painter.setPen(QColor(255, 255, 255, 220))
            painter.drawText(QPointF(4, y - 3), label)
        painter.end()
        return picture


class SignalView(QWidget):
    """One signal: a title, its waveform above its spectrogram, one playhead for both.

    Signals:
        seek_requested(int): a click or drag at this sample of the signal.
    """

    seek_requested = Signal(int)

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel(title)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.waveform = WaveformView()
        self.spectrogram = SpectrogramView()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.waveform, 2)
        layout.addWidget(self.spectrogram, 3)
        self.waveform.seek_requested.connect(self._seek)
        self.spectrogram.seek_requested.connect(self._seek)
        self._title_text = title
        self._playing = False
        self.set_active(False)

    def _seek(self, fraction: float) -> None:
        self.seek_requested.emit(round(fraction * self.waveform.frames))

    def set_signal(
        self, samples: npt.NDArray[np.float32] | None, spectrogram: views.Spectrogram | None
    ) -> None:
        self.waveform.set_samples(samples)
        self.spectrogram.set_spectrogram(spectrogram)

    def set_title(self, text: str) -> None:
        self._title_text = text
        self.set_active(self.waveform.active, self._playing)

    def set_active(self, active: bool, playing: bool = False) -> None:
        """Mark this signal as the one heard (bold, in the accent colour; ▶ while playing)."""
        self.waveform.set_active(active)
        self._playing = active and playing
        colour = WAVE_ACTIVE.name() if active else HINT_COLOUR
        weight = 600 if active else 400
        marker = "▶ " if self._playing else ""
        self.title.setText(
            f"<span style='color:{colour}; font-weight:{weight}'>{marker}{self._title_text}</span>"
        )

    def set_playhead(self, fraction: float | None) -> None:
        self.waveform.set_playhead(fraction)
        self.spectrogram.set_playhead(fraction)
