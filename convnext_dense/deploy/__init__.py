"""Deployment: export to ONNX (standard operators only), run in onnxruntime with PyTorch's results.

* :mod:`.export`: :func:`export_onnx` (``tools/export.py``), the metadata written into each file;
* the graphs, one module per model kind: :mod:`.classifier` (backbone alone, classifier),
  :mod:`.segmentor` (mmseg's EncoderDecoder; sliding windows on the host), :mod:`.detector` (Mask R-CNN,
  Cascade Mask R-CNN; masks pasted on the host), with :mod:`.preprocess` (normalisation, padding) and
  :mod:`.ops` (the operators with ONNX forms);
* :mod:`.checks`: what blocks an export, named by its config key;
* :mod:`.runtime`: onnxruntime sessions behind the PyTorch model's ``test_step``;
* :mod:`.compare` and :mod:`.evaluate`: output agreement and test-set metrics beside PyTorch's.

``docs/deploy.md`` has the commands and the measured agreement and speed.
"""

from .export import export_onnx, read_metadata
from .runtime import create_session, load_onnx_model

__all__ = ['export_onnx', 'read_metadata', 'create_session', 'load_onnx_model']
