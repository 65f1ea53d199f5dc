"""Error pages that leak nothing: no paths, no object names, JSON under /api/."""

from django.http import JsonResponse
from django.shortcuts import render

_MESSAGES = {
    400: "The request could not be understood.",
    403: "You are not allowed to do this.",
    404: "There is nothing here.",
    500: "Something went wrong on our side. It has been logged.",
}


def _error(request, status: int, exception=None):
    message = _MESSAGES[status]
    if status == 403 and exception is not None and str(exception).startswith("Your role"):
        message = str(exception)  # says which action; names no object
    if request.path.startswith("/api/"):
        return JsonResponse({"message": message, "code": str(status)}, status=status)
    return render(request, f"{status}.html", {"message": message}, status=status)


def bad_request(request, exception=None):
    return _error(request, 400)


def permission_denied(request, exception=None):
    return _error(request, 403, exception)


def page_not_found(request, exception=None):
    return _error(request, 404)


def server_error(request):
    # No context processors: they may be what failed.
    if request.path.startswith("/api/"):
        return JsonResponse({"message": _MESSAGES[500], "code": "500"}, status=500)
    from django.http import HttpResponseServerError
    from django.template import loader

    return HttpResponseServerError(loader.get_template("500.html").render({}))
