"""Tests of workbench.wire: the client, the classifier, and the hostile servers they face."""
