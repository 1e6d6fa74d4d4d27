"""django-auth-ldap settings built from LDAP_* environment variables.

Kept apart from portal/settings.py because python-ldap is only imported when a directory
is configured; a laptop without LDAP never loads it.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured

from common.env import env_bool, env_int, env_secret, env_str


def ldap_settings() -> dict[str, Any]:
    import ldap
    from django_auth_ldap.config import (
        ActiveDirectoryGroupType,
        GroupOfNamesType,
        GroupOfUniqueNamesType,
        LDAPSearch,
        PosixGroupType,
    )

    user_base = env_str("LDAP_USER_SEARCH_BASE")
    group_base = env_str("LDAP_GROUP_SEARCH_BASE")
    if not user_base:
        raise ImproperlyConfigured("LDAP_SERVER_URI is set, so LDAP_USER_SEARCH_BASE is required")
    group_types = {
        "groupOfNames": GroupOfNamesType,
        "groupOfUniqueNames": GroupOfUniqueNamesType,
        "posixGroup": PosixGroupType,
        "activeDirectory": ActiveDirectoryGroupType,
    }
    group_type_name = env_str("LDAP_GROUP_TYPE", "groupOfNames")
    if group_type_name not in group_types:
        raise ImproperlyConfigured(
            f"LDAP_GROUP_TYPE must be one of {', '.join(group_types)}, got {group_type_name!r}"
        )
    group_filter = {
        "groupOfNames": "(objectClass=groupOfNames)",
        "groupOfUniqueNames": "(objectClass=groupOfUniqueNames)",
        "posixGroup": "(objectClass=posixGroup)",
        "activeDirectory": "(objectClass=group)",
    }[group_type_name]
    timeout = env_int("LDAP_TIMEOUT", 5, minimum=1)
    conf: dict[str, Any] = {
        "AUTH_LDAP_SERVER_URI": env_str("LDAP_SERVER_URI"),
        "AUTH_LDAP_BIND_DN": env_str("LDAP_BIND_DN"),
        "AUTH_LDAP_BIND_PASSWORD": env_secret("LDAP_BIND_PASSWORD"),
        "AUTH_LDAP_START_TLS": env_bool("LDAP_START_TLS", False),
        "AUTH_LDAP_USER_SEARCH": LDAPSearch(
            user_base, ldap.SCOPE_SUBTREE, env_str("LDAP_USER_FILTER", "(uid=%(user)s)")
        ),
        "AUTH_LDAP_USER_ATTR_MAP": {"first_name": "givenName", "last_name": "sn", "email": "mail"},
        "AUTH_LDAP_ALWAYS_UPDATE_USER": True,
        # Groups are mirrored at every login: they decide which knowledge sources a user reads.
        "AUTH_LDAP_MIRROR_GROUPS": True,
        "AUTH_LDAP_CACHE_TIMEOUT": 0,
        "AUTH_LDAP_CONNECTION_OPTIONS": {
            ldap.OPT_NETWORK_TIMEOUT: timeout,
            ldap.OPT_TIMEOUT: timeout,
            ldap.OPT_REFERRALS: 0,
        },
    }
    if group_base:
        conf["AUTH_LDAP_GROUP_SEARCH"] = LDAPSearch(group_base, ldap.SCOPE_SUBTREE, group_filter)
        conf["AUTH_LDAP_GROUP_TYPE"] = group_types[group_type_name](name_attr="cn")
    return conf
