"""ConvNeXtClassifier: forward modes, losses, head init, backbone contract, and timm's logits."""

import pytest
import timm
import torch
import torch.nn.functional as F
from mmengine.structures import BaseDataElement

from convnext_dense.models import ConvNeXtClassifier, to_classifier_state_dict


def _samples(labels, scores=None):
    out = []
    for i, label in enumerate(labels):
        s = BaseDataElement()
        s.gt_label = torch.tensor(label)
        if scores is not None:
            s.gt_score = scores[i]
        out.append(s)
    return out


def test_tensor_mode_gives_logits(tiny_backbone):
    model = ConvNeXtClassifier(tiny_backbone, num_classes=5)
    assert model(torch.rand(3, 3, 65, 47), mode='tensor').shape == (3, 5)


def test_loss_mode_is_label_smoothing_ce_on_hard_labels(tiny_backbone):
    model = ConvNeXtClassifier(tiny_backbone, num_classes=5, label_smoothing=0.1).eval()
    x, labels = torch.rand(4, 3, 32, 32), [0, 3, 4, 3]
    logits = model(x, mode='tensor')
    logp = F.log_softmax(logits, dim=1)
    expected = (-0.9 * logp[torch.arange(4), torch.tensor(labels)] - 0.1 * logp.mean(dim=1)).mean()
    loss = model(x, _samples(labels), mode='loss')['loss']
    torch.testing.assert_close(loss, expected)
    plain = ConvNeXtClassifier(tiny_backbone, num_classes=5, label_smoothing=0.0).eval()
    plain.load_state_dict(model.state_dict())
    torch.testing.assert_close(
        plain(x, _samples(labels), mode='loss')['loss'], F.cross_entropy(logits, torch.tensor(labels))
    )


def test_loss_mode_uses_soft_targets_when_present(tiny_backbone):
    model = ConvNeXtClassifier(tiny_backbone, num_classes=5).eval()
    x = torch.rand(2, 3, 32, 32)
    soft = torch.tensor([[0.6, 0.4, 0.0, 0.0, 0.0], [0.0, 0.0, 0.25, 0.0, 0.75]])
    logp = F.log_softmax(model(x, mode='tensor'), dim=1)
    loss = model(x, _samples([0, 4], soft), mode='loss')['loss']
    torch.testing.assert_close(loss, -(soft * logp).sum(dim=1).mean())
    loss.backward()
    assert model.head.fc.weight.grad is not None and model.backbone.stages[0][0].dwconv.weight.grad is not None


def test_predict_mode_sets_scores_and_labels(tiny_backbone):
    model = ConvNeXtClassifier(tiny_backbone, num_classes=5).eval()
    x = torch.rand(3, 3, 32, 32)
    logits = model(x, mode='tensor')
    out = model(x, _samples([1, 2, 3]), mode='predict')
    assert [int(s.gt_label) for s in out] == [1, 2, 3]
    scores = torch.stack([s.pred_score for s in out])
    torch.testing.assert_close(scores, logits.softmax(dim=1))
    assert [int(s.pred_label) for s in out] == logits.argmax(dim=1).tolist()
    assert len(model(x, mode='predict')) == 3  # without data samples
    with pytest.raises(ValueError, match="mode='bogus'"):
        model(x, mode='bogus')


def test_head_init_scale_multiplies_the_initial_classifier(tiny_backbone):
    heads = []
    for scale in (1.0, 1e-3):
        torch.manual_seed(0)
        model = ConvNeXtClassifier(tiny_backbone, num_classes=7, head_init_scale=scale)
        torch.manual_seed(1)
        model.init_weights()  # what the Runner calls
        heads.append(model.head.fc.weight.detach().clone())
    assert heads[0].abs().max() > 0
    torch.testing.assert_close(heads[1], heads[0] * 1e-3)
    assert 0.01 < heads[0].std() < 0.03  # truncated normal, std 0.02


@pytest.mark.parametrize(
    'override, match',
    [(dict(out_norm=True), 'out_norm must be False'), (dict(out_indices=(0, 1, 2, 3)), 'last stage only')],
)
def test_backbone_must_return_the_last_stage_without_out_norm(tiny_backbone, override, match):
    with pytest.raises(ValueError, match=match):
        ConvNeXtClassifier({**tiny_backbone, **override}, num_classes=3)


def test_preprocessor_num_classes_comes_from_the_model(tiny_backbone):
    model = ConvNeXtClassifier(
        tiny_backbone, num_classes=6, data_preprocessor=dict(type='ClsDataPreprocessor', mixup=dict(mixup_alpha=0.8))
    )
    assert model.data_preprocessor.num_classes == 6 and model.data_preprocessor.mixup.num_classes == 6
    with pytest.raises(ValueError, match='num_classes=6 but data_preprocessor.num_classes=4'):
        ConvNeXtClassifier(
            tiny_backbone, num_classes=6, data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=4)
        )


def _randomise_(model, seed):
    """Random values everywhere (gammas and norms too), so that 1e-6 layer scales hide nothing."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            scale = 0.5 if p.dim() == 1 else 0.05
            p.copy_(torch.randn(p.shape, generator=g) * scale + (1.0 if name.endswith('norm.weight') else 0.0))
    return model.eval()


@pytest.mark.parametrize('timm_name, arch', [('convnext_tiny', 'tiny'), ('convnextv2_atto', 'v2-atto')])
def test_logits_equal_timm_after_conversion(timm_name, arch):
    reference = _randomise_(timm.create_model(timm_name, pretrained=False, num_classes=11), seed=3)
    model = ConvNeXtClassifier(dict(type='ConvNeXt', arch=arch), num_classes=11).eval()
    model.load_state_dict(to_classifier_state_dict(reference.state_dict()), strict=True)
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        expected, got = reference(x), model(x, mode='tensor')
    assert expected.abs().max() > 1.0  # non-trivial logits
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
