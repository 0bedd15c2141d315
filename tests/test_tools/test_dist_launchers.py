"""Multi-process training and testing as a user runs them, on the CPU: ``bash tools/dist_train.sh CONFIG 2``
and ``bash tools/dist_test.sh`` (torchrun, gloo) on the detection, segmentation and classification demos
with tiny synthetic data, with the repository's ``.venv`` not on PATH (nothing activated).

Per demo: training finishes; both processes end with bit-identical weights and buffers (SyncBN
statistics included) although they trained on different images; a 2-process evaluation gathers
the predictions of every validation image, in dataset order, equal to a 1-process ``tools/test.py``
run, with the same metric; the 2-process checkpoint resumes in one process. The SLURM scripts are
checked with a fake ``srun`` that records its command line, and one run goes through the slurm
launcher with a fake ``srun`` that starts the tasks as SLURM would.
"""

import glob
import json
import os
import os.path as osp
import pickle
import socket
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TIMEOUT = 600
ITERS = 4  # training iterations of the 2-process runs (detection, segmentation); classification: 1 epoch

# Each process writes the inputs it trained on and its weights before and after training.
PROBE = """
import os.path as osp

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


def _bare(model):
    return model.module if is_model_wrapper(model) else model


@HOOKS.register_module()
class DistProbeHook(Hook):
    def before_train(self, runner):
        self.init = {k: v.detach().clone() for k, v in _bare(runner.model).state_dict().items()}
        self.inputs = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.inputs.append([round(float(x.double().sum()), 3) for x in data_batch['inputs']])

    def after_train(self, runner):
        model = _bare(runner.model)
        torch.save(dict(
            rank=runner.rank, world_size=runner.world_size, wrapper=type(runner.model).__name__,
            backend=torch.distributed.get_backend() if torch.distributed.is_initialized() else None,
            norms=sorted({type(m).__name__ for m in model.modules() if 'BatchNorm' in type(m).__name__}),
            init=self.init, final=model.state_dict(), inputs=self.inputs),
            osp.join(runner.work_dir, f'probe_ws{runner.world_size}_rank{runner.rank}.pth'))
"""


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _env(root, **extra):
    """The environment of a user who has run ``make setup`` and activated nothing."""
    venv_bin = osp.join(REPO, '.venv', 'bin')
    path = os.pathsep.join(p for p in os.environ.get('PATH', '').split(os.pathsep) if p and osp.abspath(p) != venv_bin)
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHON', 'VIRTUAL_ENV', 'PYTHONPATH')}
    # one thread per process: 2 processes on 2 cores, and the 1-process runs compute bit for bit the same
    env.update(
        PATH=path,
        PYTHONPATH=str(root),
        OMP_NUM_THREADS='1',
        MKL_NUM_THREADS='1',
        MASTER_ADDR='127.0.0.1',
        PORT=str(_free_port()),
    )
    env.update(extra)
    return env


def _run(cmd, root, **extra):
    result = subprocess.run(cmd, cwd=root, env=_env(root, **extra), capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, (
        f'{cmd} failed ({result.returncode}):\n{result.stdout[-3000:]}\n' f'{result.stderr[-6000:]}'
    )
    return result


def _python():
    venv = osp.join(REPO, '.venv', 'bin', 'python')
    return venv if osp.exists(venv) else sys.executable


def _last_metrics(work_dir):
    """The metrics that mmengine's LoggerHook dumps after a test run (``<work_dir>/<stamp>/<stamp>.json``)."""
    files = sorted(glob.glob(osp.join(work_dir, '2*_*', '2*_*.json')))
    assert files, f'no metrics JSON under {work_dir}'
    with open(files[-1]) as f:
        # mmengine 0.10.7's LoggerHook.after_test_epoch dumps this file on *every* rank (no @master_only),
        # so two processes may write it at once and leave a tail of the longer write behind the shorter
        # one ('...}6}'). The evaluation metrics come first and are the same on every rank: read the
        # first JSON object of the last line.
        metrics, _ = json.JSONDecoder().raw_decode(f.read().strip().splitlines()[-1])
    return {k: v for k, v in metrics.items() if k not in ('time', 'data_time')}  # only the evaluation


# ----------------------------------------------------------------------------- the three demos, made tiny


def _detection(root):
    from convnext_dense.datasets.synthetic.coco import generate_coco

    generate_coco(str(root / 'data' / 'synthetic_coco'), num_train=8, num_val=5, image_size=96, seed=0)
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'detection', 'demo', 'cascade_convnext_demo.py'))
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.dataset.pipeline[3].scales = [(1333, 96)]
    cfg.val_dataloader.batch_size = 1
    cfg.test_dataloader = cfg.val_dataloader
    return cfg, 5


