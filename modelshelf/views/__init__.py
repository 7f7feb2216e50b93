"""App views: expose the store's ``views/`` to ComfyUI, A1111/Forge, InvokeAI or a folder."""

from modelshelf.views.apps import APPS, AppLayout
from modelshelf.views.comfyui import YamlPlan, check_root, plan_extra_paths
from modelshelf.views.plan import LinkAction, LinkConflict, LinkPlan, plan_app_links, plan_unlink
from modelshelf.views.sidecars import sync_sidecars

__all__ = ["APPS", "AppLayout", "LinkAction", "LinkConflict", "LinkPlan", "YamlPlan",
           "check_root", "plan_app_links", "plan_extra_paths", "plan_unlink", "sync_sidecars"]
