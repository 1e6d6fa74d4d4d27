"""Single sign-on through an OpenID Connect provider (Dex, Keycloak, ADFS, ...)."""
