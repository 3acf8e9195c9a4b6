"""The escape battery: a real sandboxed kernel tries every way out we could think of. Every attempt must fail.

One kernel serves the whole module. Add an attempt whenever you think of a new way out.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from pathlib import Path

import pytest
from sandbox.sandbox_helpers import assert_fails, execute, probe, running_kernel, sandbox_setup

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(180)]

MEMORY_LIMIT = 1536 * 1024**2
PROCESS_LIMIT = 96


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory):
    with sandbox_setup(
        tmp_path_factory.mktemp("escape"), limits={"memory": MEMORY_LIMIT, "processes": PROCESS_LIMIT}
    ) as setup, running_kernel(setup.kernel_name) as (km, kc):
        yield setup, km, kc


@pytest.fixture()
def kc(sandbox):
    return sandbox[2]


# ----- what must work ---------------------------------------------------------------------------------------
def test_checkout_is_readable_at_its_fixed_path(kc) -> None:
    res = probe(kc, """
import os
result = [os.environ['EUCAIM_CHECKOUT'], open(os.environ['EUCAIM_CHECKOUT'] + '/data/a.txt').read(),
          sorted(os.listdir(os.environ['EUCAIM_CHECKOUT']))]
""")
    assert res["ok"], res
    assert res["value"] == ["/data/checkout", "visible data\n",
                            ["b.bin", "data", "eforms.json", "index.json", "manifest.json"]]


def test_workspace_is_writable_and_reaches_the_host(sandbox, kc) -> None:
    setup = sandbox[0]
    name = f"result-{secrets.token_hex(4)}.txt"
    res = probe(kc, f"""
import os
with open(os.path.join(os.environ['EUCAIM_WORKSPACE'], {name!r}), 'w') as f:
    f.write('written in the sandbox')
result = os.getcwd()
""")
    assert res["ok"], res
    assert res["value"] == "/data/workspace"
    assert (setup.workspace / name).read_text() == "written in the sandbox"


def test_kernel_runs_unprivileged_without_capabilities(kc) -> None:
    res = probe(kc, """
import os
caps = {l.split(':')[0]: l.split(':')[1].strip() for l in open('/proc/self/status') if l.startswith('Cap')}
result = [os.getuid(), os.getgid(), caps['CapEff'], caps['CapBnd']]
""")
    assert res["ok"], res
    assert res["value"] == [1000, 1000, "0000000000000000", "0000000000000000"]


# ----- files of the host -------------------------------------------------------------------------------------
@pytest.fixture()
def home_secret():
    path = Path(os.path.expanduser("~")) / f".eucaim-escape-test-{secrets.token_hex(6)}"
    path.write_text("home secret")
    yield path
    path.unlink()


def test_cannot_read_the_users_home(kc, home_secret: Path) -> None:
    assert_fails(kc, f"result = open({str(home_secret)!r}).read()", "FileNotFoundError", "PermissionError")
    res = probe(kc, f"import os; result = os.listdir({str(home_secret.parent)!r})")
    # the host home is an empty tmpfs (only the interpreter's own folder may be bound below it)
    assert not res["ok"] or home_secret.name not in res["value"], res
    res = probe(kc, "import os; result = os.listdir(os.path.expanduser('~'))")
    assert res["ok"] and home_secret.name not in res["value"], res


def test_cannot_read_another_checkout_or_the_node(sandbox, kc) -> None:
    setup = sandbox[0]
    assert_fails(kc, f"result = open({str(setup.other_checkout / 'secret.txt')!r}).read()", "FileNotFoundError")
    assert_fails(kc, f"result = open({str(setup.home / 'node.sqlite')!r}, 'rb').read(16)", "FileNotFoundError")
    assert_fails(kc, f"import os; result = os.listdir({str(setup.home)!r})", "FileNotFoundError")
    assert_fails(kc, "import os; result = os.listdir('/data/checkout/..') and open('/data/co-2/secret.txt').read()")
    res = probe(kc, "import os; result = sorted(os.listdir('/data'))")
    assert res["value"] == ["checkout", "workspace"], res


def test_cannot_read_the_jupyter_runtime_dir_or_token(sandbox, kc) -> None:
    setup, km = sandbox[0], sandbox[1]
    assert_fails(kc, f"result = open({str(setup.runtime_dir / 'jpserver-4242.json')!r}).read()",
                 "FileNotFoundError")
    assert_fails(kc, f"result = open({km.connection_file!r}).read()", "FileNotFoundError")
    res = probe(kc, """
