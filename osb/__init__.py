"""The Open Service Broker API (2.17) as a plain library, used by both sides of Servicebay.

* ``osb.models`` — typed shapes of the catalog and of every response body, with validation;
* ``osb.errors`` — the spec's error codes, the exceptions the client raises, error bodies for brokers;
* ``osb.client`` — ``BrokerClient``: every endpoint over httpx, with the spec's headers and statuses;
* ``osb.orphans`` — ``needs_orphan_mitigation``: the spec's orphan mitigation table as a function.

No Django here (see ``osb/tests/test_no_django.py``).
"""

from osb.client import API_VERSION, BrokerClient, basic, bearer, poll
from osb.orphans import mitigation_target, needs_orphan_mitigation

__all__ = ["API_VERSION", "BrokerClient", "basic", "bearer", "mitigation_target", "needs_orphan_mitigation", "poll"]
