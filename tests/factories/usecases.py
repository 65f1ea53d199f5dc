"""Factories of the use-case area; related objects stay in the use case's organization."""

import factory

from tests.factories import OrganizationFactory
from usecases.models import Requirement, RequirementVerification, UseCase


class UseCaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UseCase

    organization = factory.SubFactory(OrganizationFactory)
    number = factory.Sequence(lambda n: n + 1000)
    title = factory.Sequence(lambda n: f"Use case {n}")
    problem = "Agents spend minutes finding the refund policy for each ticket."
    workflow = "Tier-1 support answers refund questions."
    target_users = "Tier-1 support agents"


class RequirementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Requirement

    use_case = factory.SubFactory(UseCaseFactory)
    organization = factory.SelfAttribute("use_case.organization")
    number = factory.Sequence(lambda n: n + 1)
    statement = "Answers cite the refund policy section they rely on."
    position = factory.SelfAttribute("number")


class VerificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RequirementVerification

    requirement = factory.SubFactory(RequirementFactory)
    organization = factory.SelfAttribute("requirement.organization")
    name = "Weekly review of 20 sampled answers"
