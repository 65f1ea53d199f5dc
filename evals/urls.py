from django.urls import path

from evals import views

urlpatterns = [
    path("", views.EvalsHomeView.as_view(), name="evals_home"),
]
