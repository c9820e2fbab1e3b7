"""Tests of workbench.core: configuration, secrets and personal data."""
