"""The sandbox's walls, put up as root by the process that becomes the sandbox (see zygote.py): fresh mount,
pid, network and IPC namespaces, the job's cgroup when there is one, a chroot, limits, then an unprivileged
uid.

The student's process sees a whitelisted root file system built on a tmpfs: the Python installation,
the virtualenv (with torch/TensorFlow/Keras/nbgrader hidden under empty tmpfs mounts) and its own job
directory (the harness, the stripped autograd_mini, the cases). The grader package, solutions/, tests/, the
course directory (gradebook, other submissions), .git and /root are simply not there. The network
namespace has only a loopback interface, left down: nothing is reachable, neither 127.0.0.1 of the host
nor its abstract unix sockets. System V shared memory, message queues and semaphores live in the job's
IPC namespace (capped by IPC_LIMITS) and die with it.
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


# per IPC namespace: SysV shared memory up to 64 MB in all (it outlives the process that made it, not the
# job), 16 message queues
IPC_LIMITS = {"shmmax": 64 << 20, "shmall": (64 << 20) // os.sysconf("SC_PAGE_SIZE"), "msgmni": 16}


def limit_ipc() -> None:
    for name, value in IPC_LIMITS.items():
        with open(f"/proc/sys/kernel/{name}", "w") as f:
            f.write(str(value))


def join_cgroup(directory: str) -> None:
    """Move this process (and so everything it starts) into the job's cgroup."""
    with open(os.path.join(directory, "cgroup.procs"), "w") as f:
        f.write("0")


def limit(memory_mb: int, cpu_seconds: int, processes: int = 64) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 2))
    resource.setrlimit(resource.RLIMIT_FSIZE, (32 << 20, 32 << 20))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))  # counts threads, for the uid
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the file-size cap fails, it does not kill


SANDBOX_ENV = {"PATH": "/usr/bin:/bin", "TMPDIR": "/tmp", "PYTHONDONTWRITEBYTECODE": "1", "OPENBLAS_NUM_THREADS": "1",
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "LANG": "C.UTF-8", "MPLBACKEND": "Agg"}


def enter(request: dict) -> str:
    """In the init of new mount, pid, network and IPC namespaces (zygote.py): cap IPC, build and enter the root,
    set the limits and become the sandbox's uid. Returns the work directory (the current directory now).
    ``request``: job_dir, read_only (host folders bound read-only at the same place), uid, memory_mb (per
    process), processes, cpu_seconds."""
    limit_ipc()
    job_dir = os.path.realpath(request["job_dir"])
    root = build_root(job_dir, request["read_only"])
    os.chroot(root)
    work = os.path.join(job_dir, "work")
    os.chdir(work)
    limit(request["memory_mb"], request["cpu_seconds"], request["processes"])
    os.setgroups([])
    os.setgid(65534)
    os.setuid(request["uid"])
    os.environ.clear()
    os.environ.update(SANDBOX_ENV, HOME=work)
    sys.dont_write_bytecode = True
    return work
