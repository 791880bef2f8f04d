# Copyright (c) mmbnn contributors. All rights reserved.
"""The Runner behind ``tools/train.py`` and ``tools/test.py``, as a keyword
API.

The tools parse mmdet 3.3's flags and hand them to :func:`build_runner`;
Python code (the demo, the method comparison, the tests) calls it directly::

    runner = build_runner('configs/demo/faster_rcnn_r18_ste_demo.py',
                          'train', work_dir='work_dirs/demo', amp=False)
    runner.train()
    build_runner(config, 'test', checkpoint='work_dirs/demo/epoch_10.pth',
                 out='results.pkl').test()
"""
import copy
import os.path as osp
from typing import Mapping, Optional

from mmengine.config import Config, ConfigDict
from mmengine.runner import Runner

from ..engine import setup_cpu_distributed
from ..utils import check_choice, trust_mmengine_checkpoints

MODES = ('train', 'test')
LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def _flip_tta(cfg: Config) -> None:
    """Wrap ``cfg.model`` in its test-time augmentation (``--tta``):
    ``cfg.tta_model`` and ``cfg.tta_pipeline`` when the config has them;
    otherwise mmdet's ``DetTTAModel`` (NMS at IoU 0.5, 100 boxes) over the
    test pipeline with and without a horizontal flip."""
    dataset = cfg.test_dataloader.dataset
    while 'dataset' in dataset:  # dataset wrappers
        dataset = dataset.dataset
    if 'tta_model' not in cfg:
        cfg.tta_model = dict(
            type='DetTTAModel',
            tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5),
                         max_per_img=100))
    if 'tta_pipeline' not in cfg:
        pipeline = copy.deepcopy(dataset.pipeline)
        pack = dict(pipeline[-1])
        if 'meta_keys' in pack:
            pack['meta_keys'] = tuple(pack['meta_keys']) + tuple(
                key for key in ('flip', 'flip_direction')
                if key not in pack['meta_keys'])
        flips = [dict(type='RandomFlip', prob=p) for p in (1.0, 0.0)]
        pipeline[-1] = dict(type='TestTimeAug', transforms=[flips, [pack]])
        cfg.tta_pipeline = pipeline
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    dataset.pipeline = cfg.tta_pipeline


def _visualize(cfg: Config, show: bool, wait_time: float,
               show_dir: Optional[str]) -> None:
    """Turn on ``default_hooks.visualization`` (``--show``/``--show-dir``)."""
    vis = cfg.default_hooks.get('visualization')
    if vis is None:
        raise RuntimeError('--show-dir/--show need default_hooks.'
                           'visualization (DetVisualizationHook)')
    vis.draw = True
    if show:
        vis.show, vis.wait_time = True, wait_time
    if show_dir:
        vis.test_out_dir = show_dir


def _own_visualizer(cfg: Config) -> None:
    """Rename the config's visualizer when a visualizer of that name exists
    in this process.

    Runners build their visualizer with ``get_instance(name)``, which
    returns an existing instance of that name as it is: with mmdet's
    runtime (``name='visualizer'``) every runner after the first of a
    process (a test after its training, a tool that runs several) would
    log its scalars to the first runner's directory.
    """
    from mmengine.visualization import Visualizer
    vis = cfg.get('visualizer', None)
    if not isinstance(vis, dict) or 'name' not in vis:
        return  # mmengine names it after the runner's experiment
    # every Visualizer subclass keeps its own instances
    taken, classes = set(), [Visualizer]
    while classes:
        cls = classes.pop()
        taken.update(cls._instance_dict)
        classes += cls.__subclasses__()
    name, index = vis['name'], 1
    while name in taken:
        name, index = f'{vis["name"]}_{index}', index + 1
    vis['name'] = name


def _check_unused(mode: str, **given) -> None:
    """Refuse keywords of the other mode that were given a value."""
    unused = [key for key, value in given.items() if value]
    if unused:
        raise ValueError(f'{", ".join(unused)}: not used when mode={mode!r}')


