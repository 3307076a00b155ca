from django.contrib import admin

from portal.models import ApiToken, AuditEvent, Membership, Notification, Operation, Organization, Team


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "monthly_spend_limit", "currency"]
    search_fields = ["name", "slug"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "org"]
    list_filter = ["org"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "org", "role"]
    list_filter = ["org", "role"]


@admin.register(Operation)
class OperationAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "state", "org", "attempts", "created_at"]
    list_filter = ["state", "kind"]
    readonly_fields = [f.name for f in Operation._meta.fields]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "revoked_at"]
    readonly_fields = ["key_hash", "prefix"]


admin.site.register(Notification)
admin.site.register(AuditEvent)
