"""Fine-tuning pieces: the authors' layer-wise lr decay, loading a released classifier, the 21K list file, 384 eval."""

import os.path as osp

import numpy as np
import pytest
import timm
import torch
from mmengine.optim import build_optim_wrapper
from PIL import Image

import convnext_dense  # noqa: F401  (registration)
from convnext_dense.datasets import ImageFolderDataset
from convnext_dense.errors import CheckpointError
from convnext_dense.models import ConvNeXtClassifier


# The authors' layer ids, transcribed from facebookresearch/ConvNeXt-V2 optim_factory.py (the V1 repository's
# get_num_layer_for_convnext is the same function): names without the "backbone." prefix.
def authors_layer_id_group(var_name):
    if var_name.startswith('downsample_layers'):
        stage_id = int(var_name.split('.')[1])
        return {0: 0, 1: 2, 2: 3, 3: 12}[stage_id]
    if var_name.startswith('stages'):
        stage_id, block_id = int(var_name.split('.')[1]), int(var_name.split('.')[2])
        return {0: 1, 1: 2, 2: 3 + block_id // 3, 3: 12}[stage_id]
    return 13


def authors_layer_id_single(var_name, depths):
    if var_name.startswith('downsample_layers'):
        return sum(depths[: int(var_name.split('.')[1])]) + 1
    if var_name.startswith('stages'):
        stage_id, block_id = int(var_name.split('.')[1]), int(var_name.split('.')[2])
        return sum(depths[:stage_id]) + block_id + 1
    return sum(depths) + 1


def _groups(model, paramwise_cfg, lr=1e-3, wd=0.05):
    wrapper = build_optim_wrapper(
        model,
        dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=lr, weight_decay=wd),
            constructor='ClsLayerDecayOptimWrapperConstructor',
            paramwise_cfg=paramwise_cfg,
        ),
    )
    lookup = {}
    for group in wrapper.optimizer.param_groups:
        for name in group['param_names']:
            assert name not in lookup
            lookup[name] = group
    return lookup


@pytest.mark.parametrize(
    'decay_type, depths',
    [('layer_wise', [3, 3, 9, 3]), ('layer_wise', [3, 3, 27, 3]), ('single', [2, 2, 6, 2]), ('single', [3, 3, 9, 3])],
)
def test_layer_decay_is_the_authors(decay_type, depths):
    """lr x decay ** (num_layers + 1 - id) with the authors' ids; no weight decay on 1-D params and biases."""
    model = ConvNeXtClassifier(
        dict(type='ConvNeXt', arch=dict(depths=depths, dims=[4, 8, 8, 8], grn=True), layer_scale_init_value=1e-6),
        num_classes=3,
    )
    rate = 0.8
    cfg = dict(decay_rate=rate, decay_type=decay_type)
    if decay_type == 'layer_wise':
        cfg['num_layers'] = 12
    lookup = _groups(model, cfg)
    named = dict(model.named_parameters())
    assert sorted(lookup) == sorted(named)
    for name, param in named.items():
        short = name[len('backbone.') :] if name.startswith('backbone.') else name
        if decay_type == 'layer_wise':
            layer, num_layers = authors_layer_id_group(short), 12
        else:
            layer, num_layers = authors_layer_id_single(short, depths), sum(depths)
        group = lookup[name]
        assert group['lr'] == pytest.approx(1e-3 * rate ** (num_layers + 1 - layer)), name
        no_decay = param.ndim == 1 or name.endswith('.bias')
        assert group['weight_decay'] == (0.0 if no_decay else 0.05), name
    assert lookup['head.fc.weight']['lr'] == pytest.approx(1e-3)  # the head trains at the full lr
    assert lookup['backbone.stages.0.0.grn.weight']['weight_decay'] == 0.0  # GRN, gamma: never decayed
    assert lookup['backbone.stages.0.0.gamma']['weight_decay'] == 0.0


def test_layer_decay_rejects_unknown_options():
    model = ConvNeXtClassifier(dict(type='ConvNeXt', arch=dict(depths=[1, 1, 1, 1], dims=[4, 8, 8, 8])), 3)
    with pytest.raises(ValueError, match='decay_type'):
        _groups(model, dict(decay_rate=0.8, decay_type='stage_wise', num_layers=12))
    with pytest.raises(ValueError, match='num_layers'):
        _groups(model, dict(decay_rate=0.8, decay_type='layer_wise'))
    with pytest.raises(ValueError, match='norm_decay_mult'):
        _groups(model, dict(decay_rate=0.8, decay_type='single', norm_decay_mult=0.0))


# ---------------------------------------------------------------------------------------------- fine-tuning
ARCH = dict(depths=[1, 1, 2, 1], dims=[8, 16, 32, 64])


