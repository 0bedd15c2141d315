"""Effective receptive field (ERF) of a backbone stage, by the method of RepLKNet.

Ding et al., "Scaling Up Your Kernels to 31x31: Revisiting Large Kernel Design in CNNs", CVPR 2022,
Section 4.2 and their code (github.com/DingXiaoH/RepLKNet-pytorch, ``erf/visualize_erf.py`` and
``erf/analyze_erf.py``), followed step by step:

1. the contribution of each input pixel to the central point of a stage's output: the gradient of
   ``sum_c relu(y[c, H//2, W//2])`` with respect to the input image, rectified (``relu``, as their code;
   ``rectify='abs'`` takes the absolute value instead), summed over the input channels;
2. averaged over images (their code skips an image whose map holds a NaN, and so does :func:`erf_map`);
3. ``log10(map + 1)``, scaled to a maximum of 1 (:func:`log_scale`);
4. the high-contribution area ratio at threshold t (:func:`area_ratio`): the smallest centred square
   whose sum exceeds t of the whole sum, as a fraction of the image area (t = 0.2, 0.3, 0.5, 0.99).

The method has no counterpart in mmdet, mmseg or mmengine (mmdet#8296 and mmcv#2095 ask for one), so it is
written here; the backbone is built from a config by mmengine's registry.

Example (two 3x3 convs see 5x5 pixels):
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 1, 3, padding=1), torch.nn.Conv2d(1, 1, 3, padding=1))
    >>> grid = erf_map(net, [torch.rand(3, 15, 15)], rectify='abs')  # 'relu' zeroes the negative gradients
    >>> (grid > 0).nonzero().min(0).values.tolist(), (grid > 0).nonzero().max(0).values.tolist()
    ([5, 5], [9, 9])
"""

import math
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import torch

__all__ = [
    'THRESHOLDS',
    'area_ratio',
    'area_ratios',
    'backbone_from_config',
    'erf_map',
    'input_grad',
    'load_images',
    'log_scale',
    'markdown_ratios',
    'plot_grid',
]

THRESHOLDS = (0.2, 0.3, 0.5, 0.99)


def _stage_output(output, stage: Optional[int]) -> torch.Tensor:
    if isinstance(output, (tuple, list)):
        return output[-1 if stage is None else stage]
    return output


