"""Identical PUTs racing each other (real concurrent requests on separate database connections)
create one instance; every answer is 202 with the same operation."""

from __future__ import annotations

import threading

from django.db import connection

from instances.models import Instance
from osbapi.tests.conftest import OSB, new_id


def test_concurrent_identical_provisions_create_one_instance(transactional_db, owner, org, platform, osb_type, cluster):
    iid = new_id()
    answers: list = []
    barrier = threading.Barrier(6)

    def put():
        try:
            barrier.wait()
            response = OSB(platform, osb_type).provision(iid)
            answers.append((response.status_code, response.json().get("operation")))
        finally:
            connection.close()

    threads = [threading.Thread(target=put) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Instance.objects.filter(osb_instance_id=iid).count() == 1
    assert {status for status, _ in answers} == {202}
    assert len({op for _, op in answers}) == 1
