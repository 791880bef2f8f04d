# Copyright (c) mmbnn contributors. All rights reserved.
"""MMEngine-style ``begin``/``end``/``by_epoch`` windows for the hooks that
schedule non-optimizer values (SURGE's eta, StoMPP's frozen fractions)."""
from typing import Optional, Tuple


def iteration_window(begin: float, end: Optional[float], by_epoch: bool,
                     epoch_length: int, max_iters: int,
                     owner: str) -> Tuple[int, int]:
    """Convert a schedule window to iterations, as MMEngine's
    ``build_iter_from_epoch`` does.

    Args:
        begin (float): First step of the window (epochs if ``by_epoch``).
        end (float, optional): End of the window (exclusive). None means the
            end of training.
        by_epoch (bool): Whether ``begin``/``end`` count epochs.
        epoch_length (int): Iterations per epoch.
        max_iters (int): Iterations of the whole run.
        owner (str): Who asks, for error messages.

    Returns:
        tuple[int, int]: ``(begin_iter, end_iter)``.
    """
    scale = epoch_length if by_epoch else 1
    begin_iter = int(round(begin * scale))
    end_iter = max_iters if end is None else int(round(end * scale))
    if begin_iter < 0:
        raise ValueError(f'{owner}: begin must be >= 0, got begin={begin}')
    if end_iter <= begin_iter:
        raise ValueError(f'{owner}: end must be greater than begin, got '
                         f'begin={begin}, end={end} (by_epoch={by_epoch})')
    return begin_iter, end_iter
