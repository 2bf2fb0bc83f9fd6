"""Which limits a request meets, and the errors and headers that say so.

Rate-limit buckets per plan (org) and per key, the org's and key's monthly budgets, the
`x-ratelimit-*` response headers, and 429 messages that name the limit and what to do.
"""

from __future__ import annotations

from modelmint.billing import ledger
from modelmint.billing.ratelimit import Bucket, Decision, format_reset
from modelmint.core.errors import RateLimitError
from modelmint.tenancy.directory import Account


class QuotaExceededError(RateLimitError):
    type = "insufficient_quota"
    code = "insufficient_quota"


def budgets(account: Account) -> list[ledger.Limit]:
    """The monthly spend and token limits on the org and the key, if any."""
    limits = []
    org, key = account.org, account.key
    if org.spend_limit_nanos is not None or org.token_limit is not None:
        limits.append(ledger.Limit(org.id, "organization", org.spend_limit_nanos, org.token_limit))
    if key is not None and (key.spend_limit_nanos is not None or key.token_limit is not None):
        limits.append(ledger.Limit(key.id, "API key", key.spend_limit_nanos, key.token_limit))
    return limits


def buckets(account: Account, tokens: int) -> list[Bucket]:
    """The per-minute buckets a request of `tokens` draws from."""
    found = []
    if account.plan is not None:
        org = account.org.id
        found += [
            Bucket("rpm", org, account.plan.rpm, 1),
            Bucket("tpm", org, account.plan.tpm, tokens),
        ]
    key = account.key
    if key is not None and key.rpm:
        found.append(Bucket("rpm", key.id, key.rpm, 1))
    if key is not None and key.tpm:
        found.append(Bucket("tpm", key.id, key.tpm, tokens))
    return found


def headers(decision: Decision) -> dict[str, str]:
    """OpenAI's rate-limit headers, from the tightest bucket of each kind."""
    found: dict[str, str] = {}
    for kind, name in (("rpm", "requests"), ("tpm", "tokens")):
        states = [s for s in decision.states if s.bucket.kind == kind]
        if not states:
            continue
        tightest = min(states, key=lambda s: s.remaining)
        found[f"x-ratelimit-limit-{name}"] = str(tightest.bucket.limit)
        found[f"x-ratelimit-remaining-{name}"] = str(tightest.remaining)
        found[f"x-ratelimit-reset-{name}"] = format_reset(tightest.reset_seconds)
    return found


def rate_limited(decision: Decision, headers: dict[str, str]) -> RateLimitError:
    blocked = decision.blocked
    assert blocked is not None
    what = "tokens" if blocked.counts_tokens else "requests"
    owner = blocked.owner_kind
    retry = max(1, int(decision.retry_after + 0.999))
    if what == "tokens" and blocked.amount > blocked.limit:
        message = (
            f"This request needs up to {blocked.amount} tokens but the {owner}'s limit is "
            f"{blocked.limit} tokens per minute. Lower max_tokens or shorten the prompt."
        )
    else:
        message = (
            f"Rate limit reached for {what} per minute on your {owner}: limit "
            f"{blocked.limit}. Retry in {retry}s."
        )
    return RateLimitError(message, headers={"Retry-After": str(retry), **headers})


def too_many_running(cap: int | None, headers: dict[str, str]) -> RateLimitError:
    return RateLimitError(
        f"Your organization already has {cap} requests running, the "
        "most its plan allows at once. Wait for one to finish, or upgrade the plan.",
        headers={"Retry-After": "1", **headers},
    )


def over_budget(worst_nanos: int, tokens: int, limit: ledger.Limit, headers: dict[str, str]):
    return QuotaExceededError(
        f"You exceeded your current quota: this request could cost up to "
        f"{worst_nanos / 1e9:.6f} USD ({tokens} tokens), which would pass "
        f"{limit.describe()}. Lower max_tokens, or raise the limit.",
        headers=headers,
    )