import os
hits = []
for top in ('/', ):
    for d, dirs, files in os.walk(top):
        if d.startswith(('/proc', '/sys', '/usr', '/dev')):
            dirs[:] = []
            continue
        hits += [os.path.join(d, f) for f in files if f.startswith('jpserver')]
result = hits
""", timeout=120)
    assert res["ok"] and res["value"] == [], res


def test_cannot_read_etc_shadow_or_host_identity(kc) -> None:
    assert_fails(kc, "result = open('/etc/shadow').read()", "FileNotFoundError", "PermissionError")
    assert_fails(kc, "import os; result = os.listdir('/etc/ssl/private')", "FileNotFoundError", "PermissionError")
    res = probe(kc, "import os; result = sorted(os.listdir('/etc'))")
    assert res["ok"] and not {"shadow", "gshadow", "sudoers", "ssh", "machine-id"} & set(res["value"]), res
    res = probe(kc, "import socket; result = [socket.gethostname(), open('/etc/passwd').read()]")
    assert res["ok"] and res["value"][0] == "eucaim-sandbox", res
    assert "root:" not in res["value"][1], res


def test_repository_and_shared_data_are_not_visible(kc) -> None:
    repo = Path(__file__).resolve().parents[2]
    assert_fails(kc, f"result = open({str(repo / 'pyproject.toml')!r}).read()", "FileNotFoundError")
    assert_fails(kc, f"import os; result = os.listdir({str(repo.parent / 'shared')!r})", "FileNotFoundError")
    assert_fails(kc, "import os; result = os.listdir('/sys')", "FileNotFoundError")


# ----- writing where it must not -------------------------------------------------------------------------------
def test_cannot_write_into_the_checkout(sandbox, kc) -> None:
    setup = sandbox[0]
    assert_fails(kc, "open('/data/checkout/new.txt', 'w').write('x')", "OSError", "PermissionError")
    assert_fails(kc, "open('/data/checkout/data/a.txt', 'a').write('x')", "OSError", "PermissionError")
    assert_fails(kc, "import os; os.unlink('/data/checkout/b.bin')", "OSError", "PermissionError")
    assert_fails(kc, "import os; os.rename('/data/checkout/b.bin', '/data/checkout/c.bin')",
                 "OSError", "PermissionError")
    assert_fails(kc, "import os; os.chmod('/data/checkout/b.bin', 0o666)", "OSError", "PermissionError")
    assert (setup.checkout / "data" / "a.txt").read_bytes() == b"visible data\n"
    assert sorted(p.name for p in setup.checkout.iterdir()) == [
        "b.bin", "data", "eforms.json", "index.json", "manifest.json"]


def test_cannot_write_into_the_python_environment_or_system(kc) -> None:
    assert_fails(kc, """
import os, sysconfig
open(os.path.join(sysconfig.get_paths()['purelib'], 'evil_startup.pth'), 'w').write('import os')
""", "OSError", "PermissionError")
    assert_fails(kc, "open('/usr/bin/evil', 'w').write('x')", "OSError", "PermissionError")
    assert_fails(kc, "open('/etc/evil', 'w').write('x')", "OSError", "PermissionError")


# ----- network -------------------------------------------------------------------------------------------------
def test_no_tcp_to_a_host_loopback_listener(kc) -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(3)
    port = server.getsockname()[1]
    try:
        assert_fails(kc, f"""
import socket
s = socket.create_connection(('127.0.0.1', {port}), timeout=3)
s.sendall(b'escaped')
""", "ConnectionRefusedError", "TimeoutError", "OSError")
        with pytest.raises(TimeoutError):
            server.accept()
    finally:
        server.close()


def test_no_udp_to_a_host_loopback_listener(kc) -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(2)
    port = server.getsockname()[1]
    try:
        # sending UDP into the sandbox's own loopback "succeeds" locally; what matters is that nothing arrives
        probe(kc, f"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(5):
    s.sendto(b'escaped', ('127.0.0.1', {port}))
""")
        with pytest.raises(TimeoutError):
            server.recvfrom(100)
    finally:
        server.close()


def test_no_network_interfaces_but_loopback_and_no_dns(kc) -> None:
    res = probe(kc, "import socket; result = sorted(n for _, n in socket.if_nameindex())")
    assert res["ok"] and res["value"] == ["lo"], res
    assert_fails(kc, "import socket; result = socket.getaddrinfo('pypi.org', 443)", "gaierror")
    assert_fails(kc, "import socket; socket.create_connection(('1.1.1.1', 53), timeout=3)", "OSError",
                 "TimeoutError")


