"""Released-weight URLs (convnext_dense.hub): downloaded once into torch hub's cache, atomically, read safely;
clear offline errors. The table of released files (convnext_dense.models.weights) and tools/download_weights.py.

A small HTTP server on 127.0.0.1 serves a randomised ConvNeXt of a tiny custom arch in the authors'
layout (``{'model': state_dict}``, made from timm's model by ``timm_reference.fb_state_dict``).
``TORCH_HOME`` points at a temporary folder, so the user's cache is never touched.
"""

import glob
import hashlib
import http.server
import io
import os
import os.path as osp
import runpy
import socket
import sys
import threading
import urllib.request

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS
from timm.models.convnext import ConvNeXt as TimmConvNeXt
from timm_reference import fb_state_dict, randomise_

import convnext_dense  # noqa: F401  (registers ConvNeXt)
from convnext_dense import hub
from convnext_dense.errors import UserError
from convnext_dense.models import ARCH_SETTINGS
from convnext_dense.models import weights as W

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = dict(depths=[1, 1, 2, 1], dims=[8, 16, 24, 32])
OPTION = '--cfg-options model.backbone.init_cfg.checkpoint=/path/to/'


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``files``; ``mode`` 'ok', 'long_header' (Content-Length larger than the body) or
    'close_mid' (half the body, then the connection closes); 'no_head': HEAD is not served (501), as on
    some servers. HTTP/1.0: one request per connection. ``requests`` records the GETs (the downloads)."""

    files = {}
    mode = 'ok'
    requests = []

    def _headers(self):
        """The headers of the file at ``self.path`` (GET and HEAD alike); its body, or None after a 404."""
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return None
        self.send_response(200)
        self.send_header('Content-Type', 'application/octet-stream')
        self.send_header('Content-Length', str(len(body) + (1000 if self.mode == 'long_header' else 0)))
        self.end_headers()
        return body

    def do_HEAD(self):  # noqa: N802 (http.server's name)
        if self.mode == 'no_head':
            self.send_error(501)
            return
        self._headers()

    def do_GET(self):  # noqa: N802 (http.server's name)
        type(self).requests.append(self.path)
        body = self._headers()
        if body is not None:
            self.wfile.write(body[: len(body) // 2] if self.mode == 'close_mid' else body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope='module')
def fb_checkpoint():
    """(bytes of a torch.save'd {'model': ...} in the authors' layout, that state dict)."""
    timm_model = randomise_(TimmConvNeXt(depths=TINY['depths'], dims=TINY['dims'], num_classes=5), seed=3)
    state = fb_state_dict(timm_model)
    buffer = io.BytesIO()
    torch.save({'model': state}, buffer)
    return buffer.getvalue(), state


@pytest.fixture
def server(fb_checkpoint, monkeypatch):
    monkeypatch.setenv('no_proxy', '127.0.0.1,localhost')
    monkeypatch.setenv('NO_PROXY', '127.0.0.1,localhost')
    handler = type(
        'Handler',
        (_Handler,),
        dict(files={'/convnext/convnext_custom_1k_224.pth': fb_checkpoint[0]}, mode='ok', requests=[]),
    )
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs=dict(poll_interval=0.02), daemon=True)
    thread.start()
    handler.base = f'http://127.0.0.1:{httpd.server_address[1]}'
    yield handler
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    return tmp_path / 'torch_home' / 'hub' / 'checkpoints'


def _build(url):
    """A backbone built from a config dict, weights loaded as mmdet/mmseg do (``init_weights``)."""
    net = MODELS.build(
        dict(
            type='ConvNeXt',
            arch=dict(TINY),
            layer_scale_init_value=1.0,
            out_norm=False,
            init_cfg=dict(type='Pretrained', checkpoint=url),
        )
    )
    net.init_weights()
    return net


def _assert_loaded(net, state):
    own = net.state_dict()
    assert own, 'empty backbone'
    for key, value in own.items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0, msg=key)


# ------------------------------------------------------------------------------- download and cache
def test_first_build_downloads_once_and_second_reads_the_cache(server, torch_home, fb_checkpoint, monkeypatch):
    url = server.base + '/convnext/convnext_custom_1k_224.pth'
    net = _build(url)
    assert server.requests == ['/convnext/convnext_custom_1k_224.pth']
    _assert_loaded(net, fb_checkpoint[1])
    assert os.listdir(torch_home) == ['convnext_custom_1k_224.pth']  # no temporary file left beside it
    with open(torch_home / 'convnext_custom_1k_224.pth', 'rb') as f:
        assert f.read() == fb_checkpoint[0]

    def no_network(*args, **kwargs):
        raise AssertionError('the cached file must be read without network access')

    monkeypatch.setattr(urllib.request, 'urlopen', no_network)
    again = _build(url)
    assert len(server.requests) == 1
    _assert_loaded(again, fb_checkpoint[1])


def test_downloaded_file_is_read_with_the_safe_loader(server, torch_home, monkeypatch):
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get('weights_only'))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, 'load', spy)
    _build(server.base + '/convnext/convnext_custom_1k_224.pth')
    assert calls == [True]


def test_downloaded_pickle_with_code_is_refused(server, torch_home):
    """weights_only=True: a downloaded file that would run code on load is an error, not executed."""
    buffer = io.BytesIO()
    torch.save({'model': {}, 'evil': _Handler}, buffer)  # a class reference: refused by the safe unpickler
    server.files = {'/x/evil.pth': buffer.getvalue()}
    with pytest.raises(ValueError, match=r'weights_only=True.*delete it'):
        _build(server.base + '/x/evil.pth')


@pytest.mark.parametrize('mode', ['long_header', 'close_mid'])
def test_truncated_download_raises_and_leaves_nothing_in_the_cache(server, torch_home, mode):
    server.mode = mode
    url = server.base + '/convnext/convnext_custom_1k_224.pth'
    with pytest.raises(hub.WeightsDownloadError, match=r'cut off: \d+ of \d+ bytes') as info:
        _build(url)
    assert url in str(info.value)
    assert not torch_home.exists() or os.listdir(torch_home) == []  # no partial file, no temporary file
    server.mode = 'ok'  # the next run downloads it completely
    assert osp.getsize(hub.fetch(url, progress=False)) == len(server.files['/convnext/convnext_custom_1k_224.pth'])


def test_hash_prefix_in_the_file_name_is_checked(server, torch_home, fb_checkpoint):
    digest = hashlib.sha256(fb_checkpoint[0]).hexdigest()
    server.files = {f'/w/tiny-{digest[:8]}.pth': fb_checkpoint[0], '/w/tiny-00000000.pth': fb_checkpoint[0]}
    with pytest.raises(hub.WeightsDownloadError, match='SHA-256'):
        hub.fetch(server.base + '/w/tiny-00000000.pth', progress=False)
    assert os.listdir(torch_home) == []
    path = hub.fetch(server.base + f'/w/tiny-{digest[:8]}.pth', progress=False)
    assert os.listdir(torch_home) == [f'tiny-{digest[:8]}.pth'] and osp.isfile(path)


def test_unreachable_url_names_url_cache_file_and_the_offline_option(torch_home):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    url = f'http://127.0.0.1:{port}/convnext/convnext_tiny_1k_224.pth'
    with pytest.raises(hub.WeightsDownloadError) as info:
        _build(url)
    message = str(info.value)
    assert url in message
    assert str(torch_home / 'convnext_tiny_1k_224.pth') in message
    assert OPTION + 'convnext_tiny_1k_224.pth' in message
    assert 'tools/download_weights.py' in message
    assert not torch_home.exists() or os.listdir(torch_home) == []


def test_http_error_names_the_status(server, torch_home):
    with pytest.raises(hub.WeightsDownloadError, match=r'HTTP 404.*' + OPTION.replace('.', r'\.') + 'missing.pth'):
        hub.fetch(server.base + '/missing.pth', progress=False)


def test_download_goes_through_torch_hub_and_leaves_no_global_timeout(server, torch_home, monkeypatch, fb_checkpoint):
    calls = []
    real = torch.hub.download_url_to_file

    def spy(url, dst, *args, **kwargs):
        calls.append(url)
        return real(url, dst, *args, **kwargs)

    monkeypatch.setattr(torch.hub, 'download_url_to_file', spy)
    url = server.base + '/convnext/convnext_custom_1k_224.pth'
    path = hub.fetch(url, progress=False)
    assert calls == [url] and open(path, 'rb').read() == fb_checkpoint[0]
    assert socket.getdefaulttimeout() is None  # the download's timeout was set for the download only


def test_a_server_that_does_not_serve_head_still_downloads(server, torch_home, fb_checkpoint):
    """No HEAD (501): no declared length to check against; the GET's complete file is cached."""
    server.mode = 'no_head'
    path = hub.fetch(server.base + '/convnext/convnext_custom_1k_224.pth', progress=False)
    assert open(path, 'rb').read() == fb_checkpoint[0] and server.requests == ['/convnext/convnext_custom_1k_224.pth']
    assert os.listdir(torch_home) == ['convnext_custom_1k_224.pth']


