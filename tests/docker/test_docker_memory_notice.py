"""The memory-limit notice reads the container's own memory group.

With cgroup v1 and Docker 20.10, ``/proc/self/cgroup`` in a container names
``/docker/<id>`` while ``/sys/fs/cgroup/memory`` is that group itself; the
notice maps one onto the other through ``/proc/self/mountinfo``.
"""

from __future__ import annotations

import textwrap
import uuid

from ai4scale.hub.memory_notice import memory_cgroup

#: Prefix of this suite's containers (only these are removed by it).
PREFIX = "ai4t15d-mem-"


def _fake(root, path):
    group = root / "memory" / path
    group.mkdir(parents=True)
    (group / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
    return group


def test_memory_cgroup_relative_to_the_mounted_group(tmp_path):
    proc = tmp_path / "cgroup"
    proc.write_text("4:memory:/docker/abc\n1:cpu:/docker/abc\n")
    root = tmp_path / "fs"
    point = root / "memory"
    mountinfo = tmp_path / "mountinfo"

    # In a container: the mount shows /docker/abc, which is the mount point itself.
    _fake(root, "")
    mountinfo.write_text(
        f"90 86 0:32 /docker/abc {point} ro,nosuid - cgroup cgroup rw,memory\n"
        f"87 86 0:29 /docker/abc {root / 'cpu'} ro - cgroup cgroup rw,cpu\n"
    )
    assert memory_cgroup(proc_cgroup=proc, root=root, mountinfo=mountinfo) == point

    # On the host: the mount shows the hierarchy's root; the group is below it.
    mountinfo.write_text(f"35 31 0:32 / {point} rw - cgroup cgroup rw,memory\n")
    assert memory_cgroup(proc_cgroup=proc, root=root, mountinfo=mountinfo) is None
    _fake(root, "docker/abc")
    assert memory_cgroup(proc_cgroup=proc, root=root, mountinfo=mountinfo) == point / "docker/abc"

    # A group outside what is mounted is not guessed at.
    mountinfo.write_text(f"90 86 0:32 /docker/other {point} ro - cgroup cgroup rw,memory\n")
    assert memory_cgroup(proc_cgroup=proc, root=root, mountinfo=mountinfo) is None


#: Run in the container: the notice is quiet, a child outgrows the limit and
#: is killed, then the notice speaks with the container's limit.
SCRIPT = textwrap.dedent(
    """
    import subprocess, sys, tempfile
    from ai4scale.hub.memory_notice import check_oom, memory_cgroup
    runtime = tempfile.mkdtemp()
    print("group", memory_cgroup())
    print("before", check_oom(runtime_dir=runtime))
    child = subprocess.run([sys.executable, "-c", "b = b'x' * (400 << 20)"])
    print("child", child.returncode)
    print("after", check_oom(runtime_dir=runtime))
    print("again", check_oom(runtime_dir=runtime))
    """
)


def test_notice_in_a_container_names_its_limit(docker_client, singleuser_image):
    name = PREFIX + uuid.uuid4().hex[:8]
    out = docker_client.containers.run(
        singleuser_image,
        ["python", "-c", SCRIPT],
        name=name,
        network_mode="none",
        mem_limit="200m",
        memswap_limit="200m",
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        remove=True,
    ).decode()
    lines = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    assert lines["group"] == "/sys/fs/cgroup/memory", out
    assert lines["before"] == "None", out
    assert lines["child"] == "-9", out
    assert "stopped because your server reached its memory limit (200 MiB)" in lines["after"], out
    assert lines["again"] == "None", out
