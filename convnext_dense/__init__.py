"""convnext_dense: ConvNeXt (V1 and V2) as a backbone for mmdet 3.x and mmseg 1.x.

``import convnext_dense`` (or ``custom_imports=dict(imports=['convnext_dense'])`` in a config)
registers the ``ConvNeXt`` backbone in the mmdet, mmseg and mmengine registries, the checked and
synthetic datasets, the COCO results hook and the instance TTA model, and makes
mmengine's checkpoint loading work with torch >= 2.6.
"""
from . import classification as classification  # noqa: F401  (registers the ImageNet classifier)
from . import datasets, engine, models  # noqa: F401  (registration side effects: datasets, hooks, backbone)
from .models import ARCH_SETTINGS, ConvNeXt, convert_state_dict, load_pretrained  # noqa: F401
from .version import __version__  # noqa: F401
