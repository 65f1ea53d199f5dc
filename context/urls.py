from django.urls import path

from context import views

urlpatterns = [
    path("", views.ContextHomeView.as_view(), name="context_home"),
]
