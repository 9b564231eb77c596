"""How each authentication class appears in the OpenAPI schema (securitySchemes)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A client backend: `Authorization: Api-Key <prefix>.<secret>`.",
        }


class EndUserTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.EndUserTokenAuthentication"
    name = "EndUserToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "One end user: a token minted by its client with POST /api/v1/users/{id}/tokens/.",
        }


class StaffJWTScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.StaffJWTAuthentication"
    name = "StaffJWT"
    priority = 1  # over drf-spectacular's generic simplejwt scheme

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A person (platform or client staff): access token from POST /api/v1/auth/token/.",
        }


class StaffSessionScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.StaffSessionAuthentication"
    name = "Session"
    priority = 1

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": "An admin session (browsable API); unsafe methods need the CSRF token.",
        }
