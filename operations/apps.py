from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from events.registry import renderer_register
        from operations.api.serializers import PendingWithdrawalSerializer
        from operations.metrics import metrics_register
        from operations.models import PendingWithdrawal
        from operations.roles import roles_sync_after_migrate

        # Apps migrated after ours (new broker models, say) get their permissions only at the end
        # of `migrate`; re-granting then keeps the roles complete without a migration per model.
        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="operations_roles_sync")
        metrics_register()
        # Events carry a held withdrawal as GET /pending-withdrawals/{id}/ renders it.
        renderer_register(PendingWithdrawal, lambda pending: PendingWithdrawalSerializer(pending).data)
