# (c) 2005 Ian Bicking and contributors; written for Paste (http://pythonpaste.org)
# Licensed under the MIT license: http://www.opensource.org/licenses/mit-license.php
"""``python -m paste.script`` behaves exactly like ``paster``."""
from paste.script.command import run

if __name__ == "__main__":
    run()
