"""Tests of workbench.probes: every probe against every scenario and against hostile servers."""
