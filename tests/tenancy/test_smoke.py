def test_two_organizations_exist(org_a, org_b):
    assert {org_a.slug, org_b.slug} == {"org-a", "org-b"}
