from django.urls import path

from instances import views

urlpatterns = [
    path("", views.instance_index, name="instances"),
    path("clusters/", views.cluster_list, name="cluster-list"),
    path("clusters/<int:pk>/check/", views.cluster_check, name="cluster-check"),
    path("clusters/<int:pk>/remove/", views.cluster_remove, name="cluster-remove"),
]
