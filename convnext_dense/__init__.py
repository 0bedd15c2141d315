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

from . import datasets, engine, evaluation, models  # noqa: F401  (registration side effects)
from .models import ARCH_SETTINGS, ConvNeXt, convert_state_dict, load_pretrained  # noqa: F401
from .version import __version__  # noqa: F401