def _segmentation(root):
    from convnext_dense.datasets.synthetic.ade import generate_ade

    generate_ade(str(root / 'data' / 'synthetic_ade'), num_train=8, num_val=5, image_size=64, seed=0)
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'segmentation', 'demo', 'upernet_convnext_demo.py'))
    cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.val_dataloader.update(num_workers=0, persistent_workers=False)
    cfg.test_dataloader = cfg.val_dataloader
    crop = (64, 64)
    cfg.model.data_preprocessor.size = crop
    cfg.model.test_cfg.update(crop_size=crop, stride=(48, 48))
    for pipeline in (cfg.train_dataloader.dataset.pipeline, cfg.val_dataloader.dataset.pipeline):
        for t in pipeline:
            if t.type in ('RandomResize', 'Resize'):
                t.scale = (256, 64)
            if t.type == 'RandomCrop':
                t.crop_size = crop
    cfg.test_evaluator = [cfg.test_evaluator, dict(type='DumpResults', out_file_path='seg_results.pkl')]
    return cfg, 5


def _classification(root):
    from convnext_dense.datasets.synthetic import generate_imagefolder

    generate_imagefolder(
        str(root / 'data' / 'synthetic_cls'),
        num_classes=3,
        num_train_per_class=4,
        num_val_per_class=3,
        image_size=32,
        seed=0,
    )
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'classification', 'demo', 'convnext_demo.py'))
    cfg.model.num_classes = 3
    for loader, batch in ((cfg.train_dataloader, 2), (cfg.val_dataloader, 3)):  # Mixup needs even batches
        loader.update(batch_size=batch, num_workers=0, persistent_workers=False)
        loader.dataset.transform.input_size = 32
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator = cfg.test_evaluator = dict(type='TopKAccuracy', topk=(1,))
    cfg.default_hooks.checkpoint.update(interval=1, max_keep_ckpts=3)  # the demo keeps 1: resuming would drop it
    return cfg, 9


TASKS = {
    # name: (make data + config, schedule options for 2-process training, for the 1-process resume, checkpoint)
    'detection': (
        _detection,
        [
            f'train_cfg.max_iters={ITERS}',
            f'train_cfg.val_interval={ITERS}',
            f'default_hooks.checkpoint.interval={ITERS}',
        ],
        ['train_cfg.max_iters=6', 'train_cfg.val_interval=6', 'default_hooks.checkpoint.interval=6'],
        f'iter_{ITERS}.pth',
        'iter_6.pth',
    ),
    'segmentation': (
        _segmentation,
        [
            f'train_cfg.max_iters={ITERS}',
            f'train_cfg.val_interval={ITERS}',
            f'default_hooks.checkpoint.interval={ITERS}',
        ],
        ['train_cfg.max_iters=6', 'train_cfg.val_interval=6', 'default_hooks.checkpoint.interval=6'],
        f'iter_{ITERS}.pth',
        'iter_6.pth',
    ),
    'classification': (
        _classification,
        ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1'],
        ['train_cfg.max_epochs=2', 'train_cfg.val_interval=2'],
        'epoch_1.pth',
        'epoch_2.pth',
    ),
}


_CACHE = {}


