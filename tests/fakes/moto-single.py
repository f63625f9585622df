#!/usr/bin/env python3
"""moto_server, served single-threaded: every request is applied whole
before the next one starts.

moto's DynamoDB takes no lock, so under the default threaded server a
conditional write or a transaction is not atomic against a concurrent one
(../shared/docs/aws-notes.md section 10: two winners of one conditional
UpdateItem in 3 of 30 trials, cancelled transactions' writes left behind
in 20 of 20). Race tests of the store need the real atomicity DynamoDB
gives, so they use this server. Usage: moto-single.py HOST PORT
"""
import sys

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: moto-single.py HOST PORT")
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(sys.argv[1], int(sys.argv[2]), app, threaded=False, processes=1)


if __name__ == "__main__":
    main()
