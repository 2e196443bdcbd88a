from django.urls import path

from tokens import oauth_views, session_views, views

urlpatterns = [
    path("refresh", views.RefreshView.as_view(), name="refresh"),
    path("logout", views.LogoutView.as_view(), name="logout"),
    path("logout-all", views.LogoutAllView.as_view(), name="logout-all"),
    path("logout-others", views.LogoutOthersView.as_view(), name="logout-others"),
    path("whoami", views.WhoAmIView.as_view(), name="whoami"),
    path("revoke", oauth_views.RevokeView.as_view(), name="revoke"),
    path("introspect", oauth_views.IntrospectView.as_view(), name="introspect"),
]

urlpatterns += [
    path("sessions", session_views.SessionListView.as_view(), name="sessions"),
    path("sessions/<str:id>", session_views.SessionDetailView.as_view(), name="session-detail"),
]
