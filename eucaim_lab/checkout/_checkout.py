"""Checkouts: an approved dataset version materialised as a read-only folder of hard links into the datalake.

``<node>/checkouts/<checkout_id>/`` holds ``index.json``, ``eforms.json``, ``manifest.json`` and the files at their
relpaths; ``<node>/workspaces/<checkout_id>/`` is the writable workspace. The permit is verified first and the
datalake checked against the catalogue; anything wrong and nothing is checked out (fail closed).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import errno
import hashlib
import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

from .._config import current_user
from .._errors import AccessDeniedError, IntegrityError, NotFoundError
from .._node import Node
from ..access._audit import AuditTrail
from ..catalogue._model import validate_identifier
from ..access._ids import new_id, validate_id
from ..access._permits import iso, load_permit, verify_permit
from ..access._requests import ResourceStatus, as_node, check_permit_row
from ..access._requests import get as get_request
from ..catalogue._vocab import AccessCondition
from ._manifest import EFORMS_NAME, INDEX_NAME, MANIFEST_NAME, Manifest
from ._verify import check_datalake, refresh_state, require_intact

__all__ = ["Checkout", "checkout", "get", "list_checkouts", "open", "require_allowed"]

NodeLike = Node | str | os.PathLike[str] | None
SANDBOX_ENV = "EUCAIM_SANDBOXED"
CHECKOUT_ENV = "EUCAIM_CHECKOUT"
WORKSPACE_ENV = "EUCAIM_WORKSPACE"
_FICLONE = 0x40049409  # Linux ioctl: share extents (reflink) on btrfs/XFS


@dataclasses.dataclass(frozen=True)
class Checkout:
    """A checked-out dataset version. ``link_mode`` and ``size_bytes`` are unknown (``None``) when the checkout is
    opened from inside a sandbox, which sees only the folder and its manifest."""

    checkout_id: str
    path: Path
    workspace: Path
    dataset_id: str
    version: str
    request_id: str
    permit_id: str
    user: str
    access_condition: AccessCondition
    created: str
    files_count: int
    dataset_digest: str
    link_mode: str | None = None
    size_bytes: int | None = None
    removed: str | None = None  # when the checkout was removed (``eucaim-lab checkout remove``); None while live

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST_NAME

    @property
    def index_path(self) -> Path:
        return self.path / INDEX_NAME

    @property
    def eforms_path(self) -> Path:
        return self.path / EFORMS_NAME

    def manifest(self) -> Manifest:
        require_allowed(self)
        return Manifest.read(self.manifest_path)

    def index(self) -> list[dict[str, Any]]:
        """``index.json``: studies -> series folders -> tags (CHAIMELEON layout)."""
        require_allowed(self)
        return list(json.loads(self.index_path.read_text(encoding="utf-8")))

    def eforms(self) -> list[dict[str, Any]]:
        """``eforms.json``: clinical data per subject."""
        require_allowed(self)
        return list(json.loads(self.eforms_path.read_text(encoding="utf-8")))

    def files(self) -> list[Path]:
        """Absolute paths of the dataset's files (index, eforms and manifest excluded)."""
        require_allowed(self)
        names = Manifest.read(self.manifest_path).files
        return [self.path / r for r in names if r not in (INDEX_NAME, EFORMS_NAME)]

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.update(path=str(self.path), workspace=str(self.workspace), access_condition=self.access_condition.value)
        return data


def _from_row(node: Node, row: Any) -> Checkout:
    return Checkout(
        checkout_id=row["checkout_id"], path=node.home / row["path"], workspace=node.home / row["workspace"],
        dataset_id=row["dataset_id"], version=row["version"], request_id=row["request_id"],
        permit_id=row["permit_id"], user=row["user"], access_condition=AccessCondition(row["access_condition"]),
        created=row["created"], files_count=row["files_count"], dataset_digest=row["dataset_digest"],
        link_mode=row["link_mode"], size_bytes=row["size_bytes"], removed=row["removed"],
    )


_SELECT = ("SELECT c.*, r.removed AS removed, r.removed_by AS removed_by FROM checkouts AS c "
           "LEFT JOIN checkout_removals AS r ON r.checkout_id = c.checkout_id")


