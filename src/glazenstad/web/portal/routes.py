"""Portal routes (Dutch, B1), rendered with Jinja2 and styled with NL Design System CSS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from glazenstad.web.state import AppState

WEB_DIR = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
router = APIRouter(include_in_schema=False)

ERROR_TEXT = {
    404: ("Pagina niet gevonden", "Deze pagina bestaat niet (meer). Controleer het adres."),
    405: ("Niet toegestaan", "Deze actie is op deze pagina niet mogelijk."),
}


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.glazenstad
    return state


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(
        request, template, {"request": request, **context}, status_code=status_code
    )


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    snapshot = _state(request).register.snapshot()
    return render(request, "home.html", organisations=snapshot.ordered())


def error_page(request: Request, status: int) -> HTMLResponse:
    title, text = ERROR_TEXT.get(status, ("Er ging iets mis", "Probeer het later opnieuw."))
    return render(request, "error.html", status_code=status, title=title, text=text)


def mount(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")
