"""The merge rules as pure functions: each conflict kind, and what is not a conflict."""

from __future__ import annotations

import itertools
import random

from events import merge

TERMS = merge.VoucherTerms("VOUCHERAAAAAAAAA", "PPTEXT", max_uses=1, valid_from=1000, valid_until=2000, trusted=True)


def op(op_id: str, kind: str, ms: int, device: str = "dvA", **data) -> merge.LoggedOp:
    defaults = {"token": "PPTEXT", "outcome": "accepted"} if kind in ("redeem", "issue") else {}
    return merge.LoggedOp(op_id, device, kind, TERMS.token_id, ms, 0, ms, {**defaults, **data})


def kinds(findings: list[merge.Finding]) -> dict[str, dict[str, str]]:
    return {f.kind: f.roles for f in findings}


def test_one_use_is_no_conflict() -> None:
    assert merge.voucher_findings(TERMS, [op("r1", "redeem", 1_500_000)], tolerance_s=60) == []


def test_two_uses_of_a_single_use_voucher_order_by_hlc_then_device() -> None:
    ops = [op("r2", "redeem", 1_500_000, "dvB"), op("r1", "redeem", 1_500_000, "dvA")]
    assert kinds(merge.voucher_findings(TERMS, ops, tolerance_s=60)) == {
        "over_redemption": {"r1": "within", "r2": "over"}
    }


def test_refused_scans_and_undone_uses_do_not_count() -> None:
    ops = [
        op("r1", "redeem", 1_500_000),
        op("r2", "redeem", 1_600_000, outcome="refused"),
        op("r3", "redeem", 1_700_000, "dvB"),
        op("v1", "void", 1_800_000, "dvB", reason="mistake", redeem_op_id="r3"),
    ]
    assert merge.voucher_findings(TERMS, ops, tolerance_s=60) == []


def test_a_use_after_the_voucher_was_voided() -> None:
    ops = [op("v1", "void", 1_400_000, reason="lost phone"), op("r1", "redeem", 1_500_000, "dvB")]
    assert kinds(merge.voucher_findings(TERMS, ops, tolerance_s=60)) == {
        "redeemed_after_void": {"v1": "void", "r1": "after_void"}
    }


def test_a_use_before_the_void_is_fine() -> None:
    ops = [op("r1", "redeem", 1_300_000), op("v1", "void", 1_400_000, reason="refund")]
    assert merge.voucher_findings(TERMS, ops, tolerance_s=60) == []


def test_outside_the_window_with_tolerance() -> None:
    ops = [op("early", "redeem", 939_000), op("edge", "redeem", 941_000), op("late", "redeem", 2_060_000)]
    terms = merge.VoucherTerms(TERMS.token_id, "PPTEXT", 0, 1000, 2000, True)
    assert kinds(merge.voucher_findings(terms, ops, tolerance_s=60)) == {
        "out_of_window": {"early": "outside_window", "late": "outside_window"}
    }


def test_an_untrusted_issuer_lists_every_claim() -> None:
    terms = merge.VoucherTerms(TERMS.token_id, "PPTEXT", 1, 1000, 2000, False, "revoked_key")
    ops = [op("i1", "issue", 1_100_000), op("r1", "redeem", 1_500_000, "dvB")]
    [finding] = merge.voucher_findings(terms, ops, tolerance_s=60)
    assert (finding.kind, finding.roles, finding.detail) == (
        "untrusted_issuer",
        {"i1": "untrusted", "r1": "untrusted"},
        {"why": "revoked_key"},
    )


def test_a_different_token_under_a_known_id_is_untrusted_and_not_a_use() -> None:
    ops = [op("r1", "redeem", 1_500_000), op("r2", "redeem", 1_600_000, "dvB", token="PPFORGED")]
    assert kinds(merge.voucher_findings(TERMS, ops, tolerance_s=60)) == {"untrusted_issuer": {"r2": "untrusted"}}


def test_findings_do_not_depend_on_the_order_ops_are_given() -> None:
    ops = [op(f"r{i}", "redeem", 1_500_000 + i * 1000, f"dv{i % 3}") for i in range(5)]
    ops.append(op("v", "void", 1_502_500, reason="x"))
    expected = merge.voucher_findings(TERMS, ops, tolerance_s=60)
    for permutation in itertools.islice(itertools.permutations(ops), 0, 720, 37):
        assert merge.voucher_findings(TERMS, list(permutation), tolerance_s=60) == expected
    random.Random(1).shuffle(ops)
    assert merge.voucher_findings(TERMS, ops, tolerance_s=60) == expected


def test_duplicates_need_two_attendees() -> None:
    same = merge.LoggedOp("o1", "dvA", "register", "at1", 1, 0, 1, {})
    other = merge.LoggedOp("o2", "dvB", "register", "at2", 2, 0, 2, {})
    assert merge.duplicate_findings("phone:+8613800001111", [same]) == []
    [finding] = merge.duplicate_findings("phone:+8613800001111", [same, other])
    assert finding.roles == {"o1": "register", "o2": "register"} and finding.detail == {"attendees": ["at1", "at2"]}


def test_keys_normalise_phone_and_email() -> None:
    assert merge.phone_key("+86 138-0000-1111") == "+8613800001111"
    assert merge.phone_key("138 0000 1111") == "13800001111"
    assert merge.phone_key("12") == ""
    assert merge.email_key("  Li.Wei@Example.COM ") == "li.wei@example.com"
    assert merge.email_key("not an email") == ""
    assert merge.dedup_keys({"phone": "+86 138 0000 1111", "email": "a@b.cn"}) == [
        "phone:+8613800001111",
        "email:a@b.cn",
    ]
