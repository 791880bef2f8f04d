# Copyright (c) mmbnn contributors. All rights reserved.
"""Scalar logging shared by mmbnn's hooks."""
from typing import Dict


def log_due(hook, runner, interval: int) -> bool:
    """Whether ``hook`` logs after this iteration (every ``interval``
    iterations and after the last one)."""
    return (hook.every_n_train_iters(runner, interval)
            or hook.is_last_train_iter(runner))


def publish_scalars(runner, summary: Dict[str, float],
                    per_layer: Dict[str, float]) -> None:
    """Write ``summary`` (``train/...`` tags: printed in the log line and
    sent to the visualizer by LoggerHook) and ``per_layer`` tags (too many
    for the log line: message hub and visualizer backends only)."""
    hub = runner.message_hub
    for tag, value in {**summary, **per_layer}.items():
        hub.update_scalar(tag, value)
    if per_layer:
        runner.visualizer.add_scalars(per_layer, step=runner.iter + 1)
