from django.urls import path

from apps.accounts import views
from apps.accounts.oidc import views as oidc_views

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("profile/", views.profile, name="profile"),
    path("tokens/<int:token_id>/revoke/", views.revoke_token, name="revoke_token"),
    path("messenger/link/<str:code>/", views.messenger_link, name="messenger_link"),
    path("messenger/<int:identity_id>/unlink/", views.messenger_unlink, name="messenger_unlink"),
    path("oidc/login/", oidc_views.start, name="oidc_login"),
    path("oidc/callback/", oidc_views.callback, name="oidc_callback"),
    path("oidc/link/", oidc_views.link, name="oidc_link"),
]