def get(checkout_id: str, *, include_removed: bool = False, node: NodeLike = None) -> Checkout:
    """The checkout with this id (:class:`NotFoundError` if none, or if it was removed, unless
    ``include_removed``: a removed checkout keeps its record for the audit history)."""
    validate_id(checkout_id, "CO")
    n = as_node(node)
    row = n.db.execute(_SELECT + " WHERE c.checkout_id = ?", (checkout_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"No checkout {checkout_id!r} on this node. List them with: eucaim-lab checkout list",
                            checkout_id=checkout_id)
    if row["removed"] is not None and not include_removed:
        raise NotFoundError(
            f"Checkout {checkout_id} was removed on {row['removed']} by {row['removed_by']}; its files are gone "
            "(its record stays for the audit history: eucaim-lab checkout list --all). Check the dataset out "
            "again with: eucaim-lab checkout REQUEST",
            checkout_id=checkout_id, removed=row["removed"], removed_by=row["removed_by"],
        )
    return _from_row(n, row)


def list_checkouts(
    *, user: str | None = None, dataset_id: str | None = None, include_removed: bool = False,
    node: NodeLike = None,
) -> list[Checkout]:
    """Checkouts on the node, newest first, optionally of one user or dataset; removed ones only if
    ``include_removed``."""
    n = as_node(node)
    where, params = [], []
    if not include_removed:
        where.append("r.removed IS NULL")
    if user is not None:
        where.append("c.user = ?")
        params.append(user)
    if dataset_id is not None:
        where.append("c.dataset_id = ?")
        params.append(validate_identifier(dataset_id))
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "")
    return [_from_row(n, r) for r in n.db.execute(sql + " ORDER BY c.created DESC, c.checkout_id", params)]


# ----- the in-situ guard -------------------------------------------------------------------------------------
def _sandboxed_for(co: Checkout) -> bool:
    if os.environ.get(SANDBOX_ENV) != "1" or not os.environ.get(CHECKOUT_ENV):
        return False
    mounted = Path(os.environ[CHECKOUT_ENV])
    try:
        return bool(Manifest.read(mounted / MANIFEST_NAME).checkout_id == co.checkout_id)
    except IntegrityError:
        return False


def require_allowed(co: Checkout) -> None:
    """Refuse to open IN_SITU_PROCESSING data outside the sandboxed kernel made for this checkout.

    DOWNLOAD data may be used anywhere. The sandbox sets ``EUCAIM_SANDBOXED=1`` and ``EUCAIM_CHECKOUT``.
    """
    if co.access_condition is AccessCondition.DOWNLOAD:
        return
    if co.access_condition is AccessCondition.IN_SITU_PROCESSING and _sandboxed_for(co):
        return
    if co.access_condition is AccessCondition.REMOTE_PROCESSING:
        raise AccessDeniedError(
            f"Dataset {co.dataset_id!r} is available for REMOTE_PROCESSING only: its data is never opened "
            "by the researcher.", checkout_id=co.checkout_id,
        )
    raise AccessDeniedError(
        f"Dataset {co.dataset_id!r} (checkout {co.checkout_id}) may be used only IN_SITU_PROCESSING, inside a "
        f"sandboxed kernel. Install one with: eucaim-lab kernel install {co.checkout_id} -- then open your "
        f"notebook on the kernel 'EUCAIM {co.dataset_id} (sandboxed)', where the data is at $EUCAIM_CHECKOUT.",
        checkout_id=co.checkout_id, dataset_id=co.dataset_id,
    )


def _from_manifest(man: Manifest, path: Path, workspace: Path) -> Checkout:
    """A Checkout described by its own manifest (where the node's database is not at hand)."""
    return Checkout(
        checkout_id=man.checkout_id, path=path, workspace=workspace, dataset_id=man.dataset_id,
        version=man.version, request_id=man.request_id, permit_id=man.permit_id, user=man.user,
        access_condition=man.access_condition, created=man.created, files_count=len(man.files),
        dataset_digest=man.dataset_digest,
    )


def guard_folder(path: str | os.PathLike[str]) -> Checkout | None:
    """Apply the access condition to a path that may lie inside a checkout; returns that checkout, if any.

    Code that opens files by path (case discovery, radiomics) calls this, so IN_SITU_PROCESSING data is refused
    outside its sandboxed kernel whatever API reaches it.
    """
    here = Path(path).resolve()
    for folder in (here, *here.parents) if here.is_dir() else here.parents:
        manifest = folder / MANIFEST_NAME
        if manifest.is_file():
            try:
                man = Manifest.read(manifest)
            except IntegrityError:
                continue  # a manifest.json of something else, not a checkout
            co = _from_manifest(man, folder, folder)
            require_allowed(co)
            return co
    return None


