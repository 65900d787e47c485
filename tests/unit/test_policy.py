"""The policy rule language and Glance's default image rules (glance-facts.md §12)."""

from __future__ import annotations

import pytest

from shared.domain.context import RequestContext
from shared.domain.errors import Forbidden
from shared.domain.policy import Policy, PolicyError, image_target

POLICY = Policy.default()


def ctx(project: str, *roles: str) -> RequestContext:
    return RequestContext.from_roles("u", project, list(roles))


def allows(rule: str, caller: RequestContext, owner: str = "p1", visibility: str = "private") -> bool:
    return POLICY.allows(rule, caller, image_target(caller, owner, visibility))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True), ("@", True), ("!", False),
        ("role:member", True), ("role:admin", False), ("not role:admin", True),
        ("role:admin or role:member", True), ("role:admin and role:member", False),
        ("(role:admin or role:member) and project_id:%(owner)s", True),
        ("((role:member)) and not (project_id:%(owner)s)", False),
        ("'private':%(visibility)s", True), ("'public':%(visibility)s", False),
        ("project_id:%(member_id)s", False),
    ],
)  # fmt: skip
def test_rule_language(text: str, expected: bool) -> None:
    policy = Policy({"default": "", "x": text})
    caller = ctx("p1", "member")
    assert policy.allows("x", caller, {"owner": "p1", "visibility": "private", "member_id": None}) is expected


def test_rule_references_and_errors() -> None:
    policy = Policy({"default": "", "base": "role:member", "x": "rule:base and project_id:%(owner)s"})
    assert policy.allows("x", ctx("p1", "member"), {"owner": "p1"})
    assert not policy.allows("x", ctx("p2", "member"), {"owner": "p1"})
    with pytest.raises(PolicyError):
        Policy({"default": "", "x": "rule:missing"})
    with pytest.raises(PolicyError):
        Policy({"default": "", "x": "(role:a"})
    with pytest.raises(PolicyError):
        Policy({"default": "", "x": "role:a role:b"})


def test_implied_roles() -> None:
    assert ctx("p", "admin").roles == {"admin", "member", "reader"}
    assert ctx("p", "member").roles == {"member", "reader"}


def test_reader_reads_but_cannot_write_or_download() -> None:
    reader = ctx("p1", "reader")
    assert allows("get_image", reader) and allows("get_images", reader)
    for rule in ("add_image", "modify_image", "delete_image", "upload_image", "download_image", "deactivate"):
        assert not allows(rule, reader), rule


def test_member_of_owning_project_writes() -> None:
    member = ctx("p1", "member")
    for rule in ("modify_image", "delete_image", "upload_image", "download_image", "deactivate", "reactivate",
                 "communitize_image", "add_member"):  # fmt: skip
        assert allows(rule, member), rule
    assert not allows("publicize_image", member)
    assert not allows("copy_image", member)


def test_other_project_member() -> None:
    other = ctx("p2", "member")
    assert not allows("get_image", other, visibility="private")
    assert allows("get_image", other, visibility="public")
    assert allows("get_image", other, visibility="shared")  # the membership check is the database's job
    assert not allows("modify_image", other, visibility="public")
    assert allows("download_image", other, visibility="community")
    assert allows("modify_member", other, visibility="shared")  # the member project accepts or rejects


def test_admin_does_everything() -> None:
    root = ctx("elsewhere", "admin")
    for rule in ("get_image", "modify_image", "delete_image", "publicize_image", "copy_image", "tasks_api_access"):
        assert allows(rule, root), rule


def test_add_image_only_for_own_project() -> None:
    member = ctx("p1", "member")
    target = {"project_id": "p1", "owner": "p1", "visibility": "shared", "member_id": None}
    assert POLICY.allows("add_image", member, target)
    elsewhere = {"project_id": "p2", "owner": "p2", "visibility": "shared", "member_id": None}
    with pytest.raises(Forbidden, match="add_image"):
        POLICY.enforce("add_image", member, elsewhere)
