"""The user mistakes of docs/errors.md: each gives a clear error that names the file, key or value and the fix.

Each test is one row (or a few) of docs/errors.md. The tools are run as a user runs them only for the
main command on a fresh checkout; everything else calls the functions the tools call.
"""

import copy
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config

import convnext_dense  # noqa: F401  (registers everything)
from convnext_dense.apis import apply_train_args, load_config
from convnext_dense.apis import preflight as preflight_module
from convnext_dense.apis.cli import run_cli, user_error_message
from convnext_dense.apis.preflight import PreflightError, preflight

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DET = 'configs/detection/cascade_convnext_t_3x.py'
SEG = 'configs/segmentation/upernet_convnext_t_512_160k_ade20k.py'
CLS = 'configs/classification/convnext_t_in1k.py'
DET_DEMO = 'configs/detection/demo/cascade_convnext_demo.py'
SEG_DEMO = 'configs/segmentation/demo/upernet_convnext_demo.py'
CLS_DEMO = 'configs/classification/demo/convnext_demo.py'


@pytest.fixture(autouse=True)
def cpu_only_and_empty_weight_cache(monkeypatch, tmp_path):
    """As on a fresh CPU machine: no GPU, nothing downloaded yet."""
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.chdir(ROOT)


_READ_CONFIGS = {}
_fromfile = Config.fromfile


@pytest.fixture(autouse=True)
def read_each_config_once(monkeypatch):
    """load_config as it is, but each file parsed once for the module (1-2 s each), then copied."""

    def fromfile(path, *args, **kwargs):
        key = osp.abspath(path)
        if key not in _READ_CONFIGS:
            _READ_CONFIGS[key] = _fromfile(path, *args, **kwargs)
        return copy.deepcopy(_READ_CONFIGS[key])

    monkeypatch.setattr(Config, 'fromfile', staticmethod(fromfile))


def train_cfg(config, tmp_path, options=None, **args):
    """The config as tools/train.py prepares it, with the work dir in tmp_path."""
    ns = SimpleNamespace(
        **{
            **dict(
                config=config,
                work_dir=str(tmp_path / 'work'),
                amp=False,
                resume=None,
                seed=None,
                deterministic=False,
                launcher='none',
            ),
            **args,
        }
    )
    return apply_train_args(load_config(osp.join(ROOT, config), options), ns)


def problems(cfg, config, mode='train'):
    """{topic: text} of what preflight finds (empty when it passes)."""
    try:
        preflight(cfg, config, mode=mode)
    except PreflightError as e:
        assert str(e).splitlines()[0].startswith(f'{config} cannot {mode} here: ')
        found = {}
        for topic, text in e.problems:
            found[topic] = found.get(topic, '') + text
        return found
    return {}


