# Copyright (c) mmbnn contributors. All rights reserved.
"""Distributed runs without CUDA (``--launcher pytorch`` on CPU, gloo).

MMEngine 0.10.7 assumes a GPU per process when it starts a distributed run:
``init_dist`` calls ``torch.cuda.set_device(LOCAL_RANK)`` (an error on a
CPU-only torch build), the runtime configs ask for the ``nccl`` backend, and
``Runner.wrap_model`` gives DDP ``device_ids=[LOCAL_RANK]``, which DDP
rejects for a CPU module. :func:`setup_cpu_distributed` adjusts the config
and opens the gloo process group itself, so the Runner finds it initialized
and skips ``init_dist``. On a machine with CUDA it does nothing.
"""
import datetime
import logging

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import MODEL_WRAPPERS
from torch.nn.parallel import DistributedDataParallel

CPU_BACKENDS = ('gloo', 'mpi')


def setup_cpu_distributed(cfg: Config) -> None:
    """Prepare ``cfg`` and the process group for a distributed CPU run.

    Does nothing when ``cfg.launcher`` is ``'none'`` or CUDA is available.
    Otherwise: ``nccl`` (the runtime default) becomes ``gloo``, a DDP
    model wrapper gets ``device_ids=None`` and the default process group is
    initialized from torchrun's environment (``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``, ``MASTER_PORT``).

    Args:
        cfg (Config): The run's config, ``launcher`` already set; modified
            in place.

    Raises:
        ValueError: ``launcher`` is not ``'pytorch'`` (slurm and mpi
            set the device first and need CUDA) or
            ``env_cfg.dist_cfg.backend`` cannot run on CPU.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise ValueError(
            f'--launcher {launcher} needs CUDA; without a GPU only '
            "--launcher pytorch (torchrun, tools/dist_train.sh, "
            'tools/dist_test.sh) is supported')
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}))
    backend = dist_cfg.get('backend', 'nccl')
    if backend == 'nccl':
        print_log('CUDA is not available: distributed backend nccl -> gloo',
                  logger='current', level=logging.WARNING)
        backend = dist_cfg['backend'] = 'gloo'
    elif backend not in CPU_BACKENDS:
        raise ValueError(
            f'env_cfg.dist_cfg.backend={backend!r} cannot run on CPU; '
            f'allowed values without CUDA: {", ".join(CPU_BACKENDS)}')

    env_cfg = dict(cfg.get('env_cfg', {}))
    env_cfg['dist_cfg'] = dist_cfg
    cfg.env_cfg = env_cfg

    wrapper = cfg.get('model_wrapper_cfg', None)
    if wrapper is None:
        # what Runner.wrap_model builds by default, minus the GPU index
        wrapper = dict(
            type='MMDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper = dict(wrapper)
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper_cls = MODEL_WRAPPERS.get(wrapper['type'])
    if wrapper_cls is not None and issubclass(wrapper_cls,
                                              DistributedDataParallel):
        wrapper.setdefault('device_ids', None)
    cfg.model_wrapper_cfg = wrapper

    if not torch_dist.is_initialized():
        kwargs = {
            k: v
            for k, v in dist_cfg.items() if k not in ('backend', 'timeout')
        }
        if dist_cfg.get('timeout') is not None:
            kwargs['timeout'] = datetime.timedelta(
                seconds=dist_cfg['timeout'])
        torch_dist.init_process_group(backend=backend, **kwargs)
