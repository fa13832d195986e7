"""otter grade's grading image, built offline the way otter 7's ``otter/grade/Dockerfile`` and the
zip's ``setup.sh`` build it, for the container tests (``tests/test_containers.py``) and
``benchmarks/bench_gradescope.py``.

Nothing can be pulled here, so the base image is Debian bookworm made with ``debootstrap`` from
Debian's packages and ``docker import``ed. Each step of otter's Dockerfile is then run as written
(``docker run`` + ``docker commit``, so that the proxy's CA certificate and the local wheels are
mounted read-only for the build step alone), except for the downloads no one can make here:

* Miniforge and ``mamba env create -f environment.yml`` (GitHub, conda-forge): a venv of Debian's
  Python 3.11 at the same place, ``/root/miniforge3/envs/otter-env``, with the same pip packages;
  and a ``mamba`` that does what ``run_autograder`` asks of it (``shell hook``, ``activate``);
* PyTorch's own CPU index: the CPU wheel comes from ``$PIP_FIND_LINKS``, pinned by
  ``constraints.txt``;
* pandoc's .deb (GitHub), which otter's ``setup.sh`` fetches with the LaTeX packages for PDF export:
  ``otter grade``'s Dockerfile runs ``setup.sh`` before it adds ``otter_config.json``, so its test
  for PDF export (``jq -e`` on nothing) takes that branch; the LaTeX packages come from Debian;
* ``nb_conda_kernels`` (conda only) and Playwright's Chromium (PDF export, which this zip does not use).

``/root`` stays mode 700, as on Ubuntu. Images are cached by the hash of what they are built from.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import json
import tempfile
import time
import zipfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
BASE_IMAGE = "rnnlab-test/debian:bookworm"
ENV_IMAGE = "rnnlab-test/otter-env"
GRADE_IMAGE = "rnnlab-test/otter-grade"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
INSTALL_HINT = ("as root on Debian/Ubuntu: `apt-get install docker.io debootstrap` and start `dockerd` "
                "(`make test-docker` does both)")

# The zip's setup.sh up to this line runs as it is (apt packages, PDF tools if configured); what
# follows it downloads Miniforge and conda-forge packages, and is replaced by OFFLINE_ENVIRONMENT.
MINIFORGE_MARKER = "# install mamba"
MAMBA_STAND_IN = r"""#!/bin/bash
# Stand-in for Miniforge's mamba (built offline): the two calls otter's run_autograder makes.
if [ "$1 $2" = "shell hook" ]; then
  echo 'mamba() { if [ "$1" = activate ]; then source "/root/miniforge3/envs/$2/bin/activate"; else echo "mamba stand-in: only activate" >&2; return 1; fi; }'
else
  echo "mamba stand-in: only 'shell hook' is provided offline" >&2; exit 1
