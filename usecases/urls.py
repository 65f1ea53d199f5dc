from django.urls import path

from usecases import views

urlpatterns = [
    path("", views.UseCasesHomeView.as_view(), name="usecases_home"),
]
