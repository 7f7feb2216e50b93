"""The configuration as the plain value the transfer engine takes: ``transfer`` never sees
:class:`~modelshelf.config.Settings`, so every caller that downloads (pull, remote headers, the
team store) builds its :class:`NetworkPolicy` here, the same way."""

from __future__ import annotations

from modelshelf.config import Settings
from modelshelf.transfer import NetworkPolicy, ProxyRules


def network_policy(settings: Settings, source: str,
                   connections: int | None = None) -> NetworkPolicy:
    """The settings as the plain value the transfer engine takes (it never sees config): the
    transfer knobs, the source's timeout and TLS choice, the proxies; ``connections`` is a
    ``--connections`` flag that beats the configured count."""
    transfer, conf = settings.transfer, settings.source(source)
    return NetworkPolicy(
        connections=connections or transfer.connections, retries=transfer.retries,
        timeout=conf.timeout_seconds, stall_seconds=transfer.stall_seconds,
        verify_ssl=conf.verify_ssl,
        proxies=ProxyRules(settings.proxies.reveal(), settings.proxies.no_proxy))
