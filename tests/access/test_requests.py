"""Access requests follow the Negotiator v3 lifecycle; only a dataset's data holder decides on it."""

from __future__ import annotations

import pytest

from eucaim_lab import access
from eucaim_lab._errors import AccessDeniedError, ConflictError, InvalidInputError, NotFoundError
from eucaim_lab.access import RequestStatus, ResourceStatus


def test_request_is_under_review_with_access_conditions_indicated(lake):
    req = access.request(["lung-a", "lung-b"], "Radiomics of lung nodules", node=lake)
    assert req.request_id.startswith("REQ-") and len(req.request_id) == 16
    assert req.user == "researcher"
    assert req.status is RequestStatus.UNDER_REVIEW
    assert {r.dataset_id: r.holder for r in req.resources} == {"lung-a": "hospital-a", "lung-b": "hospital-b"}
    assert all(r.status is ResourceStatus.ACCESS_CONDITIONS_INDICATED for r in req.resources)
    assert req.resource("lung-a").access_condition.value == "IN_SITU_PROCESSING"
    assert access.get(req.request_id, node=lake) == req
    assert [r.request_id for r in access.list_requests("researcher", node=lake)] == [req.request_id]
    assert access.list_requests("somebody-else", node=lake) == []
    assert [r.request_id for r in access.list_requests(holder="hospital-b", node=lake)] == [req.request_id]
    assert access.list_requests(holder="hospital-z", node=lake) == []


def test_each_holder_decides_on_their_dataset_and_the_request_concludes(lake):
    req = access.request(["lung-a", "lung-b"], "Radiomics", node=lake)
    after_a = access.approve(req.request_id, "hospital-a", node=lake)
    assert after_a.status is RequestStatus.IN_PROGRESS
    res_a = after_a.resource("lung-a")
    assert res_a.status is ResourceStatus.RESOURCE_MADE_AVAILABLE
    assert res_a.decided_by == "hospital-a" and res_a.permit_id.startswith("PERMIT-")
    assert after_a.resource("lung-b").status is ResourceStatus.ACCESS_CONDITIONS_INDICATED

    done = access.decline(req.request_id, "hospital-b", reason="no ethics approval", node=lake)
    assert done.status is RequestStatus.CONCLUDED
    assert done.resource("lung-b").status is ResourceStatus.RESOURCE_DECLINED
    assert done.resource("lung-b").reason == "no ethics approval"
    assert done.resource("lung-b").permit_id is None


def test_all_declined_means_declined(lake):
    req = access.request(["lung-b"], "x-ray study", node=lake)
    assert access.decline(req.request_id, "hospital-b", node=lake).status is RequestStatus.DECLINED


def test_only_the_data_holder_may_decide(lake):
    req = access.request(["lung-a", "lung-b"], "Radiomics", node=lake)
    with pytest.raises(AccessDeniedError, match="not the data holder"):
        access.decline(req.request_id, "mallory", node=lake)
    with pytest.raises(AccessDeniedError, match="Only the data holder of 'lung-b'"):
        access.approve(req.request_id, "hospital-a", dataset_id="lung-b", node=lake)
    with pytest.raises(AccessDeniedError):
        access.decline(req.request_id, "researcher", dataset_id="lung-a", node=lake)
    assert access.get(req.request_id, node=lake) == req  # nothing changed
    assert lake.db.execute("SELECT COUNT(*) FROM access_permits").fetchone()[0] == 0


def test_a_decided_dataset_cannot_be_decided_again(lake):
    req = access.request(["lung-a"], "Radiomics", node=lake)
    access.approve(req.request_id, "hospital-a", node=lake)
    with pytest.raises(ConflictError):
        access.decline(req.request_id, "hospital-a", dataset_id="lung-a", node=lake)


def test_requesting_again_what_is_already_granted_names_the_permit(lake):
    req = access.request(["lung-a"], "Radiomics", node=lake)
    permit_id = access.approve(req.request_id, "hospital-a", node=lake).resource("lung-a").permit_id
    with pytest.raises(ConflictError, match=permit_id) as info:
        access.request(["lung-a"], "Radiomics again", node=lake)
    assert info.value.details["permit_id"] == permit_id
    other = access.request(["lung-a"], "for a colleague", user="colleague", node=lake)  # another user may ask
    assert other.status is RequestStatus.UNDER_REVIEW


def test_abandon(lake):
    req = access.request(["lung-a", "lung-b"], "Radiomics", node=lake)
    with pytest.raises(AccessDeniedError, match="Only the requester"):
        access.abandon(req.request_id, user="intruder", node=lake)
    gone = access.abandon(req.request_id, node=lake)
    assert gone.status is RequestStatus.ABANDONED
    assert {r.status for r in gone.resources} == {ResourceStatus.RESOURCE_NOT_MADE_AVAILABLE}
    with pytest.raises(ConflictError):
        access.approve(req.request_id, "hospital-a", node=lake)


def test_remote_processing_may_be_requested_and_approved(lake):
    req = access.request(["remote-c"], "federated model", node=lake)
    assert access.approve(req.request_id, "hospital-a", node=lake).status is RequestStatus.CONCLUDED


@pytest.mark.parametrize("bad", ["../REQ-0123456789ab", "/etc/passwd", "REQ-0123456789ab/..", "REQ-XYZ", "", "REQ-0123456789ab\n"])
def test_bad_request_ids_are_refused(lake, bad):
    with pytest.raises(InvalidInputError, match="request id"):
        access.get(bad, node=lake)
    with pytest.raises(InvalidInputError):
        access.approve(bad, "hospital-a", node=lake)


@pytest.mark.parametrize("bad", ["../lung-a", "/abs", "lung a", "lung-a/../x", "..", "lung-a\n"])
def test_bad_dataset_ids_and_holders_are_refused(lake, bad):
    with pytest.raises(InvalidInputError):
        access.request([bad], "purpose", node=lake)
    req = access.request(["lung-a"], "Radiomics", node=lake)
    with pytest.raises(InvalidInputError):
        access.approve(req.request_id, bad, node=lake)


def test_unknown_dataset_and_empty_purpose(lake):
    with pytest.raises(NotFoundError, match="no-such"):
        access.request(["no-such"], "purpose", node=lake)
    with pytest.raises(InvalidInputError, match="purpose"):
        access.request(["lung-a"], "   ", node=lake)
    with pytest.raises(InvalidInputError, match="at least one"):
        access.request([], "purpose", node=lake)
    assert access.list_requests(node=lake) == []


def test_every_step_is_audited_with_use_record_fields(lake):
    req = access.request(["lung-a", "lung-b"], "Radiomics", node=lake)
    access.approve(req.request_id, "hospital-a", node=lake)
    access.decline(req.request_id, "hospital-b", node=lake)
    trail = access.AuditTrail(lake)
    actions = [e["action"] for e in trail.entries()]
    assert actions[0] == "access.request"
    assert "access.approve" in actions and "access.decline" in actions
    history = trail.entries(dataset_id="lung-b")
    assert [e["action"] for e in history if e["action"].startswith("access.d")] == ["access.decline"]
    assert all("lung-b" in e["dataset_ids"] for e in history)
    approve = next(e for e in trail.entries() if e["action"] == "access.approve")
    assert approve["user"] == "hospital-a"
    assert approve["details"]["permit_id"] == access.get(req.request_id, node=lake).resource("lung-a").permit_id
    assert approve["tool"]["name"] == "eucaim-lab" and approve["tool"]["version"]
    assert approve["environment"]["python"] and isinstance(approve["command_line"], list)
    assert trail.verify().ok
