"""Tests of workbench.rollback: bundles, plans and the ten-step readiness."""
