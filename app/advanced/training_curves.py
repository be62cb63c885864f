"""Live curves of a training: training and validation loss, validation ROC-AUC, best epoch.

Fed on the GUI thread with the per-epoch history the training child sends; redraws only when the
history grew (a few times per run), so drawing never competes with the event loop.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QWidget

from .. import colours


class TrainingCurves(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_plot = pg.PlotWidget(background="w", title="Loss")
        self.loss_plot.setLabel("bottom", "epoch")
        self.loss_plot.setLabel("left", "binary cross-entropy")
        self.loss_plot.addLegend(offset=(-10, 10))
        self.loss_plot.showGrid(x=True, y=True, alpha=0.2)
        self.auc_plot = pg.PlotWidget(background="w", title="Validation ROC-AUC")
        self.auc_plot.setLabel("bottom", "epoch")
        self.auc_plot.setLabel("left", "ROC-AUC")
        self.auc_plot.setYRange(0.0, 1.0, padding=0.02)
        self.auc_plot.addLegend(offset=(-10, -10))
        self.auc_plot.showGrid(x=True, y=True, alpha=0.2)
        symbol = {"symbol": "o", "symbolSize": 6}
        self.train_loss = self.loss_plot.plot([], [], pen=pg.mkPen("#2563eb", width=2),
                                              name="training", symbolBrush="#2563eb", **symbol)
        self.val_loss = self.loss_plot.plot([], [], pen=pg.mkPen(colours.PLAYHEAD, width=2),
                                            name="validation", symbolBrush=colours.PLAYHEAD,
                                            **symbol)
        self.val_auc = self.auc_plot.plot([], [], pen=pg.mkPen(colours.NORMAL, width=2),
                                          name="validation", symbolBrush=colours.NORMAL, **symbol)
        self.subset_auc = self.auc_plot.plot([], [], pen=pg.mkPen(colours.NORMAL, width=1,
                                                                  style=Qt.PenStyle.DashLine),
                                             name="within-subset mean")
        self.best_lines = []
        for plot in (self.loss_plot, self.auc_plot):
            line = pg.InfiniteLine(angle=90, movable=False,
                                   pen=pg.mkPen(colours.CURSOR, width=1,
                                                style=Qt.PenStyle.DotLine),
                                   label="best", labelOpts={"position": 0.9,
                                                            "color": colours.CURSOR})
            line.hide()
            plot.addItem(line)
            self.best_lines.append(line)
        for plot in (self.loss_plot, self.auc_plot):
            plot.getAxis("left").enableAutoSIPrefix(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.loss_plot)
        layout.addWidget(self.auc_plot)
        self.epochs_drawn = -1
        self.best_drawn: int | None = None

    def clear(self) -> None:
        for curve in (self.train_loss, self.val_loss, self.val_auc, self.subset_auc):
            curve.setData([], [])
        for line in self.best_lines:
            line.hide()
        self.epochs_drawn, self.best_drawn = -1, None

    def set_history(self, history: list[dict], best_epoch: int | None) -> bool:
        """Draw ``history``; return whether anything was redrawn."""
        if len(history) == self.epochs_drawn and best_epoch == self.best_drawn:
            return False
        self.epochs_drawn, self.best_drawn = len(history), best_epoch

        def series(key: str):
            xs, ys = [], []
            for row in history:
                value = row.get(key)
                if value is not None:
                    xs.append(row["epoch"])
                    ys.append(value)
            return xs, ys

        self.train_loss.setData(*series("loss"))
        self.val_loss.setData(*series("val_loss"))
        self.val_auc.setData(*series("val_auc"))
        self.subset_auc.setData(*series("val_subset_auc"))
        # whole epochs on the x axis while they fit, pyqtgraph's own ticks beyond
        spacing = [(1.0, 0.0)] if len(history) <= 20 else None
        for plot in (self.loss_plot, self.auc_plot):
            plot.getAxis("bottom").setTickSpacing(levels=spacing)
        for line in self.best_lines:
            if best_epoch:
                line.setValue(best_epoch)
                line.show()
            else:
                line.hide()
        return True
