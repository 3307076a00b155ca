from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def instance_index(request):
    return render(request, "instances/index.html")