def test_no_connection_to_host_unix_sockets(sandbox, kc) -> None:
    setup = sandbox[0]
    token = secrets.token_hex(4)
    home_dir = Path(os.path.expanduser("~"))
    paths = [setup.root / f"s{token}.sock", home_dir / f".eucaim-{token}.sock"]
    if os.access("/run", os.W_OK):
        paths.append(Path("/run") / f"eucaim-{token}.sock")
    servers = []
    accepted: list[bytes] = []
    try:
        for path in paths:
            srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            srv.bind(str(path))
            srv.listen(1)
            servers.append(srv)
        abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        abstract.bind(f"\0eucaim-{token}")
        abstract.listen(1)
        servers.append(abstract)
        for srv in servers:
            srv.settimeout(0.5)
        for path in paths:
            assert_fails(kc, f"""
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect({str(path)!r})
""", "FileNotFoundError", "ConnectionRefusedError", "PermissionError")
        assert_fails(kc, f"""
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect('\\0eucaim-{token}')
""", "ConnectionRefusedError", "FileNotFoundError")
        for srv in servers:
            try:
                conn, _ = srv.accept()
                accepted.append(conn.recv(10))
            except TimeoutError:
                pass
        assert accepted == []
    finally:
        for srv in servers:
            srv.close()
        for path in paths:
            path.unlink(missing_ok=True)


# ----- processes -------------------------------------------------------------------------------------------------
def test_host_processes_are_invisible(kc) -> None:
    res = probe(kc, """
import os
pids = [int(p) for p in os.listdir('/proc') if p.isdigit()]
cmds = []
for p in pids:
    try:
        cmds.append(open(f'/proc/{p}/cmdline', 'rb').read().replace(b'\\0', b' ').decode())
    except OSError:
        pass
result = [pids, cmds]
""")
    assert res["ok"], res
    pids, cmds = res["value"]
    assert len(pids) < 10, res
    assert not any("pytest" in c for c in cmds), cmds  # neither the host's processes nor host paths
    assert_fails(kc, f"import os; os.kill({os.getpid()}, 0)", "ProcessLookupError", "PermissionError")


def test_no_new_namespaces_or_privileges(kc) -> None:
    res = probe(kc, """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
result = [libc.unshare(CLONE_NEWUSER), libc.unshare(CLONE_NEWNS),
          libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)]
""")
    assert res["ok"] and res["value"] == [-1, -1, -1], res
    assert_fails(kc, "import os; os.setuid(0)", "PermissionError", "OSError")


# ----- resource limits ---------------------------------------------------------------------------------------------
def test_memory_limit(kc) -> None:
    assert_fails(kc, f"x = bytearray({MEMORY_LIMIT + 512 * 1024**2})", "MemoryError")
    status, out = execute(kc, "print(6 * 7)")
    assert (status, out.strip()) == ("ok", "42")


def test_process_count_is_bounded(kc) -> None:
    # a bounded "fork bomb": ask for far more processes than the limit, count how many we got
    res = probe(kc, f"""
import os, signal, time
children, error = [], None
try:
    for _ in range({PROCESS_LIMIT * 3}):
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        children.append(pid)
except OSError as exc:
    error = type(exc).__name__
for pid in children:
    os.kill(pid, signal.SIGKILL)
for pid in children:
    os.waitpid(pid, 0)
result = [len(children), error]
""", timeout=120)
    assert res["ok"], res
    count, error = res["value"]
    assert error == "BlockingIOError", res
    assert 0 < count < PROCESS_LIMIT, res
    status, out = execute(kc, "print('alive')")
    assert (status, out.strip()) == ("ok", "alive")
    threading.Thread(target=lambda: None).start()  # the host can still start threads


def test_audit_pipe_is_not_inherited_by_subprocesses(kc) -> None:
    res = probe(kc, """
import os, subprocess, sys
fd = os.environ['EUCAIM_AUDIT_FD']
out = subprocess.run([sys.executable, '-c', f'import os; os.fstat({fd})'], capture_output=True)
result = out.returncode
""")
    assert res["ok"] and res["value"] != 0, res


