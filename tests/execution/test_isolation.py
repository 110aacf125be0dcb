"""The pieces under the sandbox: the seccomp program, the Landlock probe, the isolation report."""

from __future__ import annotations

import platform
import struct

import pytest

from tusk.execution import isolation_report, landlock, seccomp


def test_seccomp_template_patched_with_a_pid_equals_a_fresh_build():
    seccomp.prepare()
    for pid in (2, 1234, 4_000_000):
        assert seccomp.filter_for(pid) == seccomp.build_filter(pid)


def test_seccomp_program_shape():
    program = seccomp.build_filter(4321)
    assert len(program) % 8 == 0 and len(program) // 8 < 4096
    ops = [struct.unpack("=HBBI", program[i : i + 8]) for i in range(0, len(program), 8)]
    assert ops[0] == (0x20, 0, 0, 4)  # load the architecture first
    assert ops[-1][0] == 0x06  # every path ends in a return
    assert any(op == (0x15, 0, 1, 4321) or (op[0] == 0x15 and op[3] == 4321) for op in ops)


@pytest.mark.skipif(platform.system() != "Linux", reason="Linux only")
def test_report_names_every_mechanism_and_matches_the_kernel():
    report = isolation_report()
    names = ("network_namespace", "ipc_namespace", "private_tmpfs", "landlock", "seccomp", "unprivileged_uid")
    for name in (*names, "rlimits"):
        assert isinstance(report[name]["active"], bool) and report[name]["detail"]
    assert report["landlock"]["active"] == (landlock.abi_version() > 0)
    assert report["seccomp"]["active"] == (seccomp.supported() is None)
