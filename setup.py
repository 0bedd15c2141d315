"""convnext_dense: ConvNeXt as a first-class backbone for mmdet 3.x and mmseg 1.x."""
import re
from pathlib import Path

from setuptools import find_packages, setup

version = re.search(r"__version__ = '([^']+)'",
                    Path(__file__).with_name('convnext_dense').joinpath('version.py').read_text()).group(1)

setup(
    name='convnext_dense',
    version=version,
    description='ConvNeXt backbones for detection, instance and semantic segmentation on OpenMMLab 2.x',
    long_description=Path(__file__).with_name('README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['convnext_dense', 'convnext_dense.*']),
    python_requires='>=3.9',
    # Exact versions live in requirements.txt; these are the loose requirements of the package.
    # torch: the tested range (requirements.txt pins 2.11.0). The CPU fast path calls oneDNN's private
    # torch.ops.mkldnn._linear_pointwise, whose signature may change in any torch release
    # (tests/test_models/test_fast_path.py checks it); widen the range once the tests pass on a newer torch.
    # timm: 1.0.17 is the first with the LayerNormFp32 / LayerNorm2dFp32 the backbone and the classifier use.
    install_requires=['torch>=2.11,<2.12', 'timm>=1.0.17', 'mmengine>=0.10,<0.11', 'mmcv>=2.0,<2.2',
                      'mmdet>=3.1,<3.4', 'mmsegmentation>=1.1,<1.3', 'pycocotools', 'ftfy', 'regex'],
    license='MIT',
)
