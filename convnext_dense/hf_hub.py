"""Checkpoints named by a timm tag or a Hugging Face Hub repository instead of a path or URL.

A config's ``init_cfg`` may name weights the way timm and transformers users already do::

    init_cfg=dict(type='Pretrained', checkpoint='timm:convnext_base.fb_in22k_ft_in1k')   # a timm tag
    init_cfg=dict(type='Pretrained', checkpoint='hf-hub:facebook/convnext-base-224')      # a Hub repository

``timm:<model>.<tag>`` is resolved offline through timm's registry of pretrained configs
(``timm.models.get_pretrained_cfg``): a model name without a tag means timm's default tag for it, as
``timm.create_model(name, pretrained=True)`` does. It means the file timm itself loads for that tag:
``model.safetensors`` (else ``pytorch_model.bin``) of the tag's ``hf_hub_id`` repository, in timm's
key layout (timm's ``_resolve_pretrained_source`` and ``load_state_dict_from_hf`` choose the same
way; for the authors' weights timm's config also names the original file, which the messages show).
``hf-hub:<owner>/<name>[@<revision>]`` is the same two files of any Hub repository (timm's
``hf-hub:`` spelling), e.g. a transformers ``ConvNextModel`` / ``ConvNextV2Model`` checkpoint or a
DINOv3 ConvNeXt. :func:`fetch` downloads with ``huggingface_hub.hf_hub_download`` into the Hugging
Face cache (``$HF_HOME``, shared with timm and transformers), so a file either library already
fetched is reused and ``HF_HUB_OFFLINE=1`` works as it does for them. The key layouts are read by
:func:`convnext_dense.models.state_dict.convert_state_dict`.
"""

import difflib
from dataclasses import dataclass
from typing import Optional

from .errors import ConfigError
from .hub import WeightsDownloadError

TIMM_PREFIX = 'timm:'
HUB_PREFIX = 'hf-hub:'
# What timm (load_state_dict_from_hf) and transformers (from_pretrained) read from a repository, in order.
WEIGHT_FILES = ('model.safetensors', 'pytorch_model.bin')
_CONVNEXT_ARCHS = ('convnext_', 'convnextv2_')


@dataclass(frozen=True)
class HubWeights:
    """A checkpoint on the Hugging Face Hub, as a config names it.

    Attributes:
        name: the config's spelling (``timm:convnext_base.fb_in22k_ft_in1k``).
        repo_id: the Hub repository (``timm/convnext_base.fb_in22k_ft_in1k``).
        revision: a branch, tag or commit; None for the default branch.
        origin: where the weights were first published, when timm's config says (the authors' URL).
    """

    name: str
    repo_id: str
    revision: Optional[str] = None
    origin: Optional[str] = None

    def url(self, filename: str = WEIGHT_FILES[0]) -> str:
        """The download address of ``filename`` in the repository."""
        from huggingface_hub import hf_hub_url

        return hf_hub_url(self.repo_id, filename, revision=self.revision)

    def describe(self) -> str:
        """``<name> = <url> (or pytorch_model.bin there)``, plus the original file timm converted."""
        text = f'{self.name} = {self.url()} (or {WEIGHT_FILES[1]} there)'
        return text + (f', converted by timm from {self.origin}' if self.origin else '')


def is_hub_name(checkpoint) -> bool:
    """Whether a config's ``checkpoint`` is a ``timm:`` or ``hf-hub:`` name rather than a path or URL."""
    return isinstance(checkpoint, str) and checkpoint.startswith((TIMM_PREFIX, HUB_PREFIX))


def resolve(name: str) -> HubWeights:
    """The repository a ``timm:`` or ``hf-hub:`` name means; offline (timm's registry is local).

    Args:
        name: ``timm:<model>[.<tag>]`` or ``hf-hub:<owner>/<name>[@<revision>]``.

    Returns:
        The :class:`HubWeights`.

    Raises:
        ConfigError: an unknown timm model or tag (the message lists close ones), a timm model that is
            not a ConvNeXt, or a malformed repository id.

    Example:
        >>> resolve('timm:convnext_base.fb_in22k_ft_in1k').repo_id
        'timm/convnext_base.fb_in22k_ft_in1k'
        >>> resolve('hf-hub:facebook/convnextv2-tiny-1k-224').url()
        'https://huggingface.co/facebook/convnextv2-tiny-1k-224/resolve/main/model.safetensors'
    """
    if name.startswith(TIMM_PREFIX):
        return _resolve_timm(name)
    if not name.startswith(HUB_PREFIX):
        raise ConfigError(f'{name!r} is not a hub name; write timm:<model>.<tag> or hf-hub:<owner>/<name>')
    repo_id, _, revision = name[len(HUB_PREFIX) :].partition('@')
    owner, _, repo = repo_id.partition('/')
    if not owner or not repo or '/' in repo:
        raise ConfigError(
            f'{name!r}: a Hugging Face Hub repository is hf-hub:<owner>/<name>[@<revision>], e.g. '
            f'hf-hub:facebook/convnext-tiny-224'
        )
    return HubWeights(name, repo_id, revision or None)