def _timm_classifier_file(tmp_path, num_classes, key='model'):
    """A timm ConvNeXt classifier (timm's own module tree) with every tensor random, saved as {key: state_dict}."""
    net = timm.models.convnext.ConvNeXt(depths=ARCH['depths'], dims=ARCH['dims'], num_classes=num_classes)
    g = torch.Generator().manual_seed(num_classes)
    sd = {k: torch.randn(v.shape, generator=g) for k, v in net.state_dict().items()}
    path = str(tmp_path / f'timm_{num_classes}.pth')
    torch.save({key: sd}, path)
    return path, sd


def _classifier(num_classes, path, **finetune):
    model = ConvNeXtClassifier(
        dict(type='ConvNeXt', arch=dict(ARCH)),
        num_classes=num_classes,
        head_init_scale=0.001,
        finetune=dict(checkpoint=path, **finetune),
    )
    model.init_weights()
    return model


def test_finetune_from_a_22k_style_checkpoint_drops_its_head(tmp_path):
    """As the release's --finetune: backbone and final norm from the file, a fresh 0.001-scaled head."""
    path, sd = _timm_classifier_file(tmp_path, num_classes=11)
    model = _classifier(5, path)
    own = model.state_dict()
    assert torch.equal(own['backbone.stages.2.1.pwconv1.weight'], sd['stages.2.blocks.1.mlp.fc1.weight'])
    assert torch.equal(own['backbone.downsample_layers.0.0.weight'], sd['stem.0.weight'])
    assert torch.equal(own['backbone.stages.3.0.gamma'], sd['stages.3.blocks.0.gamma'])
    assert torch.equal(own['head.norm.weight'], sd['head.norm.weight'])
    assert 1e-5 < own['head.fc.weight'].std() < 4e-5  # normal(std 0.02) x head_init_scale 0.001
    assert torch.equal(own['head.fc.bias'], torch.zeros(5))
    timm_params = {k for k in sd if not k.startswith('head.fc')}
    assert len(timm_params) == len([k for k in own if not k.startswith('head.fc')])  # every other tensor used


def test_finetune_keeps_a_matching_head_unless_told(tmp_path):
    path, sd = _timm_classifier_file(tmp_path, num_classes=5)
    assert torch.equal(_classifier(5, path).state_dict()['head.fc.weight'], sd['head.fc.weight'])
    fresh = _classifier(5, path, keep_head=False).state_dict()['head.fc.weight']
    assert not torch.equal(fresh, sd['head.fc.weight']) and fresh.abs().max() < 1e-4


def test_finetune_reads_the_ema_of_a_checkpoint(tmp_path):
    _, sd = _timm_classifier_file(tmp_path, num_classes=5)
    ema = {k: v + 1 for k, v in sd.items()}
    path = str(tmp_path / 'both.pth')
    torch.save({'model': sd, 'model_ema': ema}, path)
    key = 'backbone.stages.1.0.dwconv.weight'
    assert torch.equal(_classifier(5, path, use_ema=True).state_dict()[key], ema['stages.1.blocks.0.conv_dw.weight'])
    assert torch.equal(_classifier(5, path).state_dict()[key], sd['stages.1.blocks.0.conv_dw.weight'])


def test_finetune_from_another_size_is_an_error(tmp_path):
    path, _ = _timm_classifier_file(tmp_path, num_classes=5)
    model = ConvNeXtClassifier(
        dict(type='ConvNeXt', arch=dict(depths=[1, 1, 3, 1], dims=ARCH['dims'])), 5, finetune=dict(checkpoint=path)
    )
    with pytest.raises(ValueError, match=r'stages\.2\.2.*does not fit|missing.*stages\.2\.2'):
        model.init_weights()
    with pytest.raises(ValueError, match='finetune'):
        ConvNeXtClassifier(dict(type='ConvNeXt', arch=dict(ARCH)), 5, finetune=dict(path=path))


def test_finetune_shares_the_backbone_loaders_fit_check(tmp_path):
    """One fit check for both loaders: a larger file of the same widths (stage 2 of 2 blocks into 1) is an
    error naming both archs, as for load_pretrained, not a silent partial load."""
    path, _ = _timm_classifier_file(tmp_path, num_classes=5)
    model = ConvNeXtClassifier(
        dict(type='ConvNeXt', arch=dict(depths=[1, 1, 1, 1], dims=ARCH['dims'])), 5, finetune=dict(checkpoint=path)
    )
    with pytest.raises(
        CheckpointError,
        match=r"^ConvNeXtClassifier: fine-tuning checkpoint '.*' does not fit this ConvNeXt: its stages have "
        r"depths \(1, 1, 2, 1\), the model's \(1, 1, 1, 1\).*The file holds a custom arch",
    ):
        model.init_weights()


