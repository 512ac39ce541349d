"""WSGI entry point for every API service of the conformance cloud, under gunicorn.

oslo.config parses ``sys.argv`` when a service loads its configuration; under gunicorn that is
gunicorn's own command line, which the services reject (the worker then crash-loops). This
module resets ``sys.argv`` first, then imports the real application:

- ``CONFORMANCE_WSGI_APP``: module that defines ``application`` (e.g. ``nova.wsgi.osapi_compute``);
- ``CONFORMANCE_WSGI_ARGS``: extra arguments, e.g. ``--config-file /dir/etc/cinder/cinder.conf``.
"""

import importlib
import os
import shlex
import sys

sys.argv = [sys.argv[0]] + shlex.split(os.environ.get("CONFORMANCE_WSGI_ARGS", ""))

application = importlib.import_module(os.environ["CONFORMANCE_WSGI_APP"]).application
