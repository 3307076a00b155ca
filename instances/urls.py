from django.urls import path

from instances import views

urlpatterns = [path("", views.instance_index, name="instances")]
