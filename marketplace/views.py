from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def marketplace_index(request):
    return render(request, "marketplace/index.html")


@login_required
def approvals(request):
    return render(request, "marketplace/approvals.html")