# ----------------------------------------------------------------- main commands on a fresh checkout
def test_detection_main_command_on_a_fresh_checkout_says_where_data_and_weights_go(tmp_path):
    env = dict(os.environ, TORCH_HOME=str(tmp_path / 'torch_home'), CUDA_VISIBLE_DEVICES='')
    result = subprocess.run(
        [sys.executable, 'tools/train.py', DET, '--work-dir', str(tmp_path / 'work')],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    err = result.stderr
    assert result.returncode == 2, err[-3000:]
    assert 'Traceback' not in err and len(err.strip().splitlines()) < 12, err
    first = err.strip().splitlines()[0]
    assert first.startswith(f'error: {DET} cannot train here: 2 problems (data, device).'), first
    # where the data go, and how to point elsewhere
    assert 'data/coco/annotations/instances_train2017.json' in err and 'train2017/' in err
    assert '--cfg-options data_root=/path/to/coco/' in err
    # how to get the weights (downloaded on first use when online, or fetched beforehand)
    assert f'python tools/download_weights.py {DET}' in err
    # no GPU: the paper's AMP, and how to run the demo instead
    assert 'optim_wrapper.type=OptimWrapper' in err and '`make demo`' in err
    assert not osp.exists(tmp_path / 'work'), 'nothing is built before the checks pass'


def test_segmentation_main_command_on_a_fresh_checkout(tmp_path):
    with pytest.raises(PreflightError) as info:
        preflight(train_cfg(SEG, tmp_path), SEG)
    message = str(info.value)
    assert message.startswith(f'{SEG} cannot train here: 2 problems (data, device).')
    assert 'not found: data/ade/ADEChallengeData2016 (train_dataloader.dataset.data_root)' in message
    assert 'data/ade/ADEChallengeData2016/images/{training,validation}/*.jpg' in message
    assert '--cfg-options data_root=/path/to/ADEChallengeData2016' in message and 'ADEChallengeData2016.zip' in message
    assert f'python tools/download_weights.py {SEG}' in message or 'checkpoint=PATH' in message
    assert 'optim_wrapper.type=OptimWrapper' in message and '`make demo-seg`' in message


def test_classification_main_command_on_a_fresh_checkout(tmp_path):
    with pytest.raises(PreflightError) as info:
        preflight(train_cfg(CLS, tmp_path), CLS)
    message = str(info.value)
    assert message.startswith(f'{CLS} cannot train here: 1 problem (data).')
    assert 'not found: data/imagenet (train_dataloader.dataset.data_root)' in message
    assert 'data/imagenet/train/<class>/*.JPEG' in message and '--cfg-options data_root=/path/to/imagenet' in message
    assert '`make demo-cls`' in message


def test_tools_print_user_errors_without_a_traceback(capsys):
    """An error raised by a check deep in a build (mmengine's registry re-raises it with a prefix)."""
    from mmdet.registry import MODELS

    def main():
        MODELS.build(dict(type='ConvNeXt', arch='tinyy'))

    assert run_cli(main) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ConvNeXt: unknown arch 'tinyy'; choose one of"), err
    assert 'class `ConvNeXt`' not in err and 'Traceback' not in err

    def bug():
        raise ValueError('a bug outside convnext_dense keeps its traceback')

    with pytest.raises(ValueError, match='keeps its traceback'):
        run_cli(bug)


# ------------------------------------------------------------------------------------------- data
def test_data_root_that_does_not_exist(tmp_path):
    nowhere = str(tmp_path / 'nowhere') + '/'
    found = problems(train_cfg(DET, tmp_path, {'data_root': nowhere}), DET)
    assert f'not found: {nowhere} (train_dataloader.dataset.data_root)' in found['data']
    assert '--cfg-options data_root=' in found['data']


@pytest.fixture
def coco(synthetic_set, writable_copy):
    return writable_copy(synthetic_set('coco', num_train=4, num_val=3, image_size=64, seed=3, empty_prob=0.0))


def build_coco(root, split='train', **kwargs):
    from mmdet.registry import DATASETS
    from mmengine.registry import init_default_scope

    from convnext_dense.datasets.synthetic.coco import CLASSES

    init_default_scope('mmdet')
    return DATASETS.build(
        dict(
            type='CheckedCocoDataset',
            data_root=root,
            ann_file=f'annotations/instances_{split}.json',
            data_prefix=dict(img=f'{split}/'),
            metainfo=dict(classes=CLASSES),
            test_mode=False,
            filter_cfg=dict(filter_empty_gt=False),
            pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True)],
            **kwargs,
        )
    )


def test_malformed_annotation_json(coco):
    path = osp.join(coco, 'annotations', 'instances_train.json')
    with open(path, 'w') as f:
        f.write('{"images": [')
    with pytest.raises(
        ValueError,
        match=r"COCO annotation file '.*instances_train\.json' is not valid JSON .*" r're-create or re-download it',
    ):
        build_coco(coco)


def test_missing_and_corrupt_images_name_the_file(coco):
    dataset = build_coco(coco)
    missing, corrupt = dataset.get_data_info(0)['img_path'], dataset.get_data_info(1)['img_path']
    os.remove(missing)
    with pytest.raises(
        FileNotFoundError,
        match=rf"image '{missing}' \(id \d+ in .*\) does not exist: check "
        r'data_prefix, or remove the image from the annotation file',
    ):
        dataset[0]
    with open(corrupt, 'wb') as f:
        f.write(b'not a jpeg')
    with pytest.raises(ValueError, match=rf"image '{corrupt}' .* cannot be decoded: the file is corrupt"):
        dataset[1]