fi
"""
OFFLINE_ENVIRONMENT = """
# --- offline stand-in for Miniforge and `mamba env create -f environment.yml` (tests/grading_image.py)
apt-get install -y python3 python3-venv
python3 -m venv /root/miniforge3/envs/otter-env
/root/miniforge3/envs/otter-env/bin/pip install --no-cache-dir -c /context/constraints.txt -r /context/pip.txt
install -D -m 755 /context/mamba /root/miniforge3/bin/mamba
echo "export PATH=/root/miniforge3/bin:\\$PATH" >> /root/.bashrc
"""
# otter/grade/Dockerfile (otter-grader 7.0.0), step by step, for the environment image (each RUN a
# line that stops the build when it fails, as docker build does).
DOCKERFILE_STEPS = """set -uo pipefail
export DEBIAN_FRONTEND=noninteractive
{ apt-get update && apt-get install -y curl unzip dos2unix wget && apt-get clean && rm -rf /var/lib/apt/lists/* /var/tmp/*; } || exit 1
{ mkdir -p /autograder/source && mkdir -p /autograder/submission && mkdir -p /autograder/results; } || exit 1
cp /context/run_autograder /autograder/run_autograder || exit 1
cp /context/setup.sh /context/environment.yml /autograder/source/ || exit 1
{ dos2unix /autograder/run_autograder /autograder/source/setup.sh && chmod +x /autograder/run_autograder && \\
  apt-get update && bash /context/setup_offline.sh && apt-get clean && rm -rf /var/lib/apt/lists/* /tmp/* /var/tmp/*; } || exit 1
touch /autograder/submission_metadata.json || exit 1
chmod 700 /root
"""
# ...and its last three steps, once the environment exists: the zip's own files.
LATE_ADDS = (("otter_config.json", "source/otter_config.json"), ("run_otter.py", "source/run_otter.py"),
             ("files", "source/files"), ("tests", "source/tests"))


class DockerUnavailable(Exception):
    """Why no container can run here, with what to do."""


def docker(*args: str, check: bool = True, timeout: float = 1800, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and proc.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                           f"{proc.stderr[-3000:]}")
    return proc


def ensure_daemon(wait_s: float = 60) -> None:
    """A running Docker daemon: this one, or ``dockerd`` started here as root."""
    if shutil.which("docker") is None:
        raise DockerUnavailable(f"no docker command; {INSTALL_HINT}")
    if docker("info", check=False, timeout=60).returncode == 0:
        return
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        raise DockerUnavailable(f"the Docker daemon is not running and cannot be started here; {INSTALL_HINT}")
    log = open(Path(tempfile.gettempdir()) / "rnnlab-dockerd.log", "ab")
    subprocess.Popen(["dockerd"], stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + wait_s
    while docker("info", check=False, timeout=60).returncode != 0:
        if time.monotonic() > deadline:
            raise DockerUnavailable(f"dockerd did not start within {wait_s:.0f} s (see {log.name})")
        time.sleep(1)


def has_image(tag: str) -> bool:
    return docker("image", "inspect", tag, check=False).returncode == 0


def ensure_base_image() -> str:
    if has_image(BASE_IMAGE):
        return BASE_IMAGE
    if shutil.which("debootstrap") is None:
        raise DockerUnavailable(f"no base image can be pulled here and debootstrap is missing; {INSTALL_HINT}")
    with tempfile.TemporaryDirectory(prefix="rnnlab-rootfs-") as root:
        subprocess.run(["debootstrap", "--variant=minbase", "--include=ca-certificates", "bookworm", root,
                        DEBIAN_MIRROR], check=True, capture_output=True, timeout=1800)
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "-", BASE_IMAGE], stdin=tar.stdout, check=True, capture_output=True)
        tar.wait()
    return BASE_IMAGE


def pip_requirements(environment_yml: str) -> list[str]:
    """environment.yml's pip packages and conda's ``jupyter_server``, less PyPI-unreachable indexes."""
    spec = yaml.safe_load(environment_yml)
    pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda = [d for d in spec["dependencies"] if isinstance(d, str) and d.startswith("jupyter_server")]
    return conda + [line for line in pip if not line.startswith("--extra-index-url")]


GITHUB_DOWNLOAD = re.compile(r"^\s*wget [^\n]*https://github\.com/[^\n]*\\\n[^\n]*-O (\S+)\n", re.M)


def offline_setup(setup_sh: str) -> str:
    """The zip's setup.sh with its downloads from GitHub left out and OFFLINE_ENVIRONMENT for Miniforge."""
    if MINIFORGE_MARKER not in setup_sh:
        raise RuntimeError(f"otter's setup.sh no longer has {MINIFORGE_MARKER!r}: update tests/grading_image.py")
    apt_part = setup_sh.split(MINIFORGE_MARKER, 1)[0]
    for match in GITHUB_DOWNLOAD.finditer(apt_part):
        apt_part = apt_part.replace(match.group(0), "    # offline: not downloaded from GitHub\n")
        apt_part = re.sub(rf"^\s*dpkg -i {re.escape(match.group(1))}\n", "", apt_part, flags=re.M)
    return apt_part + OFFLINE_ENVIRONMENT


def digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def commit(container: str, tag: str) -> None:
    docker("commit", "--change", 'CMD ["/autograder/run_autograder"]', container, tag)
    docker("rm", container)


def ensure_env_image(zf: zipfile.ZipFile) -> str:
    """otter's Dockerfile up to ``touch /autograder/submission_metadata.json``."""
    members = {n: zf.read(n).decode() for n in ("run_autograder", "setup.sh", "environment.yml")}
    context_files = {**members, "setup_offline.sh": offline_setup(members["setup.sh"]),
                     "pip.txt": "\n".join(pip_requirements(members["environment.yml"])) + "\n",
                     "constraints.txt": (REPO / "constraints.txt").read_text(), "mamba": MAMBA_STAND_IN,
                     "steps.sh": DOCKERFILE_STEPS}
    tag = f"{ENV_IMAGE}:{digest(*(f'{k}={v}' for k, v in sorted(context_files.items())))}"
    if has_image(tag):
        return tag
    base = ensure_base_image()
    with tempfile.TemporaryDirectory(prefix="rnnlab-context-") as context:
        for name, text in context_files.items():
            (Path(context) / name).write_text(text)
        Path(context).chmod(0o755)
        mounts = ["-v", f"{context}:/context:ro"]
        if os.environ.get("PIP_CERT"):  # the registries' proxy: its CA, for this build step only
            mounts += ["-v", f"{os.environ['PIP_CERT']}:/run/pip-ca.crt:ro", "-e", "PIP_CERT=/run/pip-ca.crt"]
        if os.environ.get("PIP_FIND_LINKS"):
            mounts += ["-v", f"{os.environ['PIP_FIND_LINKS']}:/run/wheels:ro", "-e", "PIP_FIND_LINKS=/run/wheels"]
        name = f"rnnlab-build-{os.getpid()}"
        proc = docker("run", "--name", name, *mounts, base, "bash", "/context/steps.sh", check=False, timeout=3600)
        if proc.returncode != 0:
            docker("rm", "-f", name, check=False)
            raise RuntimeError(f"building the grading environment failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
        commit(name, tag)
    return tag


def ensure_grading_image(zip_path: Path) -> str:
    """The grading image of ``zip_path``, as ``otter grade`` builds it (``otter grade`` itself needs
    ``docker buildx``, which Debian's docker.io lacks; its per-submission step takes the image)."""
    ensure_daemon()
    with zipfile.ZipFile(zip_path) as zf, tempfile.TemporaryDirectory(prefix="rnnlab-zip-") as unpacked:
        env = ensure_env_image(zf)
        tag = f"{GRADE_IMAGE}:{digest(zip_path.read_bytes(), env)}"
        if has_image(tag):
            return tag
        zf.extractall(unpacked)
        name = f"rnnlab-add-{os.getpid()}"
        docker("create", "--name", name, env)
        for source, target in LATE_ADDS:
            if (Path(unpacked) / source).exists():
                docker("cp", str(Path(unpacked) / source), f"{name}:/autograder/{target}")
        commit(name, tag)
    return tag


GRADESCOPE_RESOURCES = ("--cpus", "0.5", "--memory", "768m", "--memory-swap", "768m")
# What Gradescope writes beside the submission (the fields otter reads; the rest as Gradescope names them).
GRADESCOPE_METADATA = {"id": 123456789, "created_at": "2026-12-03T10:00:00.000000-08:00",
                       "assignment": {"id": 1234, "title": "Vanishing gradients", "release_date": None,
                                      "due_date": None, "late_due_date": None, "total_points": "100.0"},
                       "submission_method": "upload", "users": [{"email": "ada@example.edu", "id": 42,
                                                                 "name": "Ada Student"}],
                       "previous_submissions": []}
# After run_autograder, in the same container: which processes of nobody are alive, what files of
# nobody are left where every user may write, and peak memory.
AFTER_PROBE = r"""import json, os
files = []
for top in ("/tmp", "/var/tmp", "/dev/shm"):
    for folder, subfolders, names in os.walk(top):
        files += [os.path.join(folder, n) for n in subfolders + names
                  if os.lstat(os.path.join(folder, n)).st_uid == 65534]
left = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        if os.stat(f"/proc/{pid}").st_uid == 65534 and open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
            left.append(open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace"))
    except OSError:
        pass
peak = None
for path in ("/sys/fs/cgroup/memory/memory.max_usage_in_bytes", "/sys/fs/cgroup/memory.peak"):
    if os.path.exists(path):
        peak = int(open(path).read().split()[0])
json.dump({"left": left, "files_of_nobody": files, "peak_bytes": peak}, open("/autograder/results/after.json", "w"))
"""


def gradescope_run(image: str, source: str | None, work: Path, timeout: float = 900,
                   uploads: dict[str, str] | None = None) -> dict:
    """``source`` as rnn_lm.py, and ``uploads`` (name -> text) beside it, graded by run_autograder as
    Gradescope runs it (its default resources, the network on, its metadata file): results.json, wall
    time, and the probe's findings (processes and files of nobody left, peak memory)."""
    name = f"rnnlab-gradescope-{work.name}"
    uploaded = work / "upload"
    uploaded.mkdir()
    for file, text in (({"rnn_lm.py": source} if source is not None else {}) | (uploads or {})).items():
        (uploaded / file).write_text(text)
    (work / "submission_metadata.json").write_text(json.dumps(GRADESCOPE_METADATA))
    (work / "after.py").write_text(AFTER_PROBE)
    docker("create", "--name", name, *GRADESCOPE_RESOURCES, image, "bash", "-c",
           "/autograder/run_autograder; python3 /autograder/after.py")
    try:
        docker("cp", f"{uploaded}/.", f"{name}:/autograder/submission/")
        docker("cp", str(work / "submission_metadata.json"), f"{name}:/autograder/submission_metadata.json")
        docker("cp", str(work / "after.py"), f"{name}:/autograder/after.py")
        start = time.monotonic()
        log = docker("start", "-a", name, timeout=timeout)
        wall = time.monotonic() - start
        for produced in ("results.json", "after.json"):
            docker("cp", f"{name}:/autograder/results/{produced}", str(work / produced))
    finally:
        docker("rm", "-f", name, check=False)
    return {"results": json.loads((work / "results.json").read_text()), "wall_s": wall,
            **json.loads((work / "after.json").read_text()), "log": log.stdout + log.stderr}
