"""What a configuration, manifest or bundle names instead of holding: a variable, a function.

A key lives in an environment variable and is recorded only by that variable's NAME; a team's
parser or acceptance check is recorded by its import ref. The configuration checks both when it
is read, and a bundle checks them again when it is verified or resolved, with these same patterns.
"""

from __future__ import annotations

import re

VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # an environment variable's name, never a key
IMPORT_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")  # "package.module:function"
