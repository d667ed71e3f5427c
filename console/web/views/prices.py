"""Model prices (admins): what each model costs per million input and output tokens, for cost figures."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from console.web import audit
from console.web.access import project_for_user
from console.web.models import ModelPrice, Role
from console.web.views.common import HtmxHttpRequest, render_page

MAX_PRICE = Decimal("100000")


def _price(raw: str) -> Decimal | None:
    try:
        value = Decimal(raw.strip().lstrip("$"))
    except InvalidOperation:
        return None
    return value if value.is_finite() and Decimal(0) <= value <= MAX_PRICE else None


@login_required
@require_http_methods(["GET", "POST"])
def prices(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    access = project_for_user(request.user, project_id, Role.ADMIN)
    errors: dict[str, str] = {}
    values = {"model": "", "input": "", "output": ""}
    if request.method == "POST":
        model = request.POST.get("model", "").strip()
        if request.POST.get("action") == "delete":
            ModelPrice.objects.filter(project=access.project, model=model).delete()
            audit.record(request, access.project, "price.delete", "model", model)
        else:
            values = {
                "model": model,
                "input": request.POST.get("input", ""),
                "output": request.POST.get("output", ""),
            }
            price_in, price_out = _price(values["input"]), _price(values["output"])
            if not model or len(model) > 256:
                errors["model"] = "Enter the model name as runs report it (for example gpt-4o)."
            if price_in is None:
                errors["input"] = "Enter a price from 0, in dollars per million input tokens."
            if price_out is None:
                errors["output"] = "Enter a price from 0, in dollars per million output tokens."
            if not errors:
                ModelPrice.objects.update_or_create(
                    project=access.project,
                    model=model,
                    defaults={
                        "input_per_million": price_in,
                        "output_per_million": price_out,
                        "updated_at": timezone.now(),
                    },
                )
                audit.record(
                    request,
                    access.project,
                    "price.set",
                    "model",
                    model,
                    input_per_million=str(price_in),
                    output_per_million=str(price_out),
                )
                values = {"model": "", "input": "", "output": ""}
    rows = ModelPrice.objects.filter(project=access.project).order_by("model")
    context = {"access": access, "rows": rows, "errors": errors, "values": values}
    return render_page(request, "web/prices.html", context, partial="prices", status=422 if errors else 200)
