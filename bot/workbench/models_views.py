"""The model history page: every model trainers trained, its scores, and what is in service.

Read-only: models are trained, gated, deployed and rolled back with ``python -m bot.trainer``.
"""
from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.store.accounts import Role
from bot.trainer.registry import Registry
from bot.workbench.auth import require_role
from bot.workbench.keys import MODEL_REGISTRY, in_thread, settings
from bot.workbench.views import render

STATUS_LABELS = {"deployed": "在用", "retired": "已下线", "refused": "未通过评测",
                 "candidate": "待上线"}


@require_role(Role.TRAINER, Role.SUPERVISOR)
async def models_page(request: web.Request) -> web.StreamResponse:
    """GET /trainer/models: the registry, newest first."""
    registry = request.app.get(MODEL_REGISTRY) or Registry(settings(request).model_registry)
    records = await in_thread(registry.all)
    replicas = await in_thread(registry.replicas)
    rows = [{
        "id": r.id, "file": Path(r.file).name, "status": r.status,
        "status_label": STATUS_LABELS.get(r.status, r.status),
        "macro_f1": f"{r.macro_f1:.4f}" if r.macro_f1 is not None else "—",
        "trained_at": r.trained_at.replace("T", " "),
        "deployed_at": (r.deployed_at or "").replace("T", " "), "data_hash": r.data_hash[:8],
        "previous": r.previous, "reasons": r.reasons, "note": r.note,
        "replicas": [url for url, model in replicas.items() if model == r.id],
    } for r in reversed(records)]
    return render(request, "models.html", {"rows": rows})


def setup_routes(app: web.Application) -> None:
    """The model history route."""
    app.router.add_get("/trainer/models", models_page, name="models")
