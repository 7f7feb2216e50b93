"""The segmented, resumable, verified HTTP transfer engine (see ``engine.py`` for the story).

Nothing here knows about the store: ``download`` leaves a verified file in a staging directory
and the caller moves it where it belongs. What to fetch is an :class:`Endpoint`; how the network
may be used is a :class:`NetworkPolicy`.
"""

from modelshelf.transfer.disk import free_space_margin
from modelshelf.transfer.engine import DownloadResult, ProgressCallback, download, download_lock
from modelshelf.transfer.meta import RemoteMeta, probe
from modelshelf.transfer.policy import Endpoint, NetworkPolicy
from modelshelf.transfer.proxy import NO_PROXIES, ProxyRules
from modelshelf.transfer.remote import RemoteReader, open_remote

__all__ = [
    "NO_PROXIES",
    "DownloadResult",
    "Endpoint",
    "NetworkPolicy",
    "ProgressCallback",
    "ProxyRules",
    "RemoteMeta",
    "RemoteReader",
    "download",
    "download_lock",
    "free_space_margin",
    "open_remote",
    "probe",
]
