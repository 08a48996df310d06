"""nnU-Net v2 trainer with a bounded budget (epochs, iterations, wall clock) for CPU demos.

nnU-Net resolves trainer classes by *name*, scanning its own package
(``recursive_find_trainer_class_by_name`` in ``nnUNetPredictor.initialize_from_trained_model_folder``),
so a checkpoint naming this class could not be loaded by a stock nnU-Net. The network is fully
described by the plans (``architecture`` in ``plans.json``) and built by the base class's
``build_network_architecture``, so the export step (``node.segment.training.export_model``)
records the base name ``EXPORT_TRAINER_NAME``: any nnU-Net v2 installation runs the model.
"""

from __future__ import annotations

import time

import torch
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

EXPORT_TRAINER_NAME = "nnUNetTrainer"


class BudgetTrainer(nnUNetTrainer):
    """``nnUNetTrainer`` with settable epochs/iterations and a wall-clock stop."""

    deadline: float | None = None  # time.monotonic() value after which no new epoch starts
    fit_to_deadline: bool = False  # re-plan the epoch count (and the poly LR) after each epoch
    _epoch_seconds: tuple[float, ...] = ()  # the last three epoch times (``_epoch_done``)

    def set_budget(
        self, epochs: int, iterations: int, val_iterations: int, max_seconds: float | None,
        initial_lr: float = 1e-2, fit_to_deadline: bool = False,
    ) -> None:
        """Set the budget before ``initialize``/``run_training`` (the optimizer and the poly LR
        schedule are built from ``initial_lr`` and ``epochs``)."""
        if epochs < 1 or iterations < 1 or val_iterations < 1 or initial_lr <= 0:
            raise ValueError("epochs, iterations, val_iterations and initial_lr must be positive")
        self.initial_lr = initial_lr
        self.num_epochs = epochs
        self.num_iterations_per_epoch = iterations
        self.num_val_iterations_per_epoch = val_iterations
        self.save_every = max(1, min(50, epochs // 4 or 1))
        self.deadline = None if max_seconds is None else time.monotonic() + max_seconds
        self.fit_to_deadline = fit_to_deadline and max_seconds is not None

    def _refit_epochs(self, epoch_seconds: float) -> None:
        """Plan as many epochs as fit before the deadline and stretch the poly LR over them.

        A wall-clock stop alone cuts the poly schedule off while the learning rate is still high
        (the CPU demo model stopped at 28 % of its start LR); on an unknown machine the epoch time
        is only known after one epoch, so the schedule is set then.
        """
        assert self.deadline is not None
        left = self.deadline - time.monotonic()
        fit = self.current_epoch + max(1, int(left // max(epoch_seconds, 1e-3)))
        planned = max(self.current_epoch + 1, fit)
        if planned != self.num_epochs:
            self.print_to_log_file(f"epoch took {epoch_seconds:.1f} s: planning {planned} epochs "
                                   "to end before the deadline")
        self.num_epochs = planned
        self.lr_scheduler.max_steps = self.num_epochs

    def _epoch_done(self, seconds: float) -> None:
        """Re-plan after every epoch from the median of the last three epoch times.

        Planning once, early, trusted the first epochs: on a shared CPU they ran at 120 s while
        other work competed and later at 45 s, so a 70-minute run planned 34 epochs and ended
        30 minutes early with its LR already at zero. The median keeps one slow epoch (a
        checkpoint save, a burst of other work) from cutting the plan."""
        self._epoch_seconds = (*self._epoch_seconds, seconds)[-3:]
        if self.fit_to_deadline and self.current_epoch >= 1:
            self._refit_epochs(sorted(self._epoch_seconds)[len(self._epoch_seconds) // 2])

    def _do_i_compile(self) -> bool:
        # torch.compile on CPU is slow to warm up and unsupported for some ops: never for a demo
        return False

    def plot_network_architecture(self) -> None:
        # needs hiddenlayer/graphviz and a GPU-sized dummy forward pass: nothing to gain here
        return None

    def run_training(self) -> None:
        """nnU-Net's epoch loop, stopping early (with a final checkpoint) past ``deadline``."""
        self.on_train_start()
        while self.current_epoch < self.num_epochs:
            t_epoch = time.monotonic()
            self.on_epoch_start()
            self.on_train_epoch_start()
            outputs = [self.train_step(next(self.dataloader_train))
                       for _ in range(self.num_iterations_per_epoch)]
            self.on_train_epoch_end(outputs)
            with torch.no_grad():
                self.on_validation_epoch_start()
                val = [self.validation_step(next(self.dataloader_val))
                       for _ in range(self.num_val_iterations_per_epoch)]
                self.on_validation_epoch_end(val)
            self.on_epoch_end()
            self._epoch_done(time.monotonic() - t_epoch)
            if self.deadline is not None and time.monotonic() > self.deadline:
                self.print_to_log_file(f"wall-clock budget reached after epoch {self.current_epoch}")
                break
        self.on_train_end()
