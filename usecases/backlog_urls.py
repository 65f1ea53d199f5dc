"""The organization's backlog under /o/<org_slug>/backlog/ (a use case's own is in
`usecases.urls`)."""

from django.urls import path

from usecases.views import backlog

urlpatterns = [
    path("", backlog.BacklogPageView.as_view(), name="backlog"),
    path("backlog.csv", backlog.BacklogCsvView.as_view(), name="backlog_csv"),
    path("rank/", backlog.BacklogRankView.as_view(), name="backlog_rank"),
    path("rank/reset/", backlog.BacklogRankResetView.as_view(), name="backlog_rank_reset"),
    path("views/", backlog.BacklogViewSaveView.as_view(), name="backlog_view_save"),
    path("views/<int:view>/delete/", backlog.BacklogViewDeleteView.as_view(),
         name="backlog_view_delete"),
    path("items/<int:item>/", backlog.BacklogItemView.as_view(), name="backlog_item"),
]  # fmt: skip
