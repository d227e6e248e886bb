"""Runs as root inside fresh mount, pid, network and IPC namespaces (``unshare --mount --pid --net --ipc
--fork``), joins the job's cgroup when there is one, then drops to an unprivileged uid and execs the program
(the runner).

The student's process sees a whitelisted root file system built on a tmpfs: the Python installation,
the virtualenv (with torch/TensorFlow/Keras/nbgrader hidden under empty tmpfs mounts) and its own job
directory (the harness, the stripped autograd_mini, the cases). The grader package, solutions/, tests/, the
course directory (gradebook, other submissions), .git and /root are simply not there. The network
namespace has only a loopback interface, left down: nothing is reachable, neither 127.0.0.1 of the host
nor its abstract unix sockets. System V shared memory, message queues and semaphores live in the job's
IPC namespace (capped by IPC_LIMITS) and die with it.

Usage: python -m grader.sandbox.enter --uid UID --memory-mb MB --processes N --cpu-seconds S
       [--cgroup DIR] --program PROGRAM JOB_DIR PATH [PATH...]
(--memory-mb is the address space of each process; PATHs: host directories to bind read-only at the
same place).
"""
from __future__ import annotations

import argparse
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


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m grader.sandbox.enter")
    for name in ("--uid", "--memory-mb", "--processes", "--cpu-seconds"):
        parser.add_argument(name, type=int, required=True)
    parser.add_argument("--cgroup")
    parser.add_argument("--program", required=True)
    parser.add_argument("job_dir")
    parser.add_argument("read_only", nargs="+")
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = parse(argv)
    if args.cgroup:
        join_cgroup(args.cgroup)
    limit_ipc()
    job_dir = os.path.realpath(args.job_dir)
    root = build_root(job_dir, args.read_only)
    os.chroot(root)
    work = os.path.join(job_dir, "work")
    os.chdir(work)
    limit(args.memory_mb, args.cpu_seconds, args.processes)
    os.setgroups([])
    os.setgid(65534)
    os.setuid(args.uid)
    env = {"PATH": "/usr/bin:/bin", "HOME": work, "TMPDIR": "/tmp", "PYTHONDONTWRITEBYTECODE": "1",
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "LANG": "C.UTF-8",
           "MPLBACKEND": "Agg"}
    os.execve(sys.executable, [sys.executable, "-s", "-E", args.program, work], env)


if __name__ == "__main__":
    main(sys.argv[1:])
