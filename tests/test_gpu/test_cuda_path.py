"""The GPU path in one command (``make test-gpu``): mmcv's CUDA ops against torchvision's on the
backbone's real outputs, and each demo trained a few iterations on CUDA with AMP, then evaluated.

Every test here is marked ``cuda`` and skipped without a GPU; nothing here has run in CI (which has
none). On a GPU machine, ``make setup`` builds mmcv with its CUDA ops (``FORCE_CUDA=1``) first.
"""

import os.path as osp
import subprocess
import sys

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU (make test-gpu)'),
]


@pytest.fixture(scope='module')
def features():
    from convnext_dense.models import ConvNeXt

    torch.manual_seed(0)
    net = ConvNeXt(dict(depths=[1, 1, 2, 1], dims=[32, 64, 128, 256]), layer_scale_init_value=1.0).cuda().eval()
    with torch.no_grad(), torch.autocast('cuda', dtype=torch.float16):
        feats = net(torch.randn(2, 3, 256, 320, device='cuda'))
    return [f.float() for f in feats]


def test_mmcv_roi_align_on_cuda_equals_torchvision(features):
    from mmcv.ops import RoIAlign
    from torchvision.ops import roi_align

    feat = features[1]  # stride 8
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(64, 2, generator=g) * torch.tensor([280.0, 220.0])
    wh = torch.rand(64, 2, generator=g) * 60 + 4
    rois = torch.cat([torch.randint(0, 2, (64, 1), generator=g).float(), xy, xy + wh], 1).cuda()
    ours = RoIAlign((7, 7), spatial_scale=1 / 8, sampling_ratio=2, aligned=True)(feat, rois)
    ref = roi_align(feat, rois, (7, 7), spatial_scale=1 / 8, sampling_ratio=2, aligned=True)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)
    # the same on channels-last memory: mmcv must not read it as NCHW
    ours_cl = RoIAlign((7, 7), spatial_scale=1 / 8, sampling_ratio=2, aligned=True)(
        feat.contiguous(memory_format=torch.channels_last).contiguous(), rois
    )
    torch.testing.assert_close(ours_cl, ref, rtol=1e-4, atol=1e-4)


def test_mmcv_nms_on_cuda_equals_torchvision():
    from mmcv.ops import nms
    from torchvision.ops import nms as tv_nms

    g = torch.Generator().manual_seed(1)
    xy = torch.rand(500, 2, generator=g) * 400
    boxes = torch.cat([xy, xy + torch.rand(500, 2, generator=g) * 80 + 1], 1).cuda()
    scores = torch.rand(500, generator=g).cuda()
    _, keep = nms(boxes, scores, iou_threshold=0.5)
    assert torch.equal(keep.sort().values, tv_nms(boxes, scores, 0.5).sort().values)


DEMOS = {
    'detection': ('configs/detection/demo/cascade_convnext_demo.py', 'coco'),
    'segmentation': ('configs/segmentation/demo/upernet_convnext_demo.py', 'ade'),
    'classification': ('configs/classification/demo/convnext_demo.py', 'cls'),
}


@pytest.mark.parametrize('task', sorted(DEMOS))
def test_demo_trains_with_amp_on_cuda_and_evaluates(task, tmp_path):
    config, kind = DEMOS[task]
    data = tmp_path / 'data'
    if kind == 'cls':
        subprocess.run(
            [
                sys.executable,
                'tools/make_demo_data.py',
                'cls',
                '--out',
                str(data),
                '--train-per-class',
                '8',
                '--val-per-class',
                '2',
            ],
            cwd=ROOT,
            check=True,
        )
    else:
        subprocess.run(
            [
                sys.executable,
                'tools/make_demo_data.py',
                kind,
                '--out',
                str(data),
                '--num-train',
                '16',
                '--num-val',
                '4',
            ],
            cwd=ROOT,
            check=True,
        )
    schedule = (
        ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1']
        if kind == 'cls'
        else ['train_cfg.max_iters=10', 'train_cfg.val_interval=10']
    )
    proc = subprocess.run(
        [
            sys.executable,
            'tools/train.py',
            config,
            '--amp',
            '--work-dir',
            str(tmp_path / 'run'),
            '--cfg-options',
            f'data_root={data}' + ('' if kind == 'cls' else '/'),
            *schedule,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "type='AmpOptimWrapper'" in out, 'the run did not use mixed precision'
    metric = {'detection': 'coco/bbox_mAP', 'segmentation': 'mIoU', 'classification': 'accuracy/top1'}[task]
    assert metric in out, out[-3000:]
