"""Tests of workbench.render: reports executed with papermill, HTML in Chromium, JUnit, prune."""
