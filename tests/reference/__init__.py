"""Tests of workbench.reference: the embedded endpoint over real loopback HTTP."""
