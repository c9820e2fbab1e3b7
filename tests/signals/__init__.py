"""Tests of workbench.signals: trigger rules over stores and over request logs."""
