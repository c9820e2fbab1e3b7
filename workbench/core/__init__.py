"""The vocabulary every layer speaks: results and symptom classes, errors, configuration, secrets.

May import: nothing else of the workbench (it is the bottom layer).
"""