def _train(name, tmp_path_factory):
    """Tiny data and config of one demo, trained by ``bash tools/dist_train.sh CONFIG 2`` (once per session)."""
    if name in _CACHE:
        return _CACHE[name]
    make, train_opts, resume_opts, ckpt_name, resumed_name = TASKS[name]
    root = tmp_path_factory.mktemp(name)
    (root / 'dist_probe.py').write_text(PROBE)
    cfg, num_val = make(root)
    cfg.custom_imports = dict(imports=['convnext_dense', 'dist_probe'], allow_failed_imports=False)
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [dict(type='DistProbeHook', priority='LOWEST')]
    cfg.default_hooks.logger.interval = 1
    config = str(root / f'{name}_tiny.py')
    cfg.dump(config)
    work = str(root / 'work')
    train = _run(
        [
            'bash',
            osp.join(REPO, 'tools', 'dist_train.sh'),
            config,
            '2',
            '--work-dir',
            work,
            '--cfg-options',
            *train_opts,
        ],
        root,
    )
    _CACHE[name] = dict(
        name=name,
        root=root,
        config=config,
        work=work,
        num_val=num_val,
        log=train.stdout + train.stderr,
        checkpoint=osp.join(work, ckpt_name),
        resume_opts=resume_opts,
        resumed=osp.join(work, resumed_name),
    )
    return _CACHE[name]


def _test(trained, launch):
    """Evaluate the 2-process checkpoint: ``launch`` is 'single' (tools/test.py), 'dist' or 'slurm' (2 processes).

    Returns the per-image predictions of the results file and the metrics, once per session and launch.
    """
    key = (trained['name'], launch)
    if key in _CACHE:
        return _CACHE[key]
    name, root = trained['name'], trained['root']
    work, out = str(root / f'test_{launch}'), str(root / f'results_{launch}.pkl')
    if name == 'segmentation':  # --out means PNG masks there; the config dumps results with DumpResults
        opts = ['--work-dir', work, '--cfg-options', f'test_evaluator.1.out_file_path={out}']
    else:
        opts = ['--work-dir', work, '--out', out]
    args = [trained['config'], trained['checkpoint']]
    if launch == 'single':
        _run([_python(), osp.join(REPO, 'tools', 'test.py'), *args, *opts], root)
    elif launch == 'dist':
        _run(['bash', osp.join(REPO, 'tools', 'dist_test.sh'), *args, '2', *opts], root)
    else:
        bin_dir = _fake_slurm(root)
        _run(
            ['bash', osp.join(REPO, 'tools', 'slurm_test.sh'), 'cpu', 'job', *args, *opts],
            root,
            PATH=f'{bin_dir}{os.pathsep}{_env(root)["PATH"]}',
            GPUS='2',
            GPUS_PER_NODE='0',
            TASKS_PER_NODE='2',
        )
    _CACHE[key] = (_results(out, name), _last_metrics(work))
    return _CACHE[key]


@pytest.fixture(scope='module', params=list(TASKS))
def trained(request, tmp_path_factory):
    return _train(request.param, tmp_path_factory)


@pytest.mark.e2e  # several processes train and test
def test_dist_train_ranks_end_with_identical_weights(trained):
    probes = [torch.load(osp.join(trained['work'], f'probe_ws2_rank{r}.pth'), weights_only=False) for r in (0, 1)]
    for rank, probe in enumerate(probes):
        assert (probe['rank'], probe['world_size'], probe['backend']) == (rank, 2, 'gloo')
        assert probe['wrapper'] == 'CPUDistributedDataParallel'
    # the ranks trained on different images at every step...
    assert len(probes[0]['inputs']) == len(probes[1]['inputs']) > 0
    for seen0, seen1 in zip(probes[0]['inputs'], probes[1]['inputs']):
        assert not set(seen0) & set(seen1)
    # ...and end bit-identical: gradients were averaged and SyncBN statistics shared between them
    final0, final1 = probes[0]['final'], probes[1]['final']
    assert sorted(final0) == sorted(final1)
    differ = [k for k in final0 if not torch.equal(final0[k], final1[k])]
    assert not differ, f'ranks diverged in {differ[:10]}'
    trained_keys = [
        k for k in final0 if final0[k].is_floating_point() and not torch.equal(final0[k], probes[0]['init'][k])
    ]
    assert len(trained_keys) > len(final0) // 2  # training changed the weights
    if trained['name'] in ('detection', 'segmentation'):  # their heads use SyncBN
        assert probes[0]['norms'] == ['CPUSyncBatchNorm']
        running = [k for k in final0 if k.endswith('running_mean')]
        assert running and all(not torch.equal(final0[k], probes[0]['init'][k]) for k in running)
    # rank 0 wrote the checkpoint: it holds the same weights
    ckpt = torch.load(trained['checkpoint'], map_location='cpu', weights_only=False)
    assert sorted(ckpt['state_dict']) == sorted(final0)
    assert all(torch.equal(ckpt['state_dict'][k], final0[k]) for k in final0)


