"""Exec a program by name, so the demo can spawn non-Python children the same way."""

import os
import sys

os.execvp(sys.argv[1], sys.argv[1:])