def open(checkout_id: str | None = None, *, node: NodeLike = None) -> Checkout:
    """The checkout, ready to read: checks the access condition first.

    Inside a sandboxed kernel ``checkout_id`` may be omitted: the mounted checkout (``$EUCAIM_CHECKOUT``) is used,
    described by its manifest (the node database is not visible there).
    """
    mounted = os.environ.get(CHECKOUT_ENV)
    if mounted and os.environ.get(SANDBOX_ENV) == "1":
        man = Manifest.read(Path(mounted) / MANIFEST_NAME)
        if checkout_id is None or checkout_id == man.checkout_id:
            co = _from_manifest(man, Path(mounted), Path(os.environ.get(WORKSPACE_ENV, mounted)))
            require_allowed(co)
            return co
    if checkout_id is None:
        raise NotFoundError("Which checkout? Give a checkout id (eucaim-lab checkout list shows them).")
    co = get(checkout_id, node=node)
    require_allowed(co)
    return co


# ----- making a checkout -------------------------------------------------------------------------------------
def checkout(
    request_id: str, *, dataset_id: str | None = None, user: str | None = None, node: NodeLike = None
) -> list[Checkout]:
    """Check out every dataset made available in ``request_id`` (or only ``dataset_id``); one checkout each."""
    from ..catalogue import Catalogue

    n = as_node(node)
    user = validate_identifier(user or current_user(), "user name")
    req = get_request(request_id, node=n)
    if req.user != user:
        raise AccessDeniedError(f"Request {request_id} belongs to {req.user!r}; {user!r} cannot check it out.",
                                request_id=request_id)
    resources = [req.resource(validate_identifier(dataset_id))] if dataset_id is not None else list(req.resources)
    chosen = [r for r in resources if r.status is ResourceStatus.RESOURCE_MADE_AVAILABLE]
    if not chosen:
        states = ", ".join(f"{r.dataset_id}: {r.status.value}" for r in resources)
        raise AccessDeniedError(
            f"Nothing in request {request_id} is made available to you yet ({states}). The data holder must "
            f"approve it first: eucaim-lab access approve {request_id} --as HOLDER",
            request_id=request_id,
        )
    remote = [r.dataset_id for r in chosen if r.access_condition is AccessCondition.REMOTE_PROCESSING]
    if remote and len(remote) == len(chosen):
        raise AccessDeniedError(
            f"Dataset(s) {remote} are REMOTE_PROCESSING: they are never checked out; the data stays at the node "
            "and only batch jobs run on it (not available in this version).",
            request_id=request_id, dataset_ids=remote,
        )
    if remote:  # a mixed basket: check out the others, say what was left
        warnings.warn(
            f"Not checked out: {', '.join(remote)} (REMOTE_PROCESSING data never leaves the node).", stacklevel=2
        )
        chosen = [r for r in chosen if r.access_condition is not AccessCondition.REMOTE_PROCESSING]
    cat = Catalogue(node=n)
    return [_checkout_one(n, cat, res, request_id, user) for res in chosen]