def _results(path, name):
    """Per-image predictions from a results file, as (image, comparable tensors)."""
    with open(path, 'rb') as f:
        results = pickle.load(f)
    out = []
    for r in results:
        if name == 'detection':
            inst = r['pred_instances']
            out.append((r['img_id'], [inst['bboxes'], inst['scores'], inst['labels']]))
        elif name == 'segmentation':
            out.append((r['img_path'], [r['pred_sem_seg']['data']]))
        else:
            out.append((r['img_path'], [r['pred_score']]))
    return out


def _assert_same_predictions(got, expected, num_val):
    (results, metrics), (ref_results, ref_metrics) = got, expected
    assert len(results) == num_val  # both ranks' images, the sampler's padding dropped
    assert len({image for image, _ in results}) == num_val
    assert [image for image, _ in results] == [image for image, _ in ref_results]  # dataset order
    for (image, preds), (_, ref_preds) in zip(results, ref_results):
        for a, b in zip(preds, ref_preds):
            a, b = torch.as_tensor(a), torch.as_tensor(b)
            # Floats to fp32 rounding, the rest exactly: a rank batches other images than the single process, and
            # oneDNN's kernels may round a row differently in a batch of another size (seen on AMD EPYC without
            # AVX-512: scores 1 ulp apart); the labels, masks and the metric below stay exact.
            tol = dict(rtol=1e-5, atol=1e-6) if a.is_floating_point() else dict(rtol=0, atol=0)
            torch.testing.assert_close(a, b, **tol, msg=lambda m, image=image: f'{image}: {m}')
    assert metrics == ref_metrics


@pytest.mark.e2e  # several processes train and test
def test_dist_test_gathers_every_image_and_equals_one_process(trained):
    single = _test(trained, 'single')
    _assert_same_predictions(_test(trained, 'dist'), single, trained['num_val'])
    print(f'{trained["name"]}: {single[1]}')


@pytest.mark.e2e  # several processes train and test
def test_two_process_checkpoint_resumes_in_one_process(trained):
    result = _run(
        [
            _python(),
            osp.join(REPO, 'tools', 'train.py'),
            trained['config'],
            '--work-dir',
            trained['work'],
            '--resume',
            '--cfg-options',
            *trained['resume_opts'],
        ],
        trained['root'],
    )
    log = result.stdout + result.stderr
    assert 'resumed' in log.lower() and osp.basename(trained['checkpoint']) in log
    assert osp.isfile(trained['resumed'])
    probe = torch.load(osp.join(trained['work'], 'probe_ws1_rank0.pth'), weights_only=False)
    assert probe['world_size'] == 1 and probe['wrapper'] != 'CPUDistributedDataParallel'
    # training went on from the 2-process weights (those of its checkpoint, which the demo may since have deleted)
    two = torch.load(osp.join(trained['work'], 'probe_ws2_rank0.pth'), weights_only=False)['final']
    assert all(torch.equal(probe['init'][k], two[k]) for k in probe['init'])
    assert not all(torch.equal(probe['final'][k], probe['init'][k]) for k in probe['init'])


# ----------------------------------------------------------------------------- SLURM


