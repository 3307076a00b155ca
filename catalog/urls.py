from django.urls import path

from catalog import views

urlpatterns = [
    path("", views.catalog_index, name="catalog"),
    path("new/", views.type_create, name="catalog-type-new"),
    path("import/", views.import_wizard, name="catalog-import"),
    path("services/", views.service_list, name="catalog-services"),
    path("services/new/", views.service_create, name="catalog-service-new"),
    path("services/<slug:org_slug>/<slug:slug>/", views.service_detail, name="catalog-service"),
    path("brokers/", views.broker_list, name="catalog-brokers"),
    path("brokers/new/", views.broker_create, name="catalog-broker-new"),
    path("brokers/<int:pk>/", views.broker_detail, name="catalog-broker"),
    path("<slug:slug>/", views.type_detail, name="catalog-type"),
    path("<slug:slug>/edit/", views.type_edit, name="catalog-type-edit"),
    path("<slug:slug>/share/", views.type_share, name="catalog-type-share"),
    path("<slug:slug>/osb/", views.type_osb, name="catalog-type-osb"),
    path("<slug:slug>/deploy/", views.deploy, name="catalog-deploy"),
    path("<slug:slug>/versions/new/", views.version_create, name="catalog-version-new"),
    path("<slug:slug>/versions/<str:version>/", views.version_detail, name="catalog-version"),
    path("<slug:slug>/plans/new/", views.plan_edit, name="catalog-plan-new"),
    path("<slug:slug>/plans/<slug:plan>/", views.plan_edit, name="catalog-plan"),
]
