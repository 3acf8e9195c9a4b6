"""Checkouts: approved dataset versions as read-only folders of hard links, with manifests and integrity checks.

>>> from eucaim_lab import checkout                                      # doctest: +SKIP
>>> [co] = checkout.checkout("REQ-0123456789ab")                         # doctest: +SKIP
>>> checkout.verify(co.checkout_id).ok                                   # doctest: +SKIP
True
>>> checkout.remove(co.checkout_id)["workspace_action"]                  # doctest: +SKIP
'removed'
"""

from ._checkout import Checkout, checkout, get, guard_folder, list_checkouts, open, require_allowed
from ._manifest import Manifest, dataset_digest, sha3_file
from ._remove import remove
from ._verify import VerifyReport, verify, verify_folder

__all__ = [
    "Checkout",
    "Manifest",
    "VerifyReport",
    "checkout",
    "dataset_digest",
    "get",
    "guard_folder",
    "list_checkouts",
    "open",
    "remove",
    "require_allowed",
    "sha3_file",
    "verify",
    "verify_folder",
]
