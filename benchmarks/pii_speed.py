"""PII detection speed: a ~1 KB mixed Chinese/English prompt with several entities (and,
with --prompt, the same size of plain ASCII English, or the mixed prompt with some values
disguised: full-width digits, a zero-width space, letters glued on).

Times, per call, after a warm-up:

- `modelmint.privacy.detect.detect(text)`;
- `modelmint.privacy.placeholders.Placeholders().redact(text)`, where that exists (a new
  Placeholders per call, as a request would have);
- the peers, measured in the same run: a plain `re` scan for e-mail addresses only (the
  cheapest possible baseline, every ratio is against it), and, where `presidio-analyzer`
  can be had, Presidio's AnalyzerEngine with pattern recognizers only (no NER model: the
  no-op NLP engine, or a blank spaCy tokenizer on older Presidio) for e-mail, phone
  (regions incl. CN), credit card, IP, US/UK passport, plus a pattern for CN resident IDs.
  Presidio is never installed into modelmint's venv: it runs in this process if it is
  importable, else in a worker process of --presidio-python (by default
  .peers/presidio/bin/python, made with `python3.11 -m venv .peers/presidio &&
  .peers/presidio/bin/pip install presidio-analyzer`), else it is skipped with a note.

Each of --runs runs times --iterations calls of every candidate in turn; the table shows
the medians over the runs of each run's p50 and p99, in microseconds.

    python benchmarks/pii_speed.py --runs 5 --iterations 2000
    python benchmarks/pii_speed.py --prompt all --no-presidio
    python benchmarks/pii_speed.py --prompt all --previous /tmp/before/src
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_PRESIDIO = HERE.parent / ".peers" / "presidio" / "bin" / "python"

# all values fake: e-mails, a mobile, a landline, a UK number, a resident ID (checksum
# valid), a Luhn-valid card, IPv4 and IPv6, a passport, names
PROMPT = (
    "请帮我整理下面这封客户投诉，并用英文回复客户。\n"
    "客户信息：姓名：王小明；身份证号：110105199003072813；手机：138-1234-5678；"
    "邮箱：wang.xiaoming+orders@example.cn。\n"
    "投诉内容：我于2024年3月15日在贵店下单（订单号2024031512345678），用尾号0306的银行卡"
    "5183 9402 8783 0306支付了¥1,299.00，但是一直没有发货。客服电话021-8765-4321一直打不通，"
    "我已经给support@mail.example.com发过三次邮件了。\n"
    "Also, my colleague Emily Carter (emily.carter@example.co.uk, +44 20 7946 0958) was "
    "charged twice on the same day. Her passport number is E12345678 and she is travelling "
    "to Tokyo next week, so please sort this out before then. Our office network is "
    "203.0.113.42 and the VPN gateway is 2001:db8:85a3::8a2e:370:7334 in case you need "
    "to check the logs. We are running build 10.0.19045.3086 with Python 3.11.7, if that "
    "matters. You can reach me at my desk, extension free, or on WeChat any time after "
    "six. Thanks, David Kim\n"
)
# the same kinds of values in English only: the text the detectors need not fold
ASCII_PROMPT = (
    "Please summarise the customer complaint below and draft a reply in plain English.\n"
    "Customer: Mr. Daniel Brooks; phone +1 415 555 0142; mobile 138-1234-5678; e-mail "
    "daniel.brooks+orders@example.com.\n"
    "Complaint: on March 15 I placed order 2024031512345678 and paid $1,299.00 with the "
    "card 5183 9402 8783 0306 ending in 0306, but nothing has shipped. The support line "
    "021-8765-4321 never answers and I have written to support@mail.example.com three "
    "times already.\n"
    "Also, my colleague Emily Carter (emily.carter@example.co.uk, +44 20 7946 0958) was "
    "charged twice on the same day. Her passport number is E12345678 and she is travelling "
    "to Tokyo next week, so please sort this out before then. Our office network is "
    "203.0.113.42 and the VPN gateway is 2001:db8:85a3::8a2e:370:7334 in case you need "
    "to check the logs. We are running build 10.0.19045.3086 with Python 3.11.7, if that "
    "matters. You can reach me at my desk, extension free, or on WeChat any time after "
    "six, or leave a note with the front desk of the building. Thanks, David Kim\n"
)
# the mixed prompt with some values disguised, as a pasted or IME-typed text has them
DISGUISED_PROMPT = (
    PROMPT.replace("138-1234-5678", "ｔｅｌ１３８－１２３４－５６７８")
    .replace("5183 9402 8783 0306", "5183\u200b9402\u200b8783\u200b0306")
    .replace("110105199003072813", "ID１１０１０５１９９００３０７２８１３")
    .replace("support@mail", "support＠mail")
)
PROMPTS = {"mixed": PROMPT, "ascii": ASCII_PROMPT, "disguised": DISGUISED_PROMPT}
EMAIL_ONLY = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
BASELINE = "re e-mail scan (baseline)"
PRESIDIO = "Presidio AnalyzerEngine, patterns only"


def measure(fn: Callable[[str], object], text: str, iterations: int, warmup: int) -> list[int]:
    for _ in range(warmup):
        fn(text)
    samples = []
    clock = time.perf_counter_ns
    for _ in range(iterations):
        start = clock()
        fn(text)
        samples.append(clock() - start)
    return samples


def percentiles(samples: list[int]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return p50 / 1000, p99 / 1000


# --- Presidio (in this process or in a worker process of its own venv) -----------------


def presidio_analyzer() -> tuple[Callable[[str], list], str]:
    """Presidio's AnalyzerEngine with pattern recognizers only; raises ImportError."""
    import tldextract
    from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UkPassportRecognizer,
        UsPassportRecognizer,
    )

    # the e-mail recognizer checks TLDs with tldextract: its bundled list, no download
    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())
    try:
        from presidio_analyzer.nlp_engine import NoOpNlpEngine

        nlp_engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
        nlp_name = "no-op NLP engine"
    except ImportError:  # older Presidio: a blank spaCy pipeline, a tokenizer only
        import spacy
        from presidio_analyzer.nlp_engine import SpacyNlpEngine

        nlp_engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank"}])
        nlp_engine.nlp = {"en": spacy.blank("en")}
        nlp_name = "blank spaCy tokenizer"
    cn_id = PatternRecognizer(
        supported_entity="CN_ID",
        patterns=[Pattern("cn_id", r"(?<![0-9A-Za-z])[1-8]\d{16}[\dX](?![0-9A-Za-z])", 0.5)],
    )
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in (
        EmailRecognizer(),
        PhoneRecognizer(supported_regions=("CN", "US", "GB", "DE", "FR", "JP")),
        CreditCardRecognizer(),
        IpRecognizer(),
        UsPassportRecognizer(),
        UkPassportRecognizer(),
        cn_id,
    ):
        registry.add_recognizer(recognizer)
    engine = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])
    entities = sorted({e for r in registry.recognizers for e in r.supported_entities})

    def analyze(text: str) -> list:
        return engine.analyze(text=text, language="en", entities=entities)

    import presidio_analyzer

    version = getattr(presidio_analyzer, "__version__", "")
    if not version:
        from importlib.metadata import version as dist_version

        version = dist_version("presidio-analyzer")
    return analyze, f"presidio-analyzer {version}, {nlp_name}"