def test_download_errors_are_user_errors_and_the_tool_prints_them(server, torch_home, tmp_path, monkeypatch, capsys):
    assert issubclass(hub.WeightsDownloadError, UserError) and issubclass(hub.WeightsDownloadError, RuntimeError)
    config = tmp_path / 'cfg.py'
    config.write_text(f"model = dict(backbone=dict(init_cfg=dict(checkpoint='{server.base}/missing.pth')))\n")
    code, out = _tool(monkeypatch, capsys, str(config), '--no-progress')
    assert code == 2 and out.err.startswith('error: Downloading ') and 'HTTP 404' in out.err


def test_local_path_still_loads(tmp_path, fb_checkpoint):
    path = tmp_path / 'local.pth'
    path.write_bytes(fb_checkpoint[0])
    _assert_loaded(_build(str(path)), fb_checkpoint[1])


# ------------------------------------------------------------------------------------- the table
def test_table_entries_are_consistent():
    assert len(W.RELEASED_WEIGHTS) >= 50
    for name, w in W.RELEASED_WEIGHTS.items():
        assert w.arch in ARCH_SETTINGS, name
        size = w.arch.replace('v2-', '')
        assert name.startswith(('convnextv2_' if w.arch.startswith('v2-') else 'convnext_') + size + '_'), name
        assert osp.splitext(hub.file_name(w.url))[0] == name and w.url.startswith('https://dl.fbaipublicfiles.com/')
        assert f'_{w.resolution}' in name and ('_ema' in name) == w.ema
        assert w.top1 is None or 70 < w.top1 < 90
    assert W.released('convnext_tiny_1k_224').url == 'https://dl.fbaipublicfiles.com/convnext/convnext_tiny_1k_224.pth'
    assert W.released('convnextv2_tiny_1k_224_fcmae').data == 'FCMAE'


