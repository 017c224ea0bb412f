"""The site duty lease on both backends: one holder, takeover after expiry, clean release."""

import time

from gateway.lease import Lease, db_now_ms, holder
from gateway.store import Store


def test_one_holder_until_it_expires_or_releases(store_target: str) -> None:
    store_a, store_b = Store(store_target), Store(store_target)
    try:
        a, b = Lease("gw-a", ttl_ms=400), Lease("gw-b", ttl_ms=400)
        assert holder(store_a.conn) is None
        assert a.renew(store_a.conn) and not b.renew(store_b.conn)
        first = holder(store_b.conn)
        assert first is not None and first.holder == "gw-a" and first.live
        time.sleep(0.2)
        assert a.renew(store_a.conn) and not b.renew(store_b.conn)  # renewed: still a's
        renewed = holder(store_a.conn)
        assert renewed is not None and renewed.since_ms == first.since_ms
        assert renewed.expires_ms > first.expires_ms
        time.sleep(0.5)  # a stops renewing (as if SIGKILLed): the lease runs out
        assert b.renew(store_b.conn) and not a.renew(store_a.conn)
        taken = holder(store_a.conn)
        assert taken is not None and taken.holder == "gw-b" and taken.since_ms > first.expires_ms
        b.release(store_b.conn)
        assert not b.held and a.renew(store_a.conn)  # at once, no expiry wait
    finally:
        store_a.close()
        store_b.close()


def test_database_clock_is_epoch_ms(store_target: str) -> None:
    with Store(store_target) as store:
        assert abs(db_now_ms(store.conn) - time.time() * 1000) < 2000
