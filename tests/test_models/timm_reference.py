"""Randomised timm references and their weights in the other released layouts (used by the tests and conftest)."""

import re

import torch


def randomise_(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every parameter random values (layer-scale gammas too), so that equivalence tests are not
    hidden behind 1e-6 layer scales or zero-initialised GRN parameters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            scale = 0.5 if name.endswith(('gamma', 'grn.weight', 'grn.bias')) or p.dim() == 1 else 0.05
            p.copy_(torch.randn(p.shape, generator=g) * scale + (1.0 if name.endswith('norm.weight') else 0.0))
    return model.eval()


def timm_stage_features(model, x):
    """Outputs of every stage of a timm ConvNeXt (no final norm)."""
    feats, x = [], model.stem(x)
    for stage in model.stages:
        x = stage(x)
        feats.append(x)
    return feats


# docs/recipes.md "Checkpoint key formats", written out independently of convnext_dense's own mapping.
def timm_to_fb_key(key: str) -> str:
    key = re.sub(r'^stem\.', 'downsample_layers.0.', key)
    key = re.sub(r'^stages\.(\d+)\.downsample\.', r'downsample_layers.\1.', key)
    key = re.sub(r'^stages\.(\d+)\.blocks\.(\d+)\.', r'stages.\1.\2.', key)
    key = key.replace('.conv_dw.', '.dwconv.').replace('.mlp.fc1.', '.pwconv1.').replace('.mlp.fc2.', '.pwconv2.')
    key = key.replace('.mlp.grn.weight', '.grn.gamma').replace('.mlp.grn.bias', '.grn.beta')
    key = key.replace('head.norm.', 'norm.').replace('head.fc.', 'head.')
    return key


def fb_to_mmpretrain_key(key: str) -> str:
    key = key.replace('.dwconv.', '.depthwise_conv.').replace('.pwconv1.', '.pointwise_conv1.')
    key = key.replace('.pwconv2.', '.pointwise_conv2.')
    key = re.sub(r'^norm\.', 'norm3.', key)
    key = re.sub(r'^head\.', 'head.fc.', key)
    return key if key.startswith('head.') else 'backbone.' + key


def fb_state_dict(timm_model) -> dict:
    """The timm weights in the official FB layout: V2 GRN as (1, 1, 1, C), pointwise layers as Linear
    (timm's small V2 models hold them as 1x1 convs)."""
    out = {}
    for k, v in timm_model.state_dict().items():
        k = timm_to_fb_key(k)
        if k.endswith(('.grn.gamma', '.grn.beta')):
            v = v.reshape(1, 1, 1, -1)
        elif k.endswith(('pwconv1.weight', 'pwconv2.weight')) and v.dim() == 4:
            v = v[:, :, 0, 0]
        out[k] = v
    return out


def mmpretrain_state_dict(timm_model) -> dict:
    """The timm weights in mmpretrain's classifier layout (GRN as (C,))."""
    return {fb_to_mmpretrain_key(k): v.reshape(-1) if '.grn.' in k else v for k, v in fb_state_dict(timm_model).items()}