def test_corrupt_image_in_a_dataloader_worker_is_reported_by_name(coco):
    """Training reads images in worker processes; torch re-raises there with the traceback as text."""
    dataset = build_coco(coco)
    corrupt = dataset.get_data_info(0)['img_path']
    with open(corrupt, 'wb') as f:
        f.write(b'not a jpeg')
    loader = torch.utils.data.DataLoader(
        torch.utils.data.Subset(dataset, [0]), num_workers=1, collate_fn=lambda batch: batch
    )
    with pytest.raises(ValueError) as info:
        next(iter(loader))
    assert 'DataLoader worker' in str(info.value)
    message = user_error_message(info.value)
    assert message.startswith(f"image '{corrupt}' (id ") and 'cannot be decoded' in message


def test_zero_area_and_out_of_image_boxes_are_skipped_with_a_warning(coco, monkeypatch):
    path = osp.join(coco, 'annotations', 'instances_train.json')
    with open(path) as f:
        data = json.load(f)
    anns = data['annotations']
    assert len(anns) >= 3
    anns[0]['bbox'][2] = 0  # zero width
    anns[0]['area'] = 0
    anns[1]['bbox'][:2] = [500, 500]  # entirely right of / below the 64x64 image
    anns[2]['bbox'][:2] = [-5, 3]  # crosses the left border
    with open(path, 'w') as f:
        json.dump(data, f)
    logged = []
    monkeypatch.setattr(
        'convnext_dense.datasets.coco.print_log', lambda msg, **kw: logged.append((msg, kw.get('level')))
    )
    dataset = build_coco(coco)
    skipped = next(m for m, _ in logged if 'are skipped' in m)
    assert skipped.startswith(
        f'{path}: 2 annotations are skipped, as mmdet does (1 zero area or a side < 1 px, '
        f'1 entirely outside the image), e.g. id {anns[0]["id"]}'
    )
    assert 'Fix their "bbox"' in skipped
    crossing = next(m for m, _ in logged if 'cross their image border' in m)
    assert f'1 boxes cross their image border (e.g. ids [{anns[2]["id"]}])' in crossing
    kept = {inst['bbox'][0] for i in range(len(dataset)) for inst in dataset.get_data_info(i)['instances']}
    assert -5 in kept and 500 not in kept  # the crossing box is used, the outside one is not
    assert all(level == 30 for m, level in logged if 'skipped' in m or 'border' in m)  # WARNING


def test_class_count_that_does_not_match_the_dataset(coco, tmp_path):
    ok = train_cfg(DET_DEMO, tmp_path, {'data_root': coco + '/'})
    assert problems(ok, DET_DEMO) == {}  # the demo on its data passes every check
    bad = train_cfg(DET_DEMO, tmp_path, {'data_root': coco + '/', 'model.roi_head.mask_head.num_classes': 4})
    text = problems(bad, DET_DEMO)['classes']
    assert text.startswith(
        'model.roi_head.mask_head.num_classes=4, but the training dataset has 5 classes '
        '(circle, square, triangle, star, hexagon)'
    )
    assert '--cfg-options model.roi_head.mask_head.num_classes=5' in text


def test_segmentation_head_classes_against_the_dataset(tmp_path):
    cfg = train_cfg(SEG_DEMO, tmp_path, {'model.decode_head.num_classes': 150, 'data_root': str(tmp_path / 'none')})
    found = problems(cfg, SEG_DEMO)
    assert 'The demo data are made by `python tools/make_demo_data.py ade --out data/synthetic_ade`' in found['data']
    text = found['classes']
    assert text.startswith('model.decode_head.num_classes=150, but the training dataset has 5 classes')
    assert 'model.decode_head.num_classes=5' in text


