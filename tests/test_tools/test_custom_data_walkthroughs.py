"""docs/custom_data.md runs as written: each walk-through's commands, on data the test writes (own class names, a
class count other than the demos', a class with no instance in val, COCO ids that are not 1..N, an image without
annotations), in a scratch checkout (the repository's configs/ copied, tools/ linked, data/ written here).

The training and test commands get CPU options appended (a tiny backbone, narrow heads, small images, a short
schedule, no downloads); every other line (cp, sed) runs verbatim. The fast test of each walk-through trains a
couple of iterations and checks that the metric is reported; the slow one trains long enough to learn and checks
the metric's value.
"""

import os
import os.path as osp
import re
import shlex
import shutil
import subprocess
import sys

import pytest
from custom_sets import write_cls, write_coco, write_seg

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DOC = osp.join(REPO, 'docs', 'custom_data.md')

LOADERS = [
    f'{s}_dataloader.{o}' for s in ('train', 'val', 'test') for o in ('num_workers=0', 'persistent_workers=False')
]
ATTO = ['model.backbone.init_cfg=None', 'model.backbone.arch=v2-atto', 'optim_wrapper.type=OptimWrapper']
DET_PIPELINE = [
    'train_dataloader.dataset.pipeline.3.transforms.0.0.scales=[(128,213)]',
    'train_dataloader.dataset.pipeline.3.transforms.1.0.scales=[(96,213)]',
    'train_dataloader.dataset.pipeline.3.transforms.1.1.crop_size=(64,96)',
    'train_dataloader.dataset.pipeline.3.transforms.1.2.scales=[(128,213)]',
    'val_dataloader.dataset.pipeline.1.scale=(213,128)',
    'test_dataloader.dataset.pipeline.1.scale=(213,128)',
]
DET_HEADS = [
    'model.neck.in_channels=[40,80,160,320]',
    'model.neck.out_channels=32',
    'model.rpn_head.in_channels=32',
    'model.rpn_head.feat_channels=32',
    'model.roi_head.bbox_roi_extractor.out_channels=32',
    'model.roi_head.bbox_head.in_channels=32',
    'model.roi_head.bbox_head.fc_out_channels=64',
]
MASK_HEADS = [
    'model.roi_head.mask_roi_extractor.out_channels=32',
    'model.roi_head.mask_head.in_channels=32',
    'model.roi_head.mask_head.conv_out_channels=32',
]


def det_schedule(epochs):
    return [
        'train_dataloader.batch_size=4',
        f'train_cfg.max_epochs={epochs}',
        f'train_cfg.val_interval={epochs}',
        'param_scheduler.0.end=10',
        f'param_scheduler.1.milestones=[{epochs}]',
        'optim_wrapper.optimizer.lr=1e-3',
    ]


SEG = ATTO + [
    'model.decode_head.in_channels=[40,80,160,320]',
    'model.auxiliary_head.in_channels=160',
    'model.decode_head.channels=32',
    'model.auxiliary_head.channels=16',
    'model.data_preprocessor.size=(64,64)',
    'train_dataloader.dataset.pipeline.2.scale=(80,64)',
    'train_dataloader.dataset.pipeline.3.crop_size=(64,64)',
    'model.test_cfg.crop_size=(64,64)',
    'model.test_cfg.stride=(43,43)',
    'val_dataloader.dataset.pipeline.1.scale=(80,64)',
    'test_dataloader.dataset.pipeline.1.scale=(80,64)',
    'train_dataloader.batch_size=4',
    'optim_wrapper.optimizer.lr=1e-3',
]


def seg_schedule(iters):
    return [
        f'train_cfg.max_iters={iters}',
        f'train_cfg.val_interval={iters}',
        f'default_hooks.checkpoint.interval={iters}',
        f'param_scheduler.0.end={max(1, iters // 10)}',
        f'param_scheduler.1.begin={max(1, iters // 10)}',
        f'param_scheduler.1.end={iters}',
    ]


CLS = ATTO[:1] + [
    'model.finetune=None',
    'model.backbone.arch=v2-atto',
    'model.backbone.layer_scale_init_value=0',
    'train_dataloader.dataset.transform.input_size=32',
    'val_dataloader.dataset.transform.input_size=32',
    'test_dataloader.dataset.transform.input_size=32',
    'train_dataloader.batch_size=6',
    'auto_scale_lr.enable=False',
    'optim_wrapper.optimizer.lr=1e-3',
]


def cls_schedule(epochs):
    return [f'train_cfg.max_epochs={epochs}', f'param_scheduler.0.T_max={epochs}', f'param_scheduler.0.end={epochs}']


