"""An embedded MQTT 3.1.1 development broker (amqtt) for machines without mosquitto."""

import asyncio
import logging
import signal

logger = logging.getLogger(__name__)


def run_dev_broker(host: str = "127.0.0.1", port: int = 1883) -> None:
    """Run amqtt on host:port until SIGINT/SIGTERM (anonymous, no persistence)."""
    from amqtt.broker import Broker

    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    broker = Broker(config, loop=loop)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def main() -> None:
        """Start, wait for a stop signal, shut down."""
        await broker.start()
        logger.info("embedded amqtt broker on %s:%d (MQTT 3.1.1 only)", host, port)
        await stop.wait()
        await broker.shutdown()

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()


if __name__ == "__main__":
    import sys

    logging.basicConfig(level=logging.INFO)
    run_dev_broker(port=int(sys.argv[1]) if len(sys.argv) > 1 else 1883)
