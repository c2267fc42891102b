"""moto's DynamoDB and Secrets Manager server, one request at a time.

`moto_server` serves requests on threads, and moto applies a
TransactWriteItems step by step: two concurrent transactions can interleave
between checking their conditions and writing, which DynamoDB never does (it
serializes conflicting transactions). The tests therefore serve moto's own
application on a single thread. Usage: moto_serial.py HOST PORT
"""

import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

host, port = sys.argv[1], int(sys.argv[2])
run_simple(host, port, DomainDispatcherApplication(create_backend_app), threaded=False)