@pytest.fixture
def ade(synthetic_set):
    return synthetic_set('ade', num_train=2, num_val=1, image_size=32, seed=0)


def build_ade(root):
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    init_default_scope('mmseg')
    return DATASETS.build(
        dict(
            type='SyntheticADE20KDataset',
            data_root=root,
            data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
            pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', reduce_zero_label=True)],
        )
    )


def test_segmentation_label_out_of_range_and_size_mismatch(ade, tmp_path):
    import numpy as np
    from PIL import Image

    root = str(tmp_path / 'ade')
    shutil.copytree(ade, root)
    dataset = build_ade(root)
    label0, label1 = dataset.get_data_info(0)['seg_map_path'], dataset.get_data_info(1)['seg_map_path']
    Image.fromarray(np.full((32, 32), 9, np.uint8)).save(label0)  # 5 classes: 1..5 on disk
    with pytest.raises(
        ValueError,
        match=rf"label '{label0}' holds value\(s\) \[9\] outside the 5 classes.*Fix the "
        r'file, or set the dataset metainfo / num_classes',
    ):
        dataset[0]
    with Image.open(dataset.get_data_info(1)['img_path']) as img:
        w, h = img.size
    Image.fromarray(np.ones((h + 1, w), np.uint8)).save(label1)
    with pytest.raises(
        ValueError,
        match=rf"label '{label1}' is {h + 1}x{w} \(HxW\) but its image .* is {h}x{w}: a "
        r"label must have its image's size",
    ):
        dataset[1]


def test_segmentation_corrupt_image_names_the_file(ade, tmp_path):
    root = str(tmp_path / 'ade')
    shutil.copytree(ade, root)
    dataset = build_ade(root)
    image = dataset.get_data_info(0)['img_path']
    with open(image, 'wb') as f:
        f.write(b'not a jpeg')
    with pytest.raises(
        ValueError,
        match=rf"image '{image}' cannot be decoded \(UnidentifiedImageError\): the file "
        r'is corrupt or not an image\. Replace it',
    ):
        dataset[0]


def test_classification_head_against_the_class_folders(tmp_path):
    from convnext_dense.datasets.synthetic import generate_imagefolder

    data = str(tmp_path / 'cls')
    generate_imagefolder(data, num_classes=3, num_train_per_class=1, num_val_per_class=1, image_size=16)
    cfg = train_cfg(CLS_DEMO, tmp_path, {'data_root': data})
    text = problems(cfg, CLS_DEMO)['classes']
    assert text.startswith('model.num_classes=13, but the training dataset has 3 classes')
    assert '--cfg-options model.num_classes=3' in text


# --------------------------------------------------------------------------------- --cfg-options
@pytest.mark.parametrize('config', [DET, CLS])  # train_cfg with a type (EpochBasedTrainLoop) and without
def test_misspelt_cfg_option_suggests_the_existing_key(config):
    with pytest.raises(ValueError) as info:
        load_config(config, {'train_cfg.max_epoch': 1})
    message = str(info.value)
    assert message.startswith(
        "--cfg-options train_cfg.max_epoch=1: the config has no key 'max_epoch' under "
        'train_cfg (EpochBasedTrainLoop)'
    )
    assert 'Did you mean train_cfg.max_epochs?' in message and '+train_cfg.max_epoch=1' in message


def test_cfg_options_other_mistakes():
    with pytest.raises(
        ValueError, match=r"no key 'train_cfgg' at the top level.*Did you mean " r'train_cfg\.max_epochs'
    ):
        load_config(DET, {'train_cfgg.max_epochs': 1})
    with pytest.raises(ValueError, match=r'model\.roi_head\.bbox_head has only 3 items \(indices 0\.\.2\)'):
        load_config(DET, {'model.roi_head.bbox_head.3.num_classes': 1})
    with pytest.raises(ValueError, match=r"model\.backbone\.arch is 'tiny' \(a str\), not a dict"):
        load_config(DET, {'model.backbone.arch.depths': [1, 1, 1, 1]})


