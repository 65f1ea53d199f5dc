"""`genai-po release gate` against the real API over HTTP: 0 when ready, 100 when blocked
or short of evidence (with each blocker and where to resolve it), 1 on error."""

import genai_po_cli as cli
import pytest

from tests.factories.governance import make_plan_run, make_release, make_use_case_with_plan
from tests.governance.test_releases import ready_release, sign

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def gate(live_server, monkeypatch, capsys, org_a, token_factory):
    _, raw = token_factory(org_a, scopes=["read"])
    monkeypatch.setenv(cli.ENV_URL, live_server.url)
    monkeypatch.setenv(cli.ENV_TOKEN, raw)

    def run(*argv):
        code = cli.main(["release", "gate", *argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_a_blocked_release_exits_100_with_its_blockers(gate, org_a, po):
    uc, _, plan = make_use_case_with_plan(org_a)
    make_plan_run(org_a, plan, [False] * 3)
    release = make_release(org_a, uc, owner=po)
    code, out, _ = gate(str(release.number))
    assert code == 100
    assert out.startswith(f"{release.key}: blocked")
    assert "did not meet its thresholds" in out and "resolve: http" in out


def test_a_ready_release_exits_0(gate, org_a, po, reviewer):
    release = ready_release(org_a, po)
    sign(reviewer, release)
    code, out, _ = gate(str(release.number))
    assert (code, out.splitlines()[0]) == (0, f"{release.key}: ready (1 of 1 sign-offs)")


def test_insufficient_evidence_exits_100(gate, org_a, po, reviewer):
    from evals.models import EvalRun
    from governance.models import SignOff

    release = ready_release(org_a, po)
    sign(reviewer, release)
    EvalRun.objects.for_org(org_a).filter(plan__use_case=release.use_case).delete()
    # The sign-off went stale with the evidence, but the missing run is what CI is told.
    assert SignOff.objects.for_org(org_a).count() == 1
    code, out, _ = gate(str(release.number))
    assert code == 100 and out.startswith(f"{release.key}: insufficient evidence")


def test_an_unknown_release_exits_1(gate):
    code, _, err = gate("987654")
    assert code == 1 and "release 987654 not found" in err
