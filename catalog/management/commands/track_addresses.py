"""Follow registered Kubernetes services with the watch API and record their address as it changes."""

import contextlib

from django.core.management.base import BaseCommand

from catalog import tracking


class Command(BaseCommand):
    help = "Watch the Services behind registered services and keep their addresses current (runs until stopped)."

    def add_arguments(self, parser):
        parser.add_argument("--window", type=float, default=300, help="renew each watch after this many seconds")
        parser.add_argument("--once", action="store_true", help="list every cluster once and exit")

    def handle(self, *args, **options):
        if options["once"]:
            self.stdout.write(f"{tracking.sync_all()} address(es) changed")
            return
        self.stdout.write("Tracking registered service addresses (Ctrl-C to stop)")
        with contextlib.suppress(KeyboardInterrupt):
            tracking.run_forever(window=options["window"])