def test_scratch_space_is_bounded(kc) -> None:
    res = probe(kc, "import os; st = os.statvfs('/tmp'); result = st.f_blocks * st.f_frsize")
    assert res["ok"] and 0 < res["value"] <= MEMORY_LIMIT // 4, res
    res = assert_fails(kc, f"""
chunk = b'0' * (64 << 20)
with open('/tmp/fill', 'wb') as f:
    for _ in range({MEMORY_LIMIT // (64 << 20)}):
        f.write(chunk)
        f.flush()
""", "OSError")
    assert "No space left" in res["message"], res
    status, _ = execute(kc, "import os; os.unlink('/tmp/fill')")
    assert status == "ok"


def test_environment_carries_no_host_variables(kc) -> None:
    os.environ["EUCAIM_ESCAPE_TEST_SECRET"] = "host secret"  # set after the kernel started: belt and braces
    try:
        res = probe(kc, "import os; result = sorted(os.environ)")
    finally:
        del os.environ["EUCAIM_ESCAPE_TEST_SECRET"]
    assert res["ok"], res
    names = set(res["value"])
    assert not names & {"JPY_PARENT_PID", "EUCAIM_LAB_HOME", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR",
                        "EUCAIM_ESCAPE_TEST_SECRET", "SSH_AUTH_SOCK", "DBUS_SESSION_BUS_ADDRESS"}, names
    assert {"EUCAIM_CHECKOUT", "EUCAIM_WORKSPACE", "HOME"} <= names


def test_no_host_devices_or_shared_memory(kc) -> None:
    token = secrets.token_hex(4)
    shm = Path("/dev/shm") / f"eucaim-escape-{token}"
    shm.write_bytes(b"host shared memory")
    try:
        assert_fails(kc, f"result = open({str(shm)!r}, 'rb').read()", "FileNotFoundError")
    finally:
        shm.unlink()
    res = probe(kc, "import os; result = sorted(os.listdir('/dev'))")
    assert res["ok"], res
    allowed = {"console", "core", "fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr",
               "stdin", "stdout", "tty", "urandom", "zero"}
    assert set(res["value"]) <= allowed, res


def test_limits_are_set_and_cannot_be_raised(kc) -> None:
    res = probe(kc, """
import resource
result = [resource.getrlimit(resource.RLIMIT_AS), resource.getrlimit(resource.RLIMIT_NPROC)]
""")
    assert res["ok"] and res["value"] == [[MEMORY_LIMIT] * 2, [PROCESS_LIMIT] * 2], res
    assert_fails(kc, f"""
import resource
resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_LIMIT * 4}, {MEMORY_LIMIT * 4}))
""", "ValueError", "PermissionError", "OSError")


def test_kernel_interfaces_in_proc_are_read_only(kc) -> None:
    # checked without writing: a writable core_pattern would let the sandbox run code as the host's root
    res = probe(kc, """
import os
result = [p for p in ('/proc/sys/kernel/core_pattern', '/proc/sys/kernel/modprobe', '/proc/sys/vm/drop_caches',
                      '/proc/sys/kernel/panic', '/proc/sysrq-trigger') if os.access(p, os.W_OK)]
""")
    assert res["ok"] and res["value"] == [], res
    assert_fails(kc, "open('/proc/sys/vm/drop_caches', 'w').write('3')", "OSError", "PermissionError")
    assert_fails(kc, "open('/proc/sys/kernel/hostname', 'w').write('evil')", "OSError", "PermissionError")
    assert_fails(kc, "open('/proc/sysrq-trigger', 'w').write('h')", "OSError", "PermissionError", "FileNotFoundError")
    assert_fails(kc, "open('/proc/1/oom_score_adj', 'w').write('-1000')", "OSError", "PermissionError")


def test_dangerous_system_calls_are_refused(kc) -> None:
    import platform

    if platform.machine() != "x86_64":
        pytest.skip("the syscall numbers below are x86_64's")
    res = probe(kc, """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
out = {}
for name, nr in [('ptrace', 101), ('keyctl', 250), ('bpf', 321), ('perf_event_open', 298),
                 ('userfaultfd', 323), ('io_uring_setup', 425), ('open_by_handle_at', 304),
                 ('x32 getpid', 39 | 0x40000000)]:
    ctypes.set_errno(0)
    out[name] = [libc.syscall(nr, 0, 0, 0, 0, 0), ctypes.get_errno()]
ctypes.set_errno(0)
out['getpid'] = [int(libc.syscall(39) > 0), ctypes.get_errno()]
result = out
""")
    assert res["ok"], res
    value = res["value"]
    assert value.pop("getpid") == [1, 0]
    assert all(v == [-1, 1] for v in value.values()), value  # -1, EPERM
