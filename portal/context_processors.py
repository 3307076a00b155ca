from django.conf import settings

from portal.access import memberships_for_user
from portal.current_org import current_membership
from portal.notifications import unread_count


def servicebay(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"site_name": settings.SITE_NAME}
    membership = current_membership(request)
    return {
        "site_name": settings.SITE_NAME,
        "current_membership": membership,
        "current_org": membership.org if membership else None,
        "user_memberships": memberships_for_user(user),
        "inbox_unread": unread_count(user),
    }