# walk-through: (data folder, writer, CPU options, fast schedule, slow schedule, metric key, slow minimum)
WALKS = {
    'instance': (
        'my_fruit',
        lambda root: write_coco(root, with_masks=True),
        ATTO + DET_HEADS + MASK_HEADS + DET_PIPELINE,
        det_schedule(1),
        det_schedule(40),
        'coco/bbox_mAP',
        0.05,
    ),
    'boxes': (
        'my_boxes',
        lambda root: write_coco(root, with_masks=False),
        ATTO + DET_HEADS + DET_PIPELINE,
        det_schedule(1),
        det_schedule(40),
        'coco/bbox_mAP',
        0.05,
    ),
    'semantic': ('my_scenes', write_seg, SEG, seg_schedule(2), seg_schedule(200), 'mIoU', 60.0),
    'classification': ('my_shapes', write_cls, CLS, cls_schedule(1), cls_schedule(30), 'accuracy/top1', 75.0),
}


def walkthroughs():
    """``{name: [command, ...]}`` from the doc's blocks marked ``<!-- walk-through: name -->``."""
    with open(DOC) as f:
        text = f.read()
    blocks = re.findall(r'<!-- walk-through: (\w+) -->\n```bash\n(.*?)```', text, flags=re.S)
    return {name: [line for line in body.splitlines() if line.strip()] for name, body in blocks}


def test_every_walkthrough_of_the_doc_is_tested():
    assert set(walkthroughs()) == set(WALKS)


def scratch_checkout(name, tmp_path):
    """configs/ copied, tools/ linked, the walk-through's data written under data/."""
    folder, write, *_ = WALKS[name]
    checkout = tmp_path / 'checkout'
    shutil.copytree(osp.join(REPO, 'configs'), checkout / 'configs')
    os.symlink(osp.join(REPO, 'tools'), checkout / 'tools')
    write(str(checkout / 'data' / folder))
    return checkout


def cpu_options(name, schedule):
    return WALKS[name][2] + LOADERS + schedule


def run_walkthrough(name, tmp_path, schedule):
    """Every line of the walk-through in a shell (tools in fresh processes); the test command's output."""
    checkout = scratch_checkout(name, tmp_path)
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env['PATH']  # `python` is the test's interpreter
    outputs = []
    for line in walkthroughs()[name]:
        if line.startswith(('python tools/train.py', 'python tools/test.py')):
            line += ' --cfg-options ' + ' '.join(shlex.quote(o) for o in cpu_options(name, schedule))
        result = subprocess.run(
            ['bash', '-c', line], cwd=checkout, env=env, capture_output=True, text=True, timeout=900
        )
        assert result.returncode == 0, f'{line}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}'
        outputs.append(result.stdout + result.stderr)
    return outputs[-1]


def metric(log, key):
    """The value of ``key`` in the test run's final metrics line (mmengine's ``key: value`` summary)."""
    values = re.findall(rf'{re.escape(key)}: (-?[0-9.]+|nan)', log)
    assert values, log[-3000:]
    return float(values[-1])


@pytest.mark.parametrize('name', sorted(WALKS))
def test_walkthrough_edits_and_trains_as_written(name, tmp_path, monkeypatch):
    """The fast check: the copy and edit lines verbatim, then the training line in this process (a few iterations,
    validation at the end): the edited config passes the preflight, trains, writes a checkpoint and its metric."""
    import runpy

    checkout = scratch_checkout(name, tmp_path)
    lines = walkthroughs()[name]
    train = next(line for line in lines if line.startswith('python tools/train.py'))
    for line in lines[: lines.index(train)]:
        subprocess.run(['bash', '-c', line], cwd=checkout, check=True)
    monkeypatch.chdir(checkout)
    _, _, _, schedule, _, key, _ = WALKS[name]
    argv = shlex.split(train)[1:] + ['--cfg-options', *cpu_options(name, schedule)]
    monkeypatch.setattr(sys, 'argv', argv)
    with pytest.raises(SystemExit) as done:
        runpy.run_path(argv[0], run_name='__main__')
    assert done.value.code in (0, None)
    work_dir = checkout / shlex.split(train)[shlex.split(train).index('--work-dir') + 1]
    assert (work_dir / (work_dir / 'last_checkpoint').read_text().strip().split('/')[-1]).is_file()
    logs = '\n'.join(p.read_text() for p in work_dir.glob('*/*.log'))
    assert 0 <= metric(logs, key) <= 100


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(WALKS))
def test_walkthrough_learns_the_data(name, tmp_path):
    _, _, _, _, schedule, key, minimum = WALKS[name]
    log = run_walkthrough(name, tmp_path, schedule)
    value = metric(log, key)
    print(f'{name}: {key} = {value}')
    assert value >= minimum
