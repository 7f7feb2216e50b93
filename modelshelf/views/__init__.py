"""App views: expose the store's ``views/`` to ComfyUI, A1111/Forge, InvokeAI or a folder."""

from modelshelf.views.apps import APPS, AppLayout
from modelshelf.views.plan import LinkAction, LinkConflict, LinkPlan, plan_app_links

__all__ = ["APPS", "AppLayout", "LinkAction", "LinkConflict", "LinkPlan", "plan_app_links"]