# ---------------------------------------------------------------------------------------------------- data
def test_ann_file_lists_the_images(tiny_folder, tmp_path):
    """ImageNet-21K style: a list file instead of a folder scan; labels as written, checked against classes."""
    ann = tmp_path / 'train.txt'
    ann.write_text('square/000001.jpg 7\ncircle/000000.jpg 3\n\n')
    ds = ImageFolderDataset(tiny_folder, 'train', transform=dict(input_size=32), ann_file=str(ann))
    assert len(ds) == 2
    assert [int(ds[i]['data_samples'].gt_label) for i in range(2)] == [7, 3]
    assert ds[0]['data_samples'].img_path == osp.join(tiny_folder, 'train', 'square', '000001.jpg')
    with pytest.raises(ValueError, match='label 7 but only 4 classes'):
        ImageFolderDataset(tiny_folder, 'train', ann_file=str(ann), classes=['a', 'b', 'c', 'd'])
    ann.write_text('square/000001.jpg\n')
    with pytest.raises(ValueError, match=r'train\.txt:1'):
        ImageFolderDataset(tiny_folder, 'train', ann_file=str(ann))


def test_384_evaluation_warps_the_whole_image(tmp_path):
    """crop_pct=1.0 + crop_mode='squash' (the 384 configs): a bicubic resize to 384x384, nothing cropped."""
    root = tmp_path / 'data'
    (root / 'val' / 'a').mkdir(parents=True)
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 256, (200, 500, 3), dtype=np.uint8))
    img.save(root / 'val' / 'a' / 'x.png')
    ds = ImageFolderDataset(
        str(root), 'val', transform=dict(input_size=384, crop_pct=1.0, crop_mode='squash', interpolation='bicubic')
    )
    out = ds[0]['inputs']
    assert tuple(out.shape) == (3, 384, 384)
    expected = np.asarray(img.resize((384, 384), Image.BICUBIC)).transpose(2, 0, 1)
    assert np.abs(out.numpy().astype(int) - expected.astype(int)).max() <= 1


# ------------------------------------------------------------------------------------------- the recipes
def _shrunk_runner_cfg(name, folder, work_dir):
    from mmengine.config import Config

    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    cfg = Config.fromfile(osp.join(root, 'configs', 'classification', name))
    cfg.work_dir = work_dir
    cfg.model.backbone.arch = dict(ARCH)
    cfg.optim_wrapper.type = 'OptimWrapper'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(key) is not None:
            cfg[key].update(batch_size=4, num_workers=0, persistent_workers=False, pin_memory=False)
            cfg[key].dataset.update(data_root=folder)
            cfg[key].dataset.transform.input_size = 32
    if cfg.get('val_evaluator') is not None:
        cfg.val_evaluator = cfg.test_evaluator = dict(type='TopKAccuracy', topk=(1,))
    cfg.train_cfg.max_epochs = 1
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True, begin=0, end=1)]
    cfg.default_hooks.logger.interval = 1
    cfg.env_cfg.dist_cfg = dict(backend='gloo')
    cfg.auto_scale_lr.enable = False  # the lr as written, whatever the test's batch
    return cfg


def test_22k_pretraining_then_finetuning_run_with_the_runner(tiny_folder, tmp_path):
    """convnext_b_in22k.py (list file, no validation, no EMA) feeds convnext_b_in22k_ft_in1k_224.py."""
    from mmengine.runner import Runner

    ann = tmp_path / 'train.txt'
    ann.write_text(''.join(f'{c}/{i:06d}.jpg {2 * (c == "square")}\n' for c in ('circle', 'square') for i in range(4)))
    pre = _shrunk_runner_cfg('convnext_b_in22k.py', tiny_folder, str(tmp_path / 'pre'))
    pre.model.num_classes = 3
    pre.train_dataloader.dataset.ann_file = str(ann)
    Runner.from_cfg(pre).train()
    ckpt = torch.load(str(tmp_path / 'pre' / 'epoch_1.pth'), map_location='cpu', weights_only=False)
    assert 'ema_state_dict' not in ckpt and ckpt['state_dict']['head.fc.weight'].shape[0] == 3

    ft = _shrunk_runner_cfg('convnext_b_in22k_ft_in1k_224.py', tiny_folder, str(tmp_path / 'ft'))
    ft.model.num_classes = 2
    ft.model.finetune.checkpoint = str(tmp_path / 'pre' / 'epoch_1.pth')
    runner = Runner.from_cfg(ft)
    runner.train()
    model = runner.model
    assert model.head.fc.weight.shape[0] == 2
    groups = runner.optim_wrapper.optimizer.param_groups
    assert max(g['lr'] for g in groups) == pytest.approx(ft.optim_wrapper.optimizer.lr)  # head at full lr
    assert min(g['lr'] for g in groups) == pytest.approx(ft.optim_wrapper.optimizer.lr * 0.8**13)  # stem