def input_grad(
    model: Callable, images: torch.Tensor, stage: Optional[int] = None, rectify: str = 'relu'
) -> torch.Tensor:
    """The contribution map of one batch: (H, W), summed over the batch and the input channels.

    Args:
        model: returns a (N, C, h, w) map, or a tuple of them (a backbone's stages).
        images: (N, 3, H, W) normalised images.
        stage: which element of a tuple output (default: the last).
        rectify: ``'relu'`` (RepLKNet's code) or ``'abs'``.
    """
    if rectify not in ('relu', 'abs'):
        raise ValueError(f"rectify={rectify!r}: 'relu' or 'abs'")
    x = images.detach().clone().requires_grad_(True)
    y = _stage_output(model(x), stage)
    h, w = y.shape[-2:]
    central = torch.relu(y[:, :, h // 2, w // 2]).sum()
    (grad,) = torch.autograd.grad(central, x)
    grad = torch.relu(grad) if rectify == 'relu' else grad.abs()
    return grad.sum((0, 1)).detach()


def erf_map(
    model: Callable,
    images: Iterable[torch.Tensor],
    stage: Optional[int] = None,
    rectify: str = 'relu',
    batch_size: int = 1,
) -> torch.Tensor:
    """The mean contribution map (H, W) over ``images`` (each (3, H, W), all one size), in float64.

    An image whose map holds a NaN is skipped, as in RepLKNet's code. Raises ValueError when none is left.
    """
    total, count, batch = None, 0, []

    def flush():
        nonlocal total, count
        grad = input_grad(model, torch.stack(batch), stage, rectify).double()
        batch.clear()
        if torch.isnan(grad).any():
            return
        total = grad if total is None else total + grad
        count += n

    for image in images:
        batch.append(image)
        if len(batch) == batch_size:
            n = len(batch)
            flush()
    if batch:
        n = len(batch)
        flush()
    if total is None:
        raise ValueError('no image gave a finite contribution map')
    return total / count


def log_scale(grid) -> np.ndarray:
    """``log10(grid + 1)`` scaled to a maximum of 1 (RepLKNet's ``analyze_erf.py``)."""
    data = np.log10(np.asarray(grid, dtype=np.float64) + 1)
    top = data.max()
    return data / top if top > 0 else data


def area_ratio(data: np.ndarray, threshold: float) -> Optional[Tuple[int, float]]:
    """(side, area ratio) of the smallest centred square holding more than ``threshold`` of the sum.

    As RepLKNet's ``get_rectangle``: squares of side 3, 5, ... around (H//2, W//2), up to side H - 1;
    None when none of them holds enough (the whole image is needed).
    """
    h, w = data.shape
    total = float(data.sum())
    for i in range(1, h // 2):
        square = data[h // 2 - i : h // 2 + 1 + i, w // 2 - i : w // 2 + 1 + i]
        if total > 0 and float(square.sum()) / total > threshold:
            side = 2 * i + 1
            return side, side / h * side / w
    return None


def area_ratios(data: np.ndarray, thresholds: Sequence[float] = THRESHOLDS) -> Dict[float, Optional[float]]:
    """``{threshold: area ratio or None}`` of a log-scaled map."""
    return {t: (None if (found := area_ratio(data, t)) is None else found[1]) for t in thresholds}


def plot_grid(maps: Sequence[np.ndarray], titles: Sequence[str], out: str, columns: int = 4) -> str:
    """The log-scaled maps side by side (RepLKNet's heatmap colours, ``RdYlGn``), one panel each; a PNG."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    columns = min(columns, len(maps))
    rows = math.ceil(len(maps) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.0 * columns, 3.1 * rows), squeeze=False, dpi=80)
    for ax in axes.flat[len(maps) :]:
        ax.axis('off')
    for ax, data, title in zip(axes.flat, maps, titles):
        image = ax.imshow(data, cmap='RdYlGn', vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8)
    fig.savefig(out)
    plt.close(fig)
    return out


def markdown_ratios(names: Sequence[str], maps: Sequence[np.ndarray], thresholds=THRESHOLDS) -> List[str]:
    """A markdown table: one row a model, its area ratio at each threshold (in %)."""
    head = ['model'] + [f't = {round(t * 100)}%' for t in thresholds]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for name, data in zip(names, maps):
        ratios = area_ratios(data, thresholds)
        lines.append(
            '| ' + ' | '.join([name] + ['-' if r is None else f'{100 * r:.2f}' for r in ratios.values()]) + ' |'
        )
    return lines


# ImageNet's mean and std in 0..255, the data_preprocessor values of every config here.
_MEAN, _STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)


def load_images(folder: str, size: int, num: int, mean=_MEAN, std=_STD) -> List[torch.Tensor]:
    """The first ``num`` images of ``folder`` (sorted names, recursively), resized to ``size`` x ``size`` (bicubic,
    as RepLKNet's input transform) and normalised: a list of (3, size, size) tensors.

    Raises:
        MissingFileError: no such folder, or no image in it.
    """
    import glob
    import os.path as osp

    from PIL import Image

    from ..errors import MissingFileError
    from ..utils import IMG_EXTENSIONS

    if not osp.isdir(folder):
        raise MissingFileError(
            f'--images {folder!r} is not a folder: give a folder of images (e.g. data/synthetic_coco/val)'
        )
    files = sorted(
        f for f in glob.glob(osp.join(folder, '**', '*'), recursive=True) if f.lower().endswith(tuple(IMG_EXTENSIONS))
    )[:num]
    if not files:
        raise MissingFileError(f'--images {folder!r} holds no image ({", ".join(IMG_EXTENSIONS)})')
    m = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
    out = []
    for f in files:
        image = Image.open(f).convert('RGB').resize((size, size), Image.BICUBIC)
        out.append((torch.from_numpy(np.asarray(image, dtype=np.float32).copy()).permute(2, 0, 1) - m) / s)
    return out


def backbone_from_config(cfg, checkpoint: Optional[str] = None) -> torch.nn.Module:
    """``cfg.model.backbone`` built in the config's scope, in eval mode: random init, or a trained model's weights.

    Args:
        cfg: a detection, segmentation or classification config (mmengine ``Config``).
        checkpoint: a checkpoint of the whole model (``tools/train.py``): its ``backbone.`` weights are loaded,
            strictly (a missing or unexpected backbone weight is a :class:`CheckpointError`).
    """
    import os.path as osp

    from mmengine.registry import init_default_scope

    from ..errors import CheckpointError, ConfigError, MissingFileError
    from ..models import read_checkpoint

    if 'backbone' not in cfg.get('model', {}):
        raise ConfigError('the config has no model.backbone: give a detection, segmentation or classification config')
    scope = cfg.get('default_scope') or 'mmengine'
    init_default_scope(scope)
    backbone_cfg = cfg.model.backbone.copy()
    backbone_cfg['init_cfg'] = None  # no download of the pretrained weights: random init unless a checkpoint
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    backbone = registry.build(backbone_cfg)
    if checkpoint:
        if '://' not in checkpoint and not osp.isfile(checkpoint):
            raise MissingFileError(
                f'--checkpoint {checkpoint!r} does not exist: give the .pth tools/train.py wrote for this config '
                f'(work_dirs/<config>/iter_N.pth or epoch_N.pth), or leave it out for random init'
            )
        state = read_checkpoint(checkpoint)
        state = {k[len('backbone.') :]: v for k, v in state.items() if k.startswith('backbone.')}
        own = backbone.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected or not state:
            raise CheckpointError(
                f'{checkpoint!r} does not fit the backbone of the config ({len(missing)} weights missing, e.g. '
                f'{missing[:3]}; {len(unexpected)} unexpected, e.g. {unexpected[:3]}): give the checkpoint '
                f'tools/train.py wrote for this config'
            )
        backbone.load_state_dict(state, strict=True)
    backbone.eval()  # not `return backbone.eval()`: mmdet's SwinTransformer.train() returns None
    return backbone