def presidio_worker(iterations: int, warmup: int, prompt: str) -> int:
    analyze, note = presidio_analyzer()
    samples = measure(analyze, prompt, iterations, warmup)
    found = len(analyze(prompt))
    print(json.dumps({"percentiles": percentiles(samples), "found": found, "note": note}))
    return 0


class PresidioPeer:
    """Presidio in this process if importable, else in a worker of another interpreter."""

    def __init__(self, python: Path | None):
        self.analyze = None
        self.python = None
        self.note = ""
        try:
            self.analyze, self.note = presidio_analyzer()
            return
        except ImportError:
            pass
        if python and python.exists():
            self.python = python
            self.note = f"in a worker process of {python}"
        else:
            self.note = (
                f"skipped: presidio-analyzer is not importable here and {python} does not "
                "exist (never install it into modelmint's venv)"
            )

    @property
    def available(self) -> bool:
        return self.analyze is not None or self.python is not None

    def run(
        self, iterations: int, warmup: int, name: str = "mixed"
    ) -> tuple[tuple[float, float], int]:
        prompt = PROMPTS[name]
        if self.analyze is not None:
            return percentiles(measure(self.analyze, prompt, iterations, warmup)), len(
                self.analyze(prompt)
            )
        out = subprocess.run(
            [str(self.python), __file__, "--worker", "presidio", "--prompt", name]
            + ["--iterations", str(iterations), "--warmup", str(warmup)],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            raise RuntimeError(f"the Presidio worker failed:\n{out.stderr[-2000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        self.note = f"{result['note']}, in a worker process of {self.python}"
        return tuple(result["percentiles"]), result["found"]


# --- modelmint ---------------------------------------------------------------------------


def modelmint_candidates() -> tuple[dict[str, Callable[[str], object]], list[str]]:
    from modelmint.privacy.detect import detect

    candidates: dict[str, Callable[[str], object]] = {"modelmint detect()": detect}
    notes = []
    try:
        from modelmint.privacy import placeholders
    except ImportError:
        placeholders = None
    if placeholders is not None and hasattr(placeholders, "Placeholders"):
        make = placeholders.Placeholders
        if hasattr(make(), "redact"):
            candidates["modelmint Placeholders().redact()"] = lambda text: make().redact(text)
    if len(candidates) == 1:
        notes.append("modelmint.privacy.placeholders.Placeholders().redact is not there yet")
    return candidates, notes


def previous_detect(src: Path) -> Callable[[str], object]:
    """`detect` of an earlier modelmint source tree (its privacy/detect.py, loaded under
    another name; it imports the rest of modelmint from this one)."""
    path = src / "modelmint" / "privacy" / "detect.py"
    spec = importlib.util.spec_from_file_location("previous_detect", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"no detect.py under {src}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.detect


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="runs; medians are shown (5)")
    parser.add_argument("--iterations", type=int, default=2000, help="timed calls a run (2000)")
    parser.add_argument("--warmup", type=int, default=200, help="untimed calls first (200)")
    parser.add_argument(
        "--prompt", choices=[*PROMPTS, "all"], default="mixed", help="which text (mixed)"
    )
    parser.add_argument(
        "--presidio-python",
        type=Path,
        default=DEFAULT_PRESIDIO,
        help="an interpreter with presidio-analyzer, if this one has none "
        f"(default {DEFAULT_PRESIDIO.relative_to(HERE.parent)})",
    )
    parser.add_argument("--no-presidio", action="store_true", help="leave Presidio out")
    parser.add_argument(
        "--previous",
        type=Path,
        help="also time detect() of an earlier source tree, e.g. the src/ folder of "
        "`git archive COMMIT src | tar -x -C /tmp/before`",
    )
    parser.add_argument("--worker", choices=["presidio"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "presidio":
        return presidio_worker(args.iterations, args.warmup, PROMPTS[args.prompt])

    candidates: dict[str, Callable[[str], object]] = {BASELINE: EMAIL_ONLY.findall}
    mine, notes = modelmint_candidates()
    if args.previous:
        mine[f"previous detect() ({args.previous})"] = previous_detect(args.previous)
    candidates.update(mine)
    presidio = None if args.no_presidio else PresidioPeer(args.presidio_python)
    if presidio is not None and not presidio.available:
        notes.append(f"Presidio {presidio.note}")
        presidio = None
    for name in PROMPTS if args.prompt == "all" else [args.prompt]:
        bench_prompt(name, candidates, presidio, args)
    if presidio is not None:
        notes.append(f"Presidio: {presidio.note}")
    for note in notes:
        print(f"\nnote: {note}")
    return 0


def bench_prompt(
    prompt_name: str,
    candidates: dict[str, Callable[[str], object]],
    presidio: PresidioPeer | None,
    args: argparse.Namespace,
) -> None:
    prompt = PROMPTS[prompt_name]
    found: dict[str, int | None] = {}
    for name, fn in candidates.items():
        result = fn(prompt)
        found[name] = len(result) if isinstance(result, list) else None
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in candidates}
    if presidio is not None:
        results[PRESIDIO] = []
    for run in range(args.runs):
        for name, fn in candidates.items():
            results[name].append(percentiles(measure(fn, prompt, args.iterations, args.warmup)))
        if presidio is not None:
            timing, found[PRESIDIO] = presidio.run(args.iterations, args.warmup, prompt_name)
            results[PRESIDIO].append(timing)
        print(f"{prompt_name}: run {run + 1}/{args.runs} done", file=sys.stderr)
    print(
        f"\n{prompt_name} prompt: {len(prompt)} characters, {len(prompt.encode())} bytes "
        f"UTF-8; {args.runs} runs of {args.iterations} calls after {args.warmup} warm-up "
        f"calls; Python {sys.version.split()[0]}\n"
    )
    print("| candidate | p50 µs | p99 µs | p50 × baseline | entities found |")
    print("| --- | ---: | ---: | ---: | ---: |")
    base_p50 = statistics.median(p50 for p50, _ in results[BASELINE])
    for name, timings in results.items():
        p50 = statistics.median(t[0] for t in timings)
        p99 = statistics.median(t[1] for t in timings)
        count = found.get(name)
        print(
            f"| {name} | {p50:.1f} | {p99:.1f} | {p50 / base_p50:.1f} |"
            f" {'' if count is None else count} |"
        )


if __name__ == "__main__":
    sys.exit(main())