def test_cfg_options_that_add_keys_on_purpose():
    cfg = load_config(
        DET,
        {
            'model.backbone.with_cp': True,  # an argument of ConvNeXt the config does not set
            'optim_wrapper.clip_grad.max_norm': 1.0,  # clip_grad: an argument of the optim wrapper, created here
            'randomness.seed': 0,  # an argument of mmengine's Runner
            'model.roi_head.bbox_head.0.num_classes': 3,  # list items by index
            '+my_note': 'kept',  # '+' adds any key
        },
    )
    assert cfg.model.backbone.with_cp is True and cfg.optim_wrapper.clip_grad == dict(max_norm=1.0)
    assert cfg.randomness.seed == 0 and cfg.model.roi_head.bbox_head[0].num_classes == 3 and cfg.my_note == 'kept'


# ------------------------------------------------------------------------------------ model, weights
def test_unknown_backbone_size(tmp_path):
    text = problems(train_cfg(DET, tmp_path, {'model.backbone.arch': 'tinyy'}), DET)['model']
    # the backbone's own check, run by building it on the meta device
    assert text.startswith("model.backbone: ConvNeXt: unknown arch 'tinyy'; choose one of")
    assert text.endswith("Did you mean 'tiny'?")


def test_backbone_size_that_does_not_fit_the_neck(tmp_path):
    text = problems(train_cfg(DET, tmp_path, {'model.backbone.arch': 'base'}), DET)['model']
    assert text.startswith(
        "model.neck.in_channels=[96, 192, 384, 768] but ConvNeXt arch 'base' gives " '[128, 256, 512, 1024] there'
    )
    assert '--cfg-options model.neck.in_channels=[128,256,512,1024]' in text


@pytest.mark.parametrize(
    'config, options, expected',
    [
        (
            'configs/segmentation/upernet_swin_t_512_160k_ade20k.py',
            {'model.decode_head.in_channels': [1, 2, 3, 4]},
            'model.decode_head.in_channels=[1, 2, 3, 4] but SwinTransformer gives [96, 192, 384, 768] there',
        ),
        (
            'configs/roadmap/mask_rcnn_roadmap_r50_1x.py',
            {'model.backbone.step': 'resnet'},
            'model.neck.in_channels=[96, 192, 384, 768] but ModernizedResNet gives [256, 512, 1024, 2048] there',
        ),
    ],
)
def test_any_backbone_that_declares_its_channels_is_checked_against_the_heads(config, options, expected, tmp_path):
    """The backbone is built on the meta device: the channels come from the backbone itself (Swin, the roadmap)."""
    text = problems(train_cfg(config, tmp_path, options), config)['model']
    assert text.startswith(expected), text


def test_missing_local_weights_say_how_to_get_them(tmp_path):
    cfg = train_cfg(DET, tmp_path, {'model.backbone.init_cfg.checkpoint': 'checkpoints/nothing_here.pth'})
    text = problems(cfg, DET)['weights']
    assert text.startswith(
        'the ImageNet weights checkpoints/nothing_here.pth (model.backbone.init_cfg.checkpoint) ' 'do not exist.'
    )
    assert f'python tools/download_weights.py {DET}' in text and 'model.backbone.init_cfg=None' in text


def test_file_that_is_not_a_checkpoint(tmp_path):
    from convnext_dense.models import ConvNeXt
    from convnext_dense.models.checkpoint import load_pretrained

    path = tmp_path / 'notes.pth'
    path.write_text('not a checkpoint')
    with pytest.raises(
        ValueError, match=rf"(?s)'{path}' is not a readable PyTorch checkpoint .* Expected a \.pth " r'file'
    ):
        load_pretrained(ConvNeXt(arch=dict(depths=[1, 1, 1, 1], dims=[8, 16, 32, 64])), str(path))


