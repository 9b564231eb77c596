from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Clients and users"

    def ready(self) -> None:
        from accounts.api.serializers import UserSerializer
        from accounts.models import User
        from events.registry import renderer_register

        # Events carry a user as GET /users/{id}/ renders it.
        renderer_register(User, lambda user: UserSerializer(user).data)
