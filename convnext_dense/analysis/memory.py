"""Peak memory of one subject, measured alone in a fresh process.

Every subject (:mod:`convnext_dense.analysis.subjects`) is rebuilt from its spec in a subprocess
(:func:`worker_main`), so that no other subject's allocations, and no
allocator cache of an earlier one, can hide or inflate its peak. There, after the subject is built,
its :meth:`~convnext_dense.analysis.subjects.Subject.memory_run` (one inference and one training step;
a trained model: every loaded test image) is measured as

* on the CPU: the growth of the peak resident set over the built subject (Linux: the peak, VmHWM, is
  reset through ``/proc/self/clear_refs`` after building, so the imports' own peak cannot hide a small
  model's; elsewhere the growth of ``ru_maxrss``);
* on CUDA: ``torch.cuda.max_memory_allocated`` after a reset of the peak statistics;

and, for both, the process's whole peak resident set (framework and data included).
"""

import json
import os
import resource
import subprocess
import sys
from typing import Optional

import torch

__all__ = ['peak_memory', 'worker_main']


def peak_memory(spec: dict) -> dict:
    """Measure ``spec``'s subject in a fresh subprocess.

    Args:
        spec: a subject spec (:func:`~convnext_dense.analysis.subjects.build_subject`).

    Returns:
        ``dict(peak_mib, process_peak_mib)``: ``peak_mib`` is the growth of the peak resident set over
        the built subject (CPU) or CUDA's max allocated memory (CUDA), ``process_peak_mib`` the
        subprocess's whole peak resident set; MiB.
    """
    proc = subprocess.run(
        # -c, not -m: the package imports this module, and runpy warns when it runs one already imported
        [
            sys.executable,
            '-c',
            'from convnext_dense.analysis.memory import worker_main; worker_main()',
            json.dumps(spec),
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS=str(torch.get_num_threads())),
    )
    if proc.returncode != 0:
        raise RuntimeError(f'benchmark: memory of {spec} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _status_kib(field: str) -> Optional[int]:
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset the peak resident set (Linux); False where the kernel does not offer it."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def _measure(spec: dict) -> dict:
    """The worker: build the subject, reset the peaks, run it once, read the peaks."""
    from .subjects import build_subject

    torch.set_num_threads(max(1, int(os.environ.get('OMP_NUM_THREADS', '1'))))
    subject = build_subject(spec)
    cuda = subject.device.type == 'cuda'
    build_peak = _status_kib('VmHWM') or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if cuda:
        torch.cuda.synchronize(subject.device)
        torch.cuda.reset_peak_memory_stats(subject.device)
    reset = _reset_peak()
    base = _status_kib('VmRSS') if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    subject.memory_run()
    if cuda:
        torch.cuda.synchronize(subject.device)
    peak = _status_kib('VmHWM') if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    growth = torch.cuda.max_memory_allocated(subject.device) / 2**20 if cuda else (peak - base) / 1024
    return dict(peak_mib=growth, process_peak_mib=max(build_peak, peak) / 1024)


def worker_main():
    """The subprocess's entry: measure the spec given as JSON in ``sys.argv[1]``, print the result as JSON."""
    print(json.dumps(_measure(json.loads(sys.argv[1]))))