def _fake_bin(tmp_path, record):
    """A fake ``srun`` that records its argv and environment."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'srun').write_text(
        '#!/usr/bin/env python3\nimport json, os, sys\n'
        f'json.dump(dict(argv=sys.argv[1:], env=dict(os.environ)), open({str(record)!r}, "w"))\n'
    )
    (bin_dir / 'srun').chmod(0o755)
    return bin_dir


FAKE_SRUN = """#!/usr/bin/env python3
# Starts --ntasks copies of the command on this machine with the variables SLURM gives each task.
import os, subprocess, sys
args, ntasks, i = sys.argv[1:], 1, 0
while args[i].startswith('-'):
    if args[i].startswith('--ntasks='):
        ntasks = int(args[i].split('=')[1])
    i += 2 if args[i] == '-p' else 1
env = dict(os.environ, SLURM_NTASKS=str(ntasks), SLURM_NODELIST='node-[1]')
env.pop('MASTER_ADDR', None)  # found with scontrol, as on a cluster
procs = [subprocess.Popen(args[i:], env=dict(env, SLURM_PROCID=str(r), SLURM_LOCALID=str(r))) for r in range(ntasks)]
sys.exit(max(p.wait() for p in procs))
"""
FAKE_SCONTROL = """#!/bin/sh
# scontrol show hostname NODELIST: the hosts, one a line
echo 127.0.0.1
"""


def _fake_slurm(root):
    bin_dir = root / 'slurm_bin'
    bin_dir.mkdir(exist_ok=True)
    for name, text in (('srun', FAKE_SRUN), ('scontrol', FAKE_SCONTROL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return bin_dir


@pytest.mark.e2e  # several processes train and test
def test_slurm_launcher_runs_two_cpu_tasks_and_gathers_their_results(tmp_path_factory):
    trained = _train('classification', tmp_path_factory)
    _assert_same_predictions(_test(trained, 'slurm'), _test(trained, 'single'), trained['num_val'])


@pytest.mark.parametrize('script', ['slurm_train.sh', 'slurm_test.sh'])
def test_slurm_scripts_build_the_srun_command_line(tmp_path, script):
    record = tmp_path / 'srun.json'
    bin_dir = _fake_bin(tmp_path, record)
    fourth = 'work_dirs/x' if script == 'slurm_train.sh' else 'ckpt.pth'
    env = dict(
        _env(tmp_path),
        PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}',
        GPUS='16',
        GPUS_PER_NODE='8',
        CPUS_PER_TASK='4',
        SRUN_ARGS='--time=10 --quotatype=auto',
        PORT='29777',
    )
    subprocess.run(
        ['bash', osp.join(REPO, 'tools', script), 'gpu', 'job', 'cfg.py', fourth, '--cfg-options', 'a=1'],
        env=env,
        check=True,
        timeout=60,
    )
    got = json.loads(record.read_text())
    py = osp.join(REPO, '.venv', 'bin', 'python') if osp.exists(osp.join(REPO, '.venv', 'bin', 'python')) else 'python3'
    tool = osp.join(REPO, 'tools', 'train.py' if script == 'slurm_train.sh' else 'test.py')
    tail = ['cfg.py', '--work-dir=work_dirs/x'] if script == 'slurm_train.sh' else ['cfg.py', 'ckpt.pth']
    assert got['argv'] == [
        '-p',
        'gpu',
        '--job-name=job',
        '--ntasks=16',
        '--cpus-per-task=4',
        '--kill-on-bad-exit=1',
        '--gres=gpu:8',
        '--ntasks-per-node=8',
        '--time=10',
        '--quotatype=auto',
        py,
        '-u',
        tool,
        *tail,
        '--launcher=slurm',
        '--cfg-options',
        'a=1',
    ]
    assert got['env']['MASTER_PORT'] == '29777' and got['env']['PYTHONPATH'].split(os.pathsep)[0] == REPO

    # CPU-only nodes: no GPUs requested
    env.update(GPUS='2', GPUS_PER_NODE='0', TASKS_PER_NODE='2', SRUN_ARGS='')
    subprocess.run(
        ['bash', osp.join(REPO, 'tools', script), 'cpu', 'job', 'cfg.py', fourth], env=env, check=True, timeout=60
    )
    argv = json.loads(record.read_text())['argv']
    assert '--ntasks=2' in argv and '--ntasks-per-node=2' in argv and not any(a.startswith('--gres') for a in argv)