def _resolve_timm(name: str) -> HubWeights:
    import timm
    from timm.models import get_pretrained_cfg

    model = name[len(TIMM_PREFIX) :]
    try:
        cfg = get_pretrained_cfg(model)
    except RuntimeError:  # a known model with an unknown tag; an unknown model gives None
        cfg = None
    if cfg is None:
        known = timm.list_pretrained('convnext*')
        close = difflib.get_close_matches(model, known, n=5, cutoff=0.5)
        raise ConfigError(
            f'{name!r} is not a pretrained model of timm {timm.__version__}. Close names: '
            f'{", ".join(TIMM_PREFIX + c for c in close) or "none"}; all of them: '
            f"python -c \"import timm; print(timm.list_pretrained('convnext*'))\""
        )
    if not cfg.architecture.startswith(_CONVNEXT_ARCHS):
        raise ConfigError(f'{name!r} is a timm {cfg.architecture!r}, not a ConvNeXt: name a convnext* model')
    if not cfg.hf_hub_id:
        raise ConfigError(
            f'{name!r}: timm publishes no Hugging Face Hub file for this tag'
            + (f'; give its URL instead: {cfg.url}' if cfg.url else '')
        )
    repo_id, _, revision = cfg.hf_hub_id.partition('@')
    return HubWeights(f'{TIMM_PREFIX}{cfg.architecture}.{cfg.tag}', repo_id, revision or None, cfg.url or None)


def cached(weights: HubWeights) -> Optional[str]:
    """The local copy of the weights in the Hugging Face cache, or None; never touches the network."""
    from huggingface_hub import try_to_load_from_cache

    for filename in WEIGHT_FILES:
        path = try_to_load_from_cache(weights.repo_id, filename, revision=weights.revision)
        if isinstance(path, str):
            return path
    return None


def fetch(weights: HubWeights, out_dir: Optional[str] = None) -> str:
    """The local copy of the weights, downloaded once with ``huggingface_hub.hf_hub_download``.

    Args:
        weights: as :func:`resolve` gives them.
        out_dir: download into this folder instead of the Hugging Face cache.

    Returns:
        The path of ``model.safetensors``, or of ``pytorch_model.bin`` where the repository has no
        safetensors file.

    Raises:
        WeightsDownloadError: neither file is cached and it cannot be downloaded (offline, unknown or
            gated repository): the message names the repository, the files and the offline option.
    """
    import huggingface_hub
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    missing = []
    for filename in WEIGHT_FILES:
        try:
            return huggingface_hub.hf_hub_download(
                weights.repo_id, filename, revision=weights.revision, local_dir=out_dir
            )
        except LocalEntryNotFoundError as e:  # offline and not cached (a subclass of the next one)
            raise WeightsDownloadError(_download_failed(weights, filename, e)) from e
        except EntryNotFoundError:  # the repository exists and has no such file: try the next one
            missing.append(filename)
        except Exception as e:  # noqa: BLE001 (offline, HTTP errors, a gated or unknown repository)
            raise WeightsDownloadError(_download_failed(weights, filename, e)) from e
    raise WeightsDownloadError(
        f'{weights.name}: the repository {weights.repo_id} has neither {" nor ".join(missing)}; '
        f'it holds no PyTorch weights this loader reads. Download the weights yourself and give their path.'
    )


def _download_failed(weights: HubWeights, filename: str, error: Exception) -> str:
    reason = str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
    return (
        f'Could not get {weights.name} ({weights.url(filename)}): {type(error).__name__}: {reason}. '
        f'Without network access, download it on a machine that is online (python tools/download_weights.py '
        f'--name {weights.name}, or huggingface-cli download {weights.repo_id} {filename}) and either copy the '
        f'Hugging Face cache over (HF_HOME) or give the file: --cfg-options '
        f'model.backbone.init_cfg.checkpoint=/path/to/{filename}'
    )
