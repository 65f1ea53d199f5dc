"""One page, its partials inside it: render the partial for htmx, the page otherwise."""

from django.shortcuts import render
from django.utils.cache import patch_vary_headers


def render_page(request, template: str, context: dict, *, partial: str = "", status: int = 200):
    """`template#partial` when htmx asks (and a partial is named), the whole page if not.

    The answer differs by the HX-Request header, so caches must keep both apart.
    """
    name = f"{template}#{partial}" if partial and getattr(request, "htmx", False) else template
    response = render(request, name, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response