def build_runner(config: str,
                 mode: str,
                 *,
                 checkpoint: Optional[str] = None,
                 work_dir: Optional[str] = None,
                 cfg_options: Optional[Mapping] = None,
                 launcher: str = 'none',
                 resume: Optional[str] = None,
                 amp: bool = False,
                 auto_scale_lr: bool = False,
                 out: Optional[str] = None,
                 show: bool = False,
                 show_dir: Optional[str] = None,
                 wait_time: float = 2.0,
                 tta: bool = False,
                 deploy_backend: str = 'auto',
                 openvino_shape: Optional[str] = None,
                 int8: bool = False,
                 calib_images: Optional[int] = None,
                 int8_scope: Optional[str] = None,
                 openvino_model: Optional[str] = None,
                 openvino_threads: Optional[int] = None,
                 roi_head_openvino: bool = False) -> Runner:
    """Build the Runner that trains or tests ``config``, as mmdet's
    ``tools/train.py`` and ``tools/test.py`` do.

    Every keyword is the tool flag of the same name (``--work-dir``,
    ``--cfg-options``, ...).

    Args:
        config (str): Config file path.
        mode (str): ``'train'`` or ``'test'``.
        checkpoint (str, optional): Test: the checkpoint to evaluate, a
            training checkpoint or a deploy checkpoint of
            ``tools/deploy/export.py`` (required).
        work_dir (str, optional): Logs and checkpoints go here. Defaults to
            the config's ``work_dir``, else ``./work_dirs/<config name>``.
        cfg_options (Mapping, optional): ``{dotted key: value}`` merged
            into the config.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or
            ``'mpi'``. Defaults to ``'none'``.
        resume (str, optional): Train: ``'auto'`` resumes from the latest
            checkpoint in the work dir, a path from that checkpoint.
        amp (bool): Train: automatic mixed precision (the optimizer
            wrapper's AMP form).
        auto_scale_lr (bool): Train: scale the learning rate with the
            total batch size (``auto_scale_lr.base_batch_size``).
        out (str, optional): Test: also dump the raw predictions to this
            ``.pkl``/``.pickle`` file.
        show (bool): Test: display the drawn predictions.
        show_dir (str, optional): Test: save the drawn predictions under
            ``<work_dir>/<timestamp>/<show_dir>``.
        wait_time (float): Test: seconds each shown image stays (with
            ``show``). Defaults to 2.
        tta (bool): Test: test-time augmentation (``tta_model`` and
            ``tta_pipeline`` of the config, else a horizontal flip).
        deploy_backend (str): Test: what evaluates the checkpoint, see
            :mod:`mmbnn.deploy.backends`. Defaults to ``'auto'``.
        openvino_shape (str, optional): Test, with
            ``deploy_backend='openvino'``: ``'per-input'`` or ``'fixed'``.
        int8 (bool): Test, with ``deploy_backend='openvino'``: the network
            quantized to INT8 (``tools/deploy/export_onnx.py --int8``)
            before it is evaluated.
        calib_images (int, optional): Test, with ``int8``: calibration
            images from the config's test (or val) dataset.
        int8_scope (str, optional): Test, with ``int8``: which real convs /
            FCs are quantized, ``'after_binary'`` (the default) or
            ``'all'`` (:func:`~mmbnn.deploy.int8.quantize_int8`).
        openvino_model (str, optional): Test, with
            ``deploy_backend='openvino'``: a prebuilt OpenVINO IR
            (``.xml``, float or INT8) of the config's network to evaluate.
        openvino_threads (int, optional): Test, with
            ``deploy_backend='openvino'``: OpenVINO's inference threads.
        roi_head_openvino (bool): Test, with ``deploy_backend='openvino'``:
            the RoI box head on OpenVINO too (INT8 when the network is).

    Returns:
        Runner: The runner; call ``.train()`` or ``.test()`` on it.

    Raises:
        ValueError: An unknown ``mode``/``launcher``, a keyword of the other
            mode, a test without ``checkpoint``, a bad ``out`` suffix, or
            an ``amp`` the optimizer wrapper has no form for.
    """
    check_choice('mode', mode, MODES)
    check_choice('launcher', launcher, LAUNCHERS)
    if mode == 'train':
        _check_unused(mode, checkpoint=checkpoint, out=out, show=show,
                      show_dir=show_dir, tta=tta,
                      deploy_backend=deploy_backend != 'auto',
                      openvino_shape=openvino_shape, int8=int8,
                      calib_images=calib_images, int8_scope=int8_scope,
                      openvino_model=openvino_model,
                      openvino_threads=openvino_threads,
                      roi_head_openvino=roi_head_openvino)
    else:
        _check_unused(mode, resume=resume, amp=amp,
                      auto_scale_lr=auto_scale_lr)
        if checkpoint is None:
            raise ValueError("checkpoint is required when mode='test'")
        if out is not None and not out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must end with .pkl or .pickle, got '
                             f'{out!r}')
    import mmbnn  # noqa: F401  (registers modules if custom_imports is absent)
    trust_mmengine_checkpoints()
    cfg = Config.fromfile(config)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(dict(cfg_options))
    swap = None
    if mode == 'test':
        from ..deploy.backends import prepare_test_backend
        swap = prepare_test_backend(cfg, checkpoint, deploy_backend,
                                    openvino_shape, int8=int8,
                                    calib_images=calib_images,
                                    int8_scope=int8_scope,
                                    openvino_model=openvino_model,
                                    openvino_threads=openvino_threads,
                                    roi_head_openvino=roi_head_openvino)
        if tta and swap is not None:
            raise ValueError(f'--tta needs the config\'s model; got '
                             f'--deploy-backend {deploy_backend} on '
                             f'{checkpoint!r}')
    setup_cpu_distributed(cfg)  # gloo when CUDA is absent
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])

    if mode == 'train':
        if amp:
            from ..engine import AMP_WRAPPERS
            kind = cfg.optim_wrapper.get('type', 'OptimWrapper')
            if kind not in AMP_WRAPPERS and kind not in \
                    AMP_WRAPPERS.values():
                raise ValueError(
                    f'--amp: optim_wrapper.type={kind!r} has no mixed-'
                    f'precision form; allowed values: '
                    f'{", ".join(sorted(AMP_WRAPPERS))}')
            cfg.optim_wrapper.type = AMP_WRAPPERS.get(kind, kind)
            cfg.optim_wrapper.loss_scale = 'dynamic'
        if auto_scale_lr:
            if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
                raise RuntimeError('--auto-scale-lr needs '
                                   'auto_scale_lr.base_batch_size in the '
                                   'config')
            cfg.auto_scale_lr.enable = True
        if resume == 'auto':
            cfg.resume, cfg.load_from = True, None
        elif resume is not None:
            cfg.resume, cfg.load_from = True, resume
    else:
        if show or show_dir:
            _visualize(cfg, show, wait_time, show_dir)
        if out is not None:
            evaluators = cfg.test_evaluator
            if not isinstance(evaluators, list):
                evaluators = [evaluators]
            cfg.test_evaluator = evaluators + [
                dict(type='DumpDetResults', out_file_path=out)
            ]
        if tta:
            _flip_tta(cfg)
    _own_visualizer(cfg)
    runner = Runner.from_cfg(cfg)
    if swap is not None:
        runner.model = swap()
    return runner
