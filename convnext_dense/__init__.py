"""convnext_dense: ConvNeXt (V1 and V2) as a backbone for mmdet 3.x and mmseg 1.x, with its ImageNet pretraining.

``import convnext_dense`` (or ``custom_imports=dict(imports=['convnext_dense'])`` in a config)
registers everything the configs name:

* ``models``: the ``ConvNeXt`` backbone (once, in mmengine's root registry, which mmdet's and mmseg's
  scopes inherit), the ImageNet classifier and its data preprocessor, the instance TTA model;
* ``datasets``: the checked COCO / ADE20K datasets, the image-folder dataset; ``datasets.synthetic``
  makes the demo data;
* ``engine``: hooks (crash-safe checkpoints, exact resume, non-finite loss stop, EMA, COCO results
  paths), the atomic ``atomic_local`` file backend, the classifier's layer-decay optimiser constructor;
* ``evaluation``: top-k accuracy;
* ``apis``: what ``tools/*.py`` do between the command line and mmengine's Runner (config loading,
  preflight checks, distributed set-up, inference, FLOPs).
"""

from .version import __version__, check_mmcv  # noqa: F401  (__version__ is public)

check_mmcv()  # before mmdet and mmseg import it: a wrong mmcv is named, with the fix

from . import datasets, engine, evaluation, models  # noqa: E402, F401  (registration side effects)
from .models import ARCH_SETTINGS, ConvNeXt, convert_state_dict, load_pretrained  # noqa: E402, F401
