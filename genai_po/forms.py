"""Forms of accounts, organizations, members and tokens. They parse; services decide."""

from datetime import timedelta

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.validators import MaxLengthValidator
from django.utils import timezone

from genai_po import throttle
from genai_po.actors import client_ip
from genai_po.inputs import text_limit
from genai_po.models import User
from genai_po.roles import Action, Role, Scope, role_can


class SignUpForm(forms.Form):
    full_name = forms.CharField(max_length=150, required=False, label="Full name")
    email = forms.EmailField(label="Email address")
    password1 = forms.CharField(
        label="Password",
        widget=forms.PasswordInput,
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(label="Password again", widget=forms.PasswordInput)

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError("An account with this email already exists. Sign in instead.")
        return email

    def clean(self):
        data = super().clean()
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", "The two passwords differ.")
        elif p1:
            candidate = User(email=data.get("email", ""), full_name=data.get("full_name", ""))
            try:
                password_validation.validate_password(p1, candidate)
            except ValidationError as exc:
                self.add_error("password1", exc)
        return data


class SignInForm(AuthenticationForm):
    """Django's sign-in form behind the lockout and rate limit of `throttle`."""

    error_messages = {
        "invalid_login": "Wrong email or password.",
        "inactive": "This account is disabled.",
    }

    def clean(self):
        email = (self.cleaned_data.get("username") or "").strip().lower()
        ip = client_ip(self.request) if self.request else None
        if email:
            reason = throttle.signin_attempt(email=email, ip=ip)
            if reason:
                raise ValidationError(reason, code="throttled")
        try:
            data = super().clean()
        except ValidationError:
            if email:
                throttle.signin_failed(email=email, ip=ip)
            raise
        # Only a real sign-in resets the counter (an empty password authenticates nobody).
        if self.get_user() is not None:
            throttle.signin_succeeded(email=email, ip=ip)
        return data


class OrganizationForm(forms.Form):
    name = forms.CharField(max_length=120, label="Organization name")


class InvitationForm(forms.Form):
    email = forms.EmailField(label="Email address")
    role = forms.ChoiceField(choices=Role.choices)

    def __init__(self, *args, inviter_role: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = assignable_roles(inviter_role)
        self.fields["role"].initial = Role.VIEWER


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)

    def __init__(self, *args, actor_role: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = assignable_roles(actor_role)


def assignable_roles(actor_role: str) -> list[tuple[str, str]]:
    """Roles an actor may hand out: only owners hand out the owner role."""
    return [
        (value, label)
        for value, label in Role.choices
        if value != Role.OWNER or role_can(actor_role, Action.MANAGE_OWNERS)
    ]


EXPIRY_CHOICES = [("", "Never"), ("30", "In 30 days"), ("90", "In 90 days"), ("365", "In a year")]


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="Where the token is used, e.g. 'GitHub CI'.")
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple)
    expires_in = forms.ChoiceField(choices=EXPIRY_CHOICES, required=False, label="Expires")

    def clean_expires_in(self):
        days = self.cleaned_data.get("expires_in")
        return timezone.now() + timedelta(days=int(days)) if days else None


class AuditFilterForm(forms.Form):
    action = forms.CharField(required=False)
    actor = forms.CharField(required=False, label="Actor contains")
    object_type = forms.CharField(required=False, label="Object type")
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


def errors_into_form(form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form, by field where it names one."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


class TextLimitsMixin:
    """Text fields take their longest length from the model field of the same name (the one
    place limits live, genai_po.inputs), and the form shows it: the browser stops typing
    there, and a longer text posted anyway is refused on the field."""

    limits_model = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if not isinstance(field, forms.CharField) or self.limits_model is None:
                continue
            try:
                limit = text_limit(self.limits_model, name)
            except FieldDoesNotExist:
                continue
            if not limit:
                continue
            field.max_length = limit
            field.validators = [
                v for v in field.validators if not isinstance(v, MaxLengthValidator)
            ] + [MaxLengthValidator(limit)]
            field.widget.attrs["maxlength"] = str(limit)
            if isinstance(field.widget, forms.Textarea):
                hint = f"At most {limit:,} characters."
                field.help_text = f"{field.help_text} {hint}" if field.help_text else hint


class BoundedModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """A multiple choice of rows whose posted ids beyond 64 bits are an invalid choice, not
    a database error (SQLite cannot even bind them)."""

    def _check_values(self, value):
        for pk in value or []:
            try:
                number = int(str(pk))
            except (TypeError, ValueError):
                continue  # Django reports a non-number itself
            if not -(2**63) <= number < 2**63:
                raise ValidationError(
                    self.error_messages["invalid_choice"],
                    code="invalid_choice",
                    params={"value": str(pk)[:30]},
                )
        return super()._check_values(value)


class MemberChoiceField(forms.ModelChoiceField):
    """A member of the organization, shown by name."""

    def label_from_instance(self, obj):
        return obj.display_name


def members(organization, roles=None):
    """Users of the organization (with one of `roles`), for a drop-down."""
    from genai_po.models import Membership, User

    memberships = Membership.objects.for_org(organization)
    if roles is not None:
        memberships = memberships.filter(role__in=roles)
    return User.objects.filter(pk__in=memberships.values("user_id")).order_by("full_name", "email")
