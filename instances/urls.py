from django.urls import path

from instances import views

urlpatterns = [
    path("", views.instance_index, name="instances"),
    path("clusters/", views.cluster_list, name="cluster-list"),
    path("clusters/<int:pk>/check/", views.cluster_check, name="cluster-check"),
    path("clusters/<int:pk>/remove/", views.cluster_remove, name="cluster-remove"),
    path("<uuid:pk>/", views.instance_detail, name="instance-detail"),
    path("<uuid:pk>/update/", views.instance_update, name="instance-update"),
    path("<uuid:pk>/deprovision/", views.instance_deprovision, name="instance-deprovision"),
    path("<uuid:pk>/bind/", views.instance_bind, name="instance-bind"),
    path("<uuid:pk>/share/", views.instance_share, name="instance-share"),
    path("<uuid:pk>/shares/<int:share_id>/unshare/", views.instance_unshare, name="instance-unshare"),
    path("shared/<uuid:pk>/", views.shared_instance, name="shared-instance"),
    path("bindings/<uuid:pk>/", views.binding_detail, name="binding-detail"),
    path("bindings/<uuid:pk>/unbind/", views.binding_unbind, name="binding-unbind"),
]
