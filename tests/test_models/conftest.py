"""Session fixtures: randomised timm ConvNeXt references."""

import pytest
import timm
from timm_reference import randomise_


@pytest.fixture(scope='session')
def timm_tiny():
    return randomise_(timm.create_model('convnext_tiny', pretrained=False))


@pytest.fixture(scope='session')
def timm_v2_atto():
    return randomise_(timm.create_model('convnextv2_atto', pretrained=False), seed=1)