def _checkout_one(node: Node, cat: Any, res: Any, request_id: str, user: str) -> Checkout:
    permit = load_permit(node, res.permit_id)
    check_permit_row(node, permit)
    record = cat.get(res.dataset_id)
    verify_permit(permit, user=user, dataset_id=res.dataset_id, version=record.version, node=node)
    report = check_datalake(node, res.dataset_id)
    if report.dataset_digest != permit.dataset_digest:
        raise IntegrityError(
            f"The catalogue's file list of {res.dataset_id!r} changed since permit {permit.permit_id} was issued "
            f"(digest {report.dataset_digest[:12]}..., approved {permit.dataset_digest[:12]}...); not checked out.",
            dataset_id=res.dataset_id,
        )
    require_intact(report, f"Dataset {res.dataset_id!r} is not checked out")

    checkout_id = new_id("CO")
    final = node.checkouts / checkout_id
    staging = node.checkouts / f".{checkout_id}.partial"
    node.checkouts.mkdir(parents=True, exist_ok=True)
    created = iso(dt.datetime.now(dt.timezone.utc))
    try:
        staging.mkdir()
        counts = _materialise(report, staging)
        digests = {r: h for r, h, _ in report.files}
        for name, payload in ((INDEX_NAME, cat.index_json(res.dataset_id)), (EFORMS_NAME, cat.eforms(res.dataset_id))):
            data = (json.dumps(payload, indent=1, ensure_ascii=False, default=str) + "\n").encode("utf-8")
            (staging / name).write_bytes(data)
            digests[name] = hashlib.sha3_256(data).hexdigest()
        manifest = Manifest(
            checkout_id=checkout_id, dataset_id=res.dataset_id, version=permit.version, request_id=request_id,
            permit_id=permit.permit_id, user=user, access_condition=permit.access_condition, created=created,
            files=digests, dataset_digest=permit.dataset_digest,
        )
        text = manifest.to_json().encode("utf-8")
        (staging / MANIFEST_NAME).write_bytes(text)
        for name in (INDEX_NAME, EFORMS_NAME, MANIFEST_NAME):
            os.chmod(staging / name, 0o444)
        _seal_dirs(staging)
        os.rename(staging, final)
    except BaseException:
        _remove_tree(staging)
        raise
    refresh_state(node, report)
    workspace = node.workspaces / checkout_id
    workspace.mkdir(parents=True, exist_ok=True)
    link_mode = next(iter(counts)) if len(counts) == 1 else "mixed"
    size = sum(s for _, _, s in report.files)
    with node.transaction() as db:
        db.execute(
            "INSERT INTO checkouts(checkout_id, request_id, permit_id, user, dataset_id, version, access_condition, "
            "path, workspace, created, link_mode, link_counts, files_count, size_bytes, dataset_digest, "
            "manifest_sha3, manifest) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (checkout_id, request_id, permit.permit_id, user, res.dataset_id, permit.version,
             permit.access_condition.value, str(final.relative_to(node.home)),
             str(workspace.relative_to(node.home)), created, link_mode, json.dumps(counts), len(manifest.files),
             size, permit.dataset_digest, hashlib.sha3_256(text).hexdigest(), json.dumps(manifest.to_dict())),
        )
        AuditTrail(node).append("checkout.create", user=user, dataset_ids=[res.dataset_id], details={
            "checkout_id": checkout_id, "request_id": request_id, "permit_id": permit.permit_id,
            "version": permit.version, "dataset_digest": permit.dataset_digest,
            "access_condition": permit.access_condition.value, "files": len(manifest.files),
            "link_counts": counts, "rehashed": report.rehashed,
        })
    return get(checkout_id, node=node)


def _materialise(report: Any, dest: Path) -> dict[str, int]:
    """Hard-link every file into ``dest`` (reflink, then copy, where linking is impossible); all read-only."""
    counts: collections.Counter[str] = collections.Counter()
    made: set[str] = set()
    src_base, dst_base = str(report.root) + os.sep, str(dest) + os.sep
    for relpath, _, _ in report.files:
        parent = relpath.rpartition("/")[0]
        if parent and parent not in made:
            os.makedirs(dst_base + parent, exist_ok=True)
            made.add(parent)
        src, dst = src_base + relpath, dst_base + relpath
        st = os.lstat(src)
        try:
            os.link(src, dst, follow_symlinks=False)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES):
                raise
            counts[_clone_or_copy(Path(src), Path(dst))] += 1
            os.chmod(dst, 0o444)
            continue
        counts["hardlink"] += 1
        if st.st_mode & 0o222:  # the link shares the datalake inode: the datalake file becomes read-only too
            os.chmod(dst, stat_ro(st.st_mode))
    return dict(counts)


def stat_ro(mode: int) -> int:
    return mode & 0o555 & 0o7777 | 0o444


def _clone_or_copy(src: Path, dst: Path) -> str:
    import fcntl

    with src.open("rb") as fin, dst.open("wb") as fout:
        try:
            fcntl.ioctl(fout.fileno(), _FICLONE, fin.fileno())
            return "reflink"
        except OSError:
            shutil.copyfileobj(fin, fout, 1 << 20)
    shutil.copystat(src, dst)
    return "copy"


def _seal_dirs(root: Path) -> None:
    """Directories 0555, deepest first, the checkout root last."""
    dirs = [Path(d) for d, _, _ in os.walk(root)]
    for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
        os.chmod(d, 0o555)


def _remove_tree(root: Path) -> None:
    if not root.exists():
        return
    for d, _, _ in os.walk(root):
        os.chmod(d, 0o755)
    shutil.rmtree(root)
