"""The floor: the least a Django form page can cost on this stack, to compare the intake with.

A 10-field form, validated, and one ORM insert; GET renders it, a valid POST stores a row and
redirects (as every intake page does). It runs behind exactly the clinic's middleware, so the
difference from an intake page is the app's own work (sessions, the encounter, crispy forms...).
"""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from .models import FloorEntry


class FloorForm(forms.Form):
    name = forms.CharField(max_length=200)
    email = forms.EmailField()
    phone = forms.CharField(max_length=30, required=False)
    born = forms.DateField()
    visit = forms.DateField()
    age = forms.IntegerField(min_value=0, max_value=130)
    colour = forms.ChoiceField(choices=[(c, c.title()) for c in ("red", "green", "blue", "other")])
    severity = forms.ChoiceField(
        choices=[(c, c.title()) for c in ("mild", "moderate", "severe")], widget=forms.RadioSelect
    )
    consent = forms.BooleanField()
    notes = forms.CharField(widget=forms.Textarea, required=False)


def floor(request: HttpRequest) -> HttpResponse:
    form = FloorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        FloorEntry.objects.create(**form.cleaned_data)
        return redirect("bench_floor")
    return render(request, "benchmarks/floor.html", {"form": form})