def _paper_configs():
    """The paper's heads (Mask R-CNN, Cascade, UperNet); the other heads: tests/test_configs/test_other_heads.py."""
    paths = []
    for task in ('detection', 'segmentation'):
        paths += sorted(glob.glob(osp.join(ROOT, 'configs', task, '*.py')))
    return [p for p in paths if osp.basename(p).startswith(('mask_rcnn_', 'cascade_', 'upernet_'))]


PAPER_CONFIGS = _paper_configs()


def test_paper_configs_are_found():
    assert len(PAPER_CONFIGS) >= 20


@pytest.mark.parametrize('path', PAPER_CONFIGS, ids=lambda p: osp.relpath(p, osp.join(ROOT, 'configs')))
def test_paper_config_names_the_release_url_of_its_arch(path):
    name = osp.basename(path)
    cfg = Config.fromfile(path)
    backbone = cfg.model.backbone
    assert W.config_urls(cfg) == [backbone.init_cfg.checkpoint]
    url = backbone.init_cfg.checkpoint
    if backbone.type == 'SwinTransformer':  # the comparison configs: mmdet's / mmseg's upstream URLs
        size = {6: 'tiny', 18: 'small'}[backbone.depths[2]]
        assert url.startswith('https://') and f'/swin_{size}_patch4_window7_224' in url
        return
    entry = W.released(url)
    assert entry is not None, f'{name}: {url} is not in the table of released weights'
    assert entry.arch == backbone.arch, f'{name}: a {backbone.arch} config names {entry.name}'
    expected = 'FCMAE -> IN-1K' if entry.arch.startswith('v2-') else 'IN-22K' if 'in22k' in name else 'IN-1K'
    assert entry.data == expected
    assert entry.resolution == 224 and (entry.ema == entry.arch.startswith('v2-'))  # V1: non-EMA, as released


# ------------------------------------------------------------------------------------------ the tool
def _tool(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, 'argv', ['download_weights.py', *args])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(osp.join(ROOT, 'tools', 'download_weights.py'), run_name='__main__')
    return info.value.code, capsys.readouterr()


def test_tool_lists_the_table(monkeypatch, capsys):
    code, out = _tool(monkeypatch, capsys, '--list')
    assert code == 0
    for w in W.RELEASED_WEIGHTS.values():
        assert w.name in out.out and w.url in out.out


def test_tool_downloads_what_a_config_needs(server, torch_home, tmp_path, monkeypatch, capsys, fb_checkpoint):
    url = server.base + '/convnext/convnext_custom_1k_224.pth'
    config = tmp_path / 'cfg.py'
    config.write_text(
        f"model = dict(backbone=dict(type='ConvNeXt', init_cfg=dict(type='Pretrained', " f"checkpoint='{url}')))\n"
    )
    code, out = _tool(monkeypatch, capsys, str(config))
    assert code == 0 and server.requests == ['/convnext/convnext_custom_1k_224.pth']
    assert (torch_home / 'convnext_custom_1k_224.pth').read_bytes() == fb_checkpoint[0]
    code, out = _tool(monkeypatch, capsys, str(config), '--out-dir', str(tmp_path / 'elsewhere'))
    assert code == 0 and len(server.requests) == 2
    assert (tmp_path / 'elsewhere' / 'convnext_custom_1k_224.pth').read_bytes() == fb_checkpoint[0]
    assert OPTION.replace('/path/to/', str(tmp_path / 'elsewhere') + '/') in out.out


def test_tool_rejects_an_unknown_name(monkeypatch, capsys):
    code, out = _tool(monkeypatch, capsys, '--name', 'convnext_tiny_1k_999')
    assert code != 0 and 'convnext_tiny_1k_224' in out.err  # suggests the close names


def test_config_checkpoints_gives_the_option_key_of_each_url():
    cfg = Config(
        dict(
            model=dict(
                backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='https://h/a.pth')),
                finetune=dict(checkpoint='http://h/b.pth'),
                neck=dict(init_cfg=dict(checkpoint='local.pth')),
            )
        )
    )
    assert W.config_checkpoints(cfg) == [
        ('model.backbone.init_cfg.checkpoint', 'https://h/a.pth'),
        ('model.finetune.checkpoint', 'http://h/b.pth'),
    ]
