from django.urls import path

from context.views import gaps, home, inbox, knowledge, smes, sources

urlpatterns = [
    path("", home.ContextHomeView.as_view(), name="context_home"),
    path("inbox/", inbox.InboxView.as_view(), name="inbox"),
    path("sources/", sources.SourceListView.as_view(), name="source_list"),
    path("sources/new/", sources.SourceCreateView.as_view(), name="source_create"),
    path("sources/<int:source>/", sources.SourceEditView.as_view(), name="source_edit"),
    path(
        "sources/<int:source>/approval/",
        sources.SourceApprovalView.as_view(),
        name="source_approval",
    ),
    path("sources/<int:source>/verify/", sources.SourceVerifyView.as_view(), name="source_verify"),
    path("gaps/", gaps.GapListView.as_view(), name="gap_list"),
    path("gaps/new/", gaps.GapCreateView.as_view(), name="gap_create"),
    path("gaps/<int:gap>/", gaps.GapDetailView.as_view(), name="gap_detail"),
    path("gaps/<int:gap>/edit/", gaps.GapEditView.as_view(), name="gap_edit"),
    path("gaps/<int:gap>/route/", gaps.GapRouteView.as_view(), name="gap_route"),
    path("gaps/<int:gap>/status/", gaps.GapStatusView.as_view(), name="gap_status"),
    path(
        "gaps/<int:gap>/use-knowledge/",
        gaps.GapUseKnowledgeView.as_view(),
        name="gap_use_knowledge",
    ),
    path("gaps/<int:gap>/answer/", inbox.GapAnswerView.as_view(), name="gap_answer"),
    path("answers/<int:answer>/", inbox.AnswerDetailView.as_view(), name="answer_detail"),
    path("answers/<int:answer>/revise/", inbox.AnswerReviseView.as_view(), name="answer_revise"),
    path("knowledge/", knowledge.KnowledgeListView.as_view(), name="knowledge_list"),
    path("knowledge/new/", knowledge.KnowledgeWriteView.as_view(), name="knowledge_create"),
    path("knowledge/<int:item>/", knowledge.KnowledgeDetailView.as_view(), name="knowledge_detail"),
    path(
        "knowledge/<int:item>/revise/",
        knowledge.KnowledgeReviseView.as_view(),
        name="knowledge_revise",
    ),
    path(
        "knowledge/<int:item>/retire/",
        knowledge.KnowledgeRetireView.as_view(),
        name="knowledge_retire",
    ),
    path("smes/", smes.SmeListView.as_view(), name="sme_list"),
    path("smes/<int:membership>/", smes.SmeEditView.as_view(), name="sme_edit"),
    path("settings/", smes.ContextSettingsView.as_view(), name="context_settings"),
]