@pytest.fixture(scope='module')
def tiny_and_small(tmp_path_factory):
    """Official-layout checkpoints of ConvNeXt-T and -S (random weights) and a model of each size."""
    from convnext_dense.models import ConvNeXt

    folder = tmp_path_factory.mktemp('ckpt')
    out = {}
    for arch in ('tiny', 'small'):
        model = ConvNeXt(arch=arch, out_indices=(3,))
        path = str(folder / f'convnext_{arch}.pth')
        torch.save({'model': model.state_dict()}, path)
        out[arch] = (model, path)
    return out


def test_small_checkpoint_into_tiny_names_both_archs(tiny_and_small):
    """S has every weight of T and more blocks in stage 3: loading it into T must not pass silently."""
    from convnext_dense.models.checkpoint import load_pretrained

    (tiny, _), (_, small_path) = tiny_and_small['tiny'], tiny_and_small['small']
    with pytest.raises(ValueError, match=r"(?s)arch 'small'.*arch 'tiny'"):
        load_pretrained(tiny, small_path)


def test_tiny_checkpoint_into_small_names_both_archs(tiny_and_small):
    from convnext_dense.models.checkpoint import load_pretrained

    (_, tiny_path), (small, _) = tiny_and_small['tiny'], tiny_and_small['small']
    with pytest.raises(
        ValueError,
        match=r"(?s)backbone weights are missing.*The file holds arch 'tiny'.*the model is "
        r"arch 'small'.*Set model\.backbone\.arch",
    ):
        load_pretrained(small, tiny_path)


# -------------------------------------------------------------------------------- machine, work dir
def test_work_dir_that_cannot_be_written(tmp_path, monkeypatch):
    a_file = tmp_path / 'a_file'
    a_file.write_text('')
    cfg = train_cfg(CLS, tmp_path, work_dir=str(a_file / 'run'))
    assert problems(cfg, CLS)['work_dir'] == (
        f"work_dir '{a_file}/run' cannot be created: {a_file} is a file, not "
        f'a folder. Choose another with --work-dir PATH.'
    )
    locked = tmp_path / 'locked'
    locked.mkdir()
    cfg = train_cfg(CLS, tmp_path, work_dir=str(locked / 'run'))
    real_access = os.access
    monkeypatch.setattr(preflight_module.os, 'access', lambda p, m: False if p == str(locked) else real_access(p, m))
    text = problems(cfg, CLS)['work_dir']  # os.access, as root ignores permission bits
    assert text.startswith(f"work_dir '{locked}/run' is not writable (its parent {locked} does not allow writing")


def test_amp_flag_without_a_gpu(tmp_path):
    with pytest.raises(RuntimeError, match=r'--amp needs a CUDA GPU .* Drop --amp to train in fp32 on the CPU'):
        train_cfg(CLS, tmp_path, amp=True)


def test_paper_config_on_a_cpu(tmp_path, monkeypatch):
    """AMP is an error naming the fix; with it applied the run starts, and the 8-GPU batch is logged."""
    data = tmp_path / 'coco'
    for folder in ('annotations', 'train2017', 'val2017'):
        (data / folder).mkdir(parents=True)
    for split in ('train', 'val'):
        (data / 'annotations' / f'instances_{split}2017.json').write_text('{}')
    weights = tmp_path / 'w.pth'
    weights.write_bytes(b'')
    options = {'data_root': f'{data}/', 'model.backbone.init_cfg.checkpoint': str(weights)}
    text = problems(train_cfg(DET, tmp_path, options), DET)['device']
    assert text.startswith(
        "optim_wrapper.type='AmpOptimWrapper' (mixed precision, as the paper's configs are "
        'released) needs a CUDA GPU and none is visible.'
    )
    assert '--cfg-options optim_wrapper.type=OptimWrapper' in text and 'configs/*/demo/' in text
    logged = []
    monkeypatch.setattr(preflight_module, 'print_log', lambda msg, **kw: logged.append(msg))
    options['optim_wrapper.type'] = 'OptimWrapper'
    assert problems(train_cfg(DET, tmp_path, options), DET) == {}
    assert any(
        'a total batch of 16 images' in m and 'auto_scale_lr.enable=True' in m and 'SyncBN' in m for m in logged
    ), logged
