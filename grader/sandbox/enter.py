"""Runs as root inside fresh mount and pid namespaces (``unshare --mount --pid --fork``), then drops
to an unprivileged uid and execs the runner.

The student's process sees a whitelisted root file system built on a tmpfs: the Python installation,
the virtualenv (with torch/TensorFlow/Keras/nbgrader hidden under empty tmpfs mounts), the grader
package (read-only), the stripped autograd_mini and its own job directory. solutions/, tests/, the
course directory (gradebook, other submissions), .git and /root are simply not there.

Usage: python -m grader.sandbox.enter JOB_DIR UID MEMORY_MB CPU_SECONDS PATH [PATH...]
(PATHs: host directories to bind read-only at the same place).
"""
from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
HIDDEN_PACKAGES = ("torch", "torchgen", "torchvision", "tensorflow", "keras", "tf_keras", "jax", "jaxlib", "nbgrader",
                   "functorch")
_libc = ctypes.CDLL(None, use_errno=True)


def _mount(source, target, fstype, flags, data=None):
    if _libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(), flags,
                   data and data.encode()) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} -> {target}: {os.strerror(err)}")


def _bind(host: str, root: str, writable: bool = False) -> None:
    target = root + host if not host.startswith(root) else host
    if os.path.isdir(host):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(host, target, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | (0 if writable else MS_RDONLY)
    _mount(None, target, None, flags)


def build_root(job_dir: str, read_only: list[str]) -> str:
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    root = os.path.join(job_dir, "root")
    os.makedirs(root, exist_ok=True)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=755")
    for path in read_only:
        if os.path.exists(path):
            _bind(path, root)
    for site in [p for p in read_only if p.endswith("site-packages")]:
        for name in HIDDEN_PACKAGES:
            target = root + os.path.join(site, name)
            if os.path.isdir(target):
                _mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=555")
    for dev in ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"):
        _bind(dev, root, writable=True)
    _bind(os.path.join(job_dir, "work"), root, writable=True)
    os.makedirs(root + "/tmp", exist_ok=True)
    os.chmod(root + "/tmp", 0o1777)
    return root


def limit(memory_mb: int, cpu_seconds: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 2))
    resource.setrlimit(resource.RLIMIT_FSIZE, (32 << 20, 32 << 20))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (64, 64))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the file-size cap fails, it does not kill


def main(argv: list[str]) -> None:
    job_dir, uid, memory_mb, cpu_seconds, *read_only = argv
    job_dir = os.path.realpath(job_dir)
    root = build_root(job_dir, read_only)
    os.chroot(root)
    work = os.path.join(job_dir, "work")
    os.chdir(work)
    limit(int(memory_mb), int(cpu_seconds))
    os.setgroups([])
    os.setgid(65534)
    os.setuid(int(uid))
    env = {"PATH": "/usr/bin:/bin", "HOME": work, "TMPDIR": "/tmp", "PYTHONDONTWRITEBYTECODE": "1",
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "LANG": "C.UTF-8",
           "MPLBACKEND": "Agg"}
    runner = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runner.py")
    os.execve(sys.executable, [sys.executable, "-s", "-E", runner, work], env)


if __name__ == "__main__":
    main(sys.argv[1:])
