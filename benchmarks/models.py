"""The floor's table: one row per valid floor form, inserted by :mod:`benchmarks.floor`."""

from django.db import models


class FloorEntry(models.Model):
    name = models.CharField(max_length=200)
    email = models.EmailField()
    phone = models.CharField(max_length=30, blank=True)
    born = models.DateField()
    visit = models.DateField()
    age = models.PositiveSmallIntegerField()
    colour = models.CharField(max_length=16)
    severity = models.CharField(max_length=16)
    consent = models.BooleanField()
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name
