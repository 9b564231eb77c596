from django.contrib.auth.models import Group

from accounts.roles import ALL_ROLES, COMPLIANCE, OPERATIONS, READ_ONLY, user_has_role


def test_every_role_group_exists_after_migrate(db):
    # given a migrated database / then the three role groups exist with permissions
    assert set(Group.objects.filter(name__in=ALL_ROLES).values_list("name", flat=True)) == set(ALL_ROLES)
    for role in ALL_ROLES:
        assert Group.objects.get(name=role).permissions.exists()


def test_operations_may_post_adjustments_and_manage_but_not_freeze(operations_user):
    assert operations_user.has_perm("operations.post_adjustment")
    assert operations_user.has_perm("operations.reverse_transfer")
    assert operations_user.has_perm("accounts.change_client")
    assert operations_user.has_perm("accounts.add_apikey")
    assert operations_user.has_perm("broker.change_order")
    assert operations_user.has_perm("broker.change_rate")
    assert not operations_user.has_perm("operations.freeze_user")
    assert not operations_user.has_perm("operations.change_reviewitem")
    assert not operations_user.has_perm("ledger.change_journalentry")


def test_compliance_reads_everything_works_reviews_and_freezes_but_cannot_adjust(compliance_user):
    assert compliance_user.has_perm("ledger.view_journalentry")
    assert compliance_user.has_perm("broker.view_order")
    assert compliance_user.has_perm("audit.view_auditevent")
    assert compliance_user.has_perm("operations.change_reviewitem")
    assert compliance_user.has_perm("operations.freeze_user")
    assert not compliance_user.has_perm("operations.post_adjustment")
    assert not compliance_user.has_perm("accounts.change_client")


def test_read_only_views_and_changes_nothing(read_only_user):
    assert read_only_user.has_perm("accounts.view_client")
    assert read_only_user.has_perm("ledger.view_account")
    assert read_only_user.has_perm("operations.view_dashboard")
    granted = read_only_user.get_all_permissions()
    assert granted and all(".view_" in permission for permission in granted)


def test_user_has_role_is_what_the_staff_api_checks(operations_user, compliance_user, read_only_user, superuser):
    assert user_has_role(operations_user, OPERATIONS)
    assert not user_has_role(operations_user, COMPLIANCE)
    assert user_has_role(compliance_user, COMPLIANCE, READ_ONLY)
    assert user_has_role(read_only_user, READ_ONLY)
    assert user_has_role(superuser, OPERATIONS)


def test_nobody_may_change_or_delete_audit_events(operations_user, compliance_user, read_only_user):
    for user in (operations_user, compliance_user, read_only_user):
        assert not user.has_perm("audit.change_auditevent")
        assert not user.has_perm("audit.delete_auditevent")
