from django.urls import path

from operations import views

app_name = "operations"

urlpatterns = [
    path("admin/dashboard/", views.dashboard, name="dashboard"),
]
